"""Leave-one-rater-out statistics for every rater at once, in time linear in the number of ratings.

Recomputing the consensus of the other raters, or alpha without a rater, over the whole
``(n_items, n_raters)`` matrix for each rater costs ``n_items x n_raters`` per rater, quadratic in
the raters: crowd-sourced data with thousands of raters never finishes. Here both come from the
per-item category counts: removing rater ``j`` changes only the items ``j`` rated, by one count each.

- :func:`loo_consensus_cells`: for every rating, the other raters' consensus on its item (modal
  value for nominal data with the ties rule of :func:`harness.agreement.diagnostics.loo_consensus`,
  median for ordinal, mean for interval and ratio).
- :func:`alpha_without_each`: Krippendorff's alpha with each rater left out, from the coincidence
  matrix ``O`` minus the leaving rater's share: an item with counts ``n`` (``m`` values) adds
  ``(n n' - diag(n)) / (m - 1)`` to ``O`` when ``m >= 2``.

Both equal the direct computation (tests compare them on random data at every level).
"""

from __future__ import annotations

import numpy as np

from harness.agreement.suffstats import code_categories, compress_counts, count_matrix, metric_matrix

__all__ = ["MAX_CATEGORIES", "alpha_without_each", "loo_consensus_cells"]

MAX_CATEGORIES = 64  # beyond this (continuous scores) the direct computation is used
_BLOCK = 65_536


def _contrib(counts: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per row: the item's coincidences ``(n n' - diag(n)) / (m - 1)``, zero when ``m < 2``."""
    q = counts.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(m >= 2, 1.0 / np.maximum(m - 1, 1), 0.0)
    outer = counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(q)
    return outer * inv[:, None, None]


def loo_consensus_cells(data: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The other raters' consensus for every rating.

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN missing.
        level: level of measurement.

    Returns:
        ``(items, raters, consensus)``: the rated cells (row-major order) and the consensus of the
        other raters on that item (NaN when nobody else rated it).
    """
    rated = ~np.isnan(data)
    ii, jj = np.nonzero(rated)
    values = data[ii, jj]
    m = rated.sum(axis=1)
    others = m[ii] - 1
    out = np.full(len(ii), np.nan)
    has = others >= 1
    if level == "nominal":
        coded = code_categories(data)
        q = len(coded.categories)
        counts = count_matrix(coded.codes, q)
        overall = counts.sum(axis=0)
        preference = np.empty(q)
        preference[np.lexsort((np.arange(q), -overall))] = np.arange(q)[::-1]
        codes = coded.codes[ii, jj]
        # Keys count * q + preference are distinct within an item, so removing one rating (its
        # category's count down by one) leaves the item's top category on top unless the rating
        # was in it; then the top one, one count down, competes with the runner-up.
        key = counts * q + preference
        top = np.argmax(key, axis=1)
        rows = np.arange(len(key))
        top_key = key[rows, top]
        key[rows, top] = -np.inf
        second = np.argmax(key, axis=1) if q > 1 else top
        del key
        mine = codes == top[ii]
        down = top_key[ii] - q  # the top category with this rating removed
        pick = np.where(mine & (down < np.where(q > 1, counts[ii, second[ii]] * q + preference[second[ii]], -np.inf)),
                        second[ii], top[ii])  # fmt: skip
        out[:] = np.where(has, coded.categories[pick], np.nan)
    elif level == "ordinal":
        s = np.sort(data, axis=1)  # NaN last
        row = s[ii]
        pos = (row < values[:, None]).sum(axis=1)  # first index of the value in its sorted row
        size = others
        a, b = (size - 1) // 2, size // 2

        def after_removal(k: np.ndarray) -> np.ndarray:
            idx = np.where(k < pos, k, k + 1)
            return row[np.arange(len(row)), np.clip(idx, 0, row.shape[1] - 1)]

        med = (after_removal(a) + after_removal(b)) / 2
        out[has] = med[has]
    else:
        total = np.nansum(data, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[has] = ((total[ii] - values) / others)[has]
    return ii, jj, out


def alpha_without_each(data: np.ndarray, level: str) -> np.ndarray | None:
    """Krippendorff's alpha with each rater left out, in rater order (NaN where undefined).

    Returns None when the scores take more than :data:`MAX_CATEGORIES` distinct values (the
    caller then computes alpha directly per rater).
    """
    rated = ~np.isnan(data)
    n_raters = data.shape[1]
    coded = code_categories(data) if rated.any() else None
    if coded is None or len(coded.categories) > MAX_CATEGORIES:
        return None
    q = len(coded.categories)
    counts = count_matrix(coded.codes, q)
    patterns = compress_counts(counts)
    full = np.tensordot(patterns.mult, _contrib(patterns.rows, patterns.rows.sum(axis=1)), axes=1)
    per_rater = np.broadcast_to(full, (n_raters, q, q)).copy()
    ii, jj = np.nonzero(rated)
    # The change an item makes when one rating leaves depends only on the item's counts and the
    # leaving value: compute it once per distinct (counts pattern, value), weight it per rater.
    key = patterns.inverse[ii] * q + coded.codes[ii, jj]
    pairs = jj.astype(np.int64) * (len(patterns.rows) * q) + key
    span = n_raters * len(patterns.rows) * q
    if span <= 4 * len(pairs) + 1024:  # np.unique by counting: the same sorted values and counts, no sort
        tally = np.bincount(pairs, minlength=span)
        pair = np.flatnonzero(tally)
        times = tally[pair]
    else:
        pair, times = np.unique(pairs, return_counts=True)
    keys, rater_of = pair % (len(patterns.rows) * q), pair // (len(patterns.rows) * q)
    used, slot = np.unique(keys, return_inverse=True)
    before = patterns.rows[used // q]
    after = before.copy()
    after[np.arange(len(after)), used % q] -= 1
    m_before = before.sum(axis=1)
    delta = (_contrib(after, m_before - 1) - _contrib(before, m_before)).reshape(len(used), q * q)
    for col in range(q * q):
        weights = delta[slot, col] * times
        per_rater[:, col // q, col % q] += np.bincount(rater_of, weights=weights, minlength=n_raters)
    return np.array([_alpha_from_coincidences(o, coded.categories, level) for o in per_rater])


def _alpha_from_coincidences(o: np.ndarray, categories: np.ndarray, level: str) -> float:
    n_c = o.sum(axis=1)
    n_dot = n_c.sum()
    if level == "ordinal":
        r = np.cumsum(n_c) - n_c / 2
        delta = (r[:, None] - r[None, :]) ** 2
    else:
        values = categories - categories.mean() if level == "interval" else categories
        delta = metric_matrix(values, level)
    do_num = float((o * delta).sum())
    de_num = float(n_c @ delta @ n_c)
    if de_num <= 0 or n_dot < 2:
        return float("nan")
    return 1 - (n_dot - 1) * do_num / de_num
