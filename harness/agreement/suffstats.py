"""Per-item sufficient statistics: one code path for point estimates and the bootstrap.

Every agreement coefficient here is a function of per-item statistics summed over items. An
:class:`ItemStat` holds those statistics for each distinct item *pattern* (items whose statistics
are identical share a row, with a multiplicity) and a batch function ``g(W, S)`` that turns a
matrix ``W`` of item weights (one row per resample, one column per pattern) into one coefficient
value per row. The point estimate is ``g`` at the observed multiplicities; a bootstrap resample
over items is ``g`` at multinomial pattern counts, so thousands of resamples cost a few matrix
products instead of thousands of recomputations.

Notation: ``N`` is the items x categories count matrix (``N[u, c]`` raters put item ``u`` in
category ``c``), ``m`` its row sums; an item is *pairable* when ``m >= 2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from harness.errors import InputError

Batch = Callable[[np.ndarray, np.ndarray], np.ndarray]

#: Most distinct values a categorical computation accepts (the coincidence matrix is q x q).
MAX_CATEGORIES = 1000
#: Above this many categories, interval alpha is computed from per-item moments instead of counts.
_INTERVAL_BY_COUNTS = 64
#: Up to this many categories, ordinal alpha carries the per-pattern coincidence matrices.
_ORDINAL_DENSE = 16


class ItemStat(NamedTuple):
    """A coefficient as a batch function of per-pattern statistics.

    Attributes:
        S: ``(P, p)`` statistics of ``P`` distinct item patterns.
        mult: ``(P,)`` number of items sharing each pattern (sums to the number of items).
        g: ``g(W, S) -> (B,)`` the coefficient for each row of item-pattern weights ``W`` ``(B, P)``.
        item_pattern: ``(n_items,)`` the pattern row of each item, in the data's item order.
        reason: why the coefficient is undefined for these data, when it is (else None).
    """

    S: np.ndarray
    mult: np.ndarray
    g: Batch
    item_pattern: np.ndarray
    reason: str | None = None

    @property
    def n_items(self) -> int:
        """Number of items (the bootstrap resamples this many)."""
        return int(self.mult.sum())

    def value(self) -> float:
        """The point estimate (NaN when undefined)."""
        return float(self.g(self.mult[None, :].astype(float), self.S)[0])

    def batch(self, weights: np.ndarray) -> np.ndarray:
        """Coefficient values for a ``(B, P)`` matrix of pattern weights."""
        return self.g(np.asarray(weights, dtype=float), self.S)


# ---------------------------------------------------------------------------- coding and counts
class Coded(NamedTuple):
    """Ratings as category codes: ``codes[u, i]`` indexes ``categories``; -1 is missing."""

    codes: np.ndarray
    categories: np.ndarray


def code_categories(x: np.ndarray, labels: np.ndarray | None = None) -> Coded:
    """Map a float matrix with NaN for missing onto codes of its sorted distinct values.

    Args:
        x: ``(n_items, n_raters)`` float array.
        labels: the category set (sorted, distinct); every value must be one of them.
    """
    mask = ~np.isnan(x)
    if labels is None and mask.any():
        fast = _code_small_integers(x, mask)
        if fast is not None:
            return fast
    vals = x[mask]
    if labels is not None:
        cats = labels
        idx = np.searchsorted(cats, vals)
        bad = (idx >= len(cats)) | (cats[np.minimum(idx, len(cats) - 1)] != vals)
        if bad.any():
            off = vals[bad][0]
            raise InputError(f"value {off:g} is not one of the labels {[float(c) for c in cats]}")
        codes_vals = idx
    else:
        cats, codes_vals = np.unique(vals, return_inverse=True)
    codes = np.full(x.shape, -1, dtype=np.int64)
    codes[mask] = codes_vals
    return Coded(codes, np.asarray(cats, dtype=float))


def _code_small_integers(x: np.ndarray, mask: np.ndarray) -> Coded | None:
    """Codes without sorting when every value is an integer in a small range (the common rating scale)."""
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    span = hi - lo
    if span >= 65536 or not np.all((x == np.floor(x)) | ~mask):
        return None
    width = int(span) + 1
    shifted = np.where(mask, x - lo, width).astype(np.int64)  # missing -> sentinel bin ``width``
    present = np.bincount(shifted.reshape(-1), minlength=width + 1)[:width] > 0
    lut = np.append(np.cumsum(present) - 1, -1)
    return Coded(lut[shifted], lo + np.flatnonzero(present).astype(float))


class Counts(NamedTuple):
    """Items x categories counts (None when there are more categories than allowed) and the categories."""

    counts: np.ndarray | None
    categories: np.ndarray


def category_counts(x: np.ndarray, max_categories: int = MAX_CATEGORIES) -> Counts:
    """Items x categories counts of a float matrix (NaN missing) and its sorted distinct values.

    Small-integer scales (the usual rating scale) are counted in one pass without sorting; with
    more than ``max_categories`` distinct values the counts are not built (``counts`` is None).
    """
    mask = ~np.isnan(x)
    n = x.shape[0]
    if mask.any():
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        if hi - lo < max_categories and np.all((x == np.floor(x)) | ~mask):
            width = int(hi - lo) + 1
            shifted = np.where(mask, x - lo, width).astype(np.int64)  # missing -> sentinel column
            flat = shifted + (width + 1) * np.arange(n)[:, None]
            counts = np.bincount(flat.reshape(-1), minlength=n * (width + 1)).reshape(n, width + 1)[:, :width]
            present = np.flatnonzero(counts.any(axis=0))
            return Counts(counts[:, present].astype(float), lo + present.astype(float))
    coded = code_categories(x)
    q = len(coded.categories)
    if q > max_categories:
        return Counts(None, coded.categories)
    return Counts(count_matrix(coded.codes, max(q, 1)), coded.categories)


def count_matrix(codes: np.ndarray, q: int) -> np.ndarray:
    """Items x categories counts from a codes matrix (-1 missing)."""
    n = codes.shape[0]
    flat = np.where(codes >= 0, codes, q) + (q + 1) * np.arange(n)[:, None]
    return np.bincount(flat.reshape(-1), minlength=n * (q + 1)).reshape(n, q + 1)[:, :q].astype(float)


class Patterns(NamedTuple):
    """Distinct rows of a per-item matrix, how many items share each, and each item's row."""

    rows: np.ndarray
    mult: np.ndarray
    inverse: np.ndarray


def compress_counts(counts: np.ndarray) -> Patterns:
    """Distinct rows of a count matrix (canonical order) and their multiplicities."""
    n, q = counts.shape
    if n == 0:
        return Patterns(counts.reshape(0, q), np.zeros(0), np.zeros(0, dtype=np.int64))
    base = int(counts.max()) + 1
    if q * np.log2(max(base, 2)) < 62:
        key = counts.astype(np.int64) @ (base ** np.arange(q, dtype=np.int64))
        span = base**q
        if span <= 8 * n + 65_536:  # np.unique by counting: the same sorted keys, counts and inverse, no sort
            tally = np.bincount(key, minlength=span)
            used = np.flatnonzero(tally)
            slot = np.cumsum(tally > 0) - 1
            where = np.empty(span, dtype=np.intp)
            where[key] = np.arange(n)  # a row of each key (rows with one key are equal)
            return Patterns(counts[where[used]], tally[used].astype(float), slot[key])
        _, first, inverse, mult = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
        return Patterns(counts[first], mult.astype(float), inverse.reshape(-1))
    return compress_rows(counts)


def compress_rows(S: np.ndarray) -> Patterns:
    """Distinct rows of a statistics matrix and their multiplicities."""
    if S.shape[0] == 0:
        return Patterns(S, np.zeros(0), np.zeros(0, dtype=np.int64))
    rows, inverse, mult = np.unique(S, axis=0, return_inverse=True, return_counts=True)
    return Patterns(rows, mult.astype(float), inverse.reshape(-1))


def _snap_zero(x: np.ndarray, scale: np.ndarray, rel: float = 1e-12) -> np.ndarray:
    """Zero a difference of large sums that is zero up to rounding (so 0/0 stays undefined, not +-1e40)."""
    return np.where(np.abs(x) <= rel * np.abs(scale), 0.0, x)


def _safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num / den
    return np.where(den == 0, np.nan, out)


# ---------------------------------------------------------------------------- percent, Fleiss, Gwet
def _pair_agreement(counts: np.ndarray, weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per item: share of ordered rater pairs that agree (weighted), and the pairable indicator."""
    m = counts.sum(axis=1)
    agree = counts if weights is None else counts @ weights.T
    pairs = (counts * (agree - 1)).sum(axis=1)
    p2 = m >= 2
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.where(p2, pairs / (m * (m - 1)), 0.0)
    return pa, p2.astype(float)


def _undefined_reason(counts: np.ndarray) -> str | None:
    m = counts.sum(axis=1)
    if not (m >= 2).any():
        return "no item has two or more ratings, so no pair of ratings can be compared"
    used = (counts[m >= 2].sum(axis=0) > 0).sum()
    if used < 2:
        return "every rating falls in one category: chance agreement is 1, so the coefficient is undefined (not 0)"
    return None


def percent_agreement_stat(counts: np.ndarray) -> ItemStat:
    """Mean share of agreeing rater pairs over pairable items."""
    rows, mult, inverse = compress_counts(counts)
    pa, p2 = _pair_agreement(rows)
    S = np.column_stack([pa, p2])

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        return _safe_ratio(T[:, 0], T[:, 1])

    reason = None if (counts.sum(axis=1) >= 2).any() else "no item has two or more ratings"
    return ItemStat(S, mult, g, inverse, reason)


def _proportions(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = rows.sum(axis=1)
    p1 = m >= 1
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(p1[:, None], rows / m[:, None], 0.0)
    return share, p1.astype(float)


def fleiss_stat(counts: np.ndarray) -> ItemStat:
    """Fleiss' kappa, generalised to any number of ratings per item (Gwet 2014, ch. 2).

    ``pa`` is averaged over items with two or more ratings; the category proportions ``pi``
    over items with at least one; ``pe = sum(pi**2)``. With the same number of raters on every
    item this is Fleiss (1971).
    """
    rows, mult, inverse = compress_counts(counts)
    q = counts.shape[1]
    pa, p2 = _pair_agreement(rows)
    share, p1 = _proportions(rows)
    S = np.column_stack([pa * p2, p2, share, p1])

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        p_o = _safe_ratio(T[:, 0], T[:, 1])
        pi = _safe_ratio(T[:, 2 : 2 + q], T[:, 2 + q : 3 + q])
        p_e = (pi**2).sum(axis=1)
        return _safe_ratio(p_o - p_e, 1 - p_e)

    return ItemStat(S, mult, g, inverse, _undefined_reason(counts))


def gwet_stat(counts: np.ndarray, weights: np.ndarray) -> ItemStat:
    """Gwet's AC1 (identity weights) or AC2 (other agreement weights), any number of raters.

    ``pe = sum(weights) / (q (q - 1)) * sum(pi (1 - pi))`` with ``q`` the number of categories.
    """
    rows, mult, inverse = compress_counts(counts)
    q = counts.shape[1]
    pa, p2 = _pair_agreement(rows, weights)
    share, p1 = _proportions(rows)
    S = np.column_stack([pa * p2, p2, share, p1])
    t_w = float(weights.sum())

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        p_o = _safe_ratio(T[:, 0], T[:, 1])
        if q < 2:
            return np.full(len(W), np.nan)
        pi = _safe_ratio(T[:, 2 : 2 + q], T[:, 2 + q : 3 + q])
        p_e = t_w * (pi * (1 - pi)).sum(axis=1) / (q * (q - 1))
        return _safe_ratio(p_o - p_e, 1 - p_e)

    # Gwet's chance agreement stays below 1 whenever the category set has two or more values.
    if not (counts.sum(axis=1) >= 2).any():
        reason: str | None = "no item has two or more ratings, so no pair of ratings can be compared"
    elif q < 2:
        reason = "the category set has a single value: Gwet's chance agreement is undefined"
    else:
        reason = None
    return ItemStat(S, mult, g, inverse, reason)


# ---------------------------------------------------------------------------- Krippendorff's alpha
def _alpha_reason(m: np.ndarray, n_values_used: int) -> str | None:
    if not (m >= 2).any():
        return "no item has two or more ratings: no pairable values"
    if n_values_used < 2:
        return "every pairable rating has the same value: expected disagreement is 0, so alpha is undefined (not 0)"
    return None


def _alpha_from_sums(n_dot: np.ndarray, do_num: np.ndarray, de_num: np.ndarray) -> np.ndarray:
    """alpha = 1 - D_o / D_e = 1 - (n.. - 1) sum(o delta) / sum(n_c n_k delta)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 1 - (n_dot - 1) * do_num / de_num
    return np.where((de_num <= 0) | (n_dot < 2), np.nan, out)


def metric_matrix(values: np.ndarray, level: str) -> np.ndarray:
    """Krippendorff's squared difference function ``delta(c, k)`` for a fixed metric."""
    c, k = values[:, None], values[None, :]
    if level == "nominal":
        return (c != k).astype(float)
    if level == "interval":
        return (c - k) ** 2
    if level == "ratio":
        s = c + k
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s == 0, 0.0, ((c - k) / s) ** 2)
    raise ValueError(f"no fixed metric for level {level!r}")


def alpha_stat(x: np.ndarray, level: str) -> ItemStat:
    """Krippendorff's alpha at ``level`` for a float ratings matrix with NaN for missing."""
    m_all = (~np.isnan(x)).sum(axis=1)
    pairable = m_all >= 2
    xp = np.where(pairable[:, None], x, np.nan)
    if level == "ratio" and np.nanmin(xp, initial=0.0) < 0:
        raise InputError("the ratio level needs non-negative values (a true zero); got a negative score")
    limit = _INTERVAL_BY_COUNTS if level == "interval" else MAX_CATEGORIES
    counts, categories = category_counts(xp, limit)
    q = len(categories)
    reason = _alpha_reason(m_all, q)
    if counts is None and level == "interval":
        return _alpha_interval_moments(xp, pairable, reason)
    if counts is None:
        raise InputError(
            f"{q} distinct values at the {level} level: at most {MAX_CATEGORIES} categories are supported "
            "(bin the scores, or use the interval level for continuous scores)"
        )
    rows, mult, inverse = compress_counts(counts)
    if level == "ordinal":
        return _alpha_ordinal(rows, mult, inverse, reason)
    values = categories
    if level == "interval" and q:
        values = values - np.average(values, weights=counts.sum(axis=0))
    delta = metric_matrix(values, level) if q else np.zeros((1, 1))
    m = rows.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(m >= 2, ((rows @ delta) * rows).sum(axis=1) / (m - 1), 0.0)
    S = np.column_stack([m, d, rows])

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        n_c = T[:, 2:]
        de_num = ((n_c @ delta) * n_c).sum(axis=1)
        return _alpha_from_sums(T[:, 0], T[:, 1], de_num)

    return ItemStat(S, mult, g, inverse, reason)


def _alpha_ordinal(rows: np.ndarray, mult: np.ndarray, inverse: np.ndarray, reason: str | None) -> ItemStat:
    """Ordinal alpha: the interval metric on mid-ranks ``r_c = sum_{g<c} n_g + n_c / 2``.

    The mid-ranks depend on the (resampled) category totals, so the batch function rebuilds
    them per resample and needs ``r' O r`` with ``O`` the resampled coincidence matrix. With few
    categories ``O`` itself is a linear statistic (per-pattern coincidences, ``q * q`` columns);
    with many it comes from per-pattern products ``N @ r`` without forming ``O``.
    """
    m = rows.sum(axis=1)
    q = rows.shape[1]
    with np.errstate(divide="ignore"):
        inv = np.where(m >= 2, 1.0 / np.maximum(m - 1, 1), 0.0)
    small = q <= _ORDINAL_DENSE
    if small:
        coincidences = (rows[:, :, None] * rows[:, None, :] - rows[:, :, None] * np.eye(q)) * inv[:, None, None]
        S = np.column_stack([m, inv, rows, coincidences.reshape(len(rows), q * q)])
    else:
        S = np.column_stack([m, inv, rows])

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        m, inv, N = S[:, 0], S[:, 1], S[:, 2 : 2 + q]
        n_c = W @ N
        n_dot = W @ m
        r = np.cumsum(n_c, axis=1) - n_c / 2
        with np.errstate(divide="ignore", invalid="ignore"):
            r = r - ((n_c * r).sum(axis=1) / n_dot)[:, None]  # centre: smaller terms, same differences
        r = np.nan_to_num(r)
        if small:
            o = (W @ S[:, 2 + q :]).reshape(-1, q, q)
            r_o_r = np.einsum("bi,bij,bj->b", r, o, r)
        else:
            nr = N @ r.T  # (P, B)
            nr2 = N @ (r**2).T
            r_o_r = ((nr**2 - nr2) * inv[:, None] * W.T).sum(axis=0)
        s2 = (n_c * r**2).sum(axis=1)
        s1 = (n_c * r).sum(axis=1)
        do_num = _snap_zero(2 * s2 - 2 * r_o_r, 2 * s2)
        de_num = _snap_zero(2 * (n_dot * s2 - s1**2), 2 * n_dot * s2)
        return _alpha_from_sums(n_dot, do_num, de_num)

    return ItemStat(S, mult, g, inverse, reason)


def _alpha_interval_moments(xp: np.ndarray, pairable: np.ndarray, reason: str | None) -> ItemStat:
    """Interval alpha from per-item moments, for scores with many distinct values."""
    centre = float(np.nanmean(xp)) if pairable.any() else 0.0
    xc = xp - centre
    m = (~np.isnan(xc)).sum(axis=1).astype(float)
    s1 = np.nansum(xc, axis=1)
    s2 = np.nansum(xc**2, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_u = np.where(m > 0, s1 / np.maximum(m, 1), 0.0)
        ss_u = np.nansum((xc - mean_u[:, None]) ** 2, axis=1)
        d = np.where(m >= 2, 2 * m * ss_u / (m - 1), 0.0)
    S = np.column_stack([m, d, s1, s2])
    rows, mult, inverse = compress_rows(S)

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        n_dot, do_num, t1, t2 = T[:, 0], T[:, 1], T[:, 2], T[:, 3]
        return _alpha_from_sums(n_dot, do_num, _snap_zero(2 * (n_dot * t2 - t1**2), 2 * n_dot * t2))

    return ItemStat(rows, mult, g, inverse, reason)


# ---------------------------------------------------------------------------- Cohen's kappa
def kappa_weights(q: int, weights: str | None) -> np.ndarray:
    """Agreement weights on category positions: identity, linear or quadratic (Cicchetti-Allison, Fleiss-Cohen)."""
    i = np.arange(q)
    if weights is None or q < 2:
        return np.eye(q)
    dist = np.abs(i[:, None] - i[None, :]) / (q - 1)
    return 1 - dist if weights == "linear" else 1 - dist**2


def cohen_stat(ca: np.ndarray, cb: np.ndarray, q: int, agree: np.ndarray) -> ItemStat:
    """Cohen's kappa from two code vectors (-1 missing) with agreement weights ``agree``."""
    both = (ca >= 0) & (cb >= 0)
    cell = np.where(both, ca * q + cb, q * q)
    counts = np.bincount(cell, minlength=q * q + 1).astype(float)
    present = np.flatnonzero(counts)
    S = np.zeros((len(present), q * q))
    for row, c in enumerate(present):
        if c < q * q:
            S[row, c] = 1.0
    mult = counts[present]
    lut = np.full(q * q + 1, -1, dtype=np.int64)
    lut[present] = np.arange(len(present))
    inverse = lut[cell]
    flat_w = agree.reshape(-1)

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        n = T.sum(axis=1)
        t = T.reshape(-1, q, q)
        with np.errstate(divide="ignore", invalid="ignore"):
            p_o = (T * flat_w).sum(axis=1) / n
            row, col = t.sum(axis=2) / n[:, None], t.sum(axis=1) / n[:, None]
            p_e = np.einsum("bi,ij,bj->b", row, agree, col)
        return np.where(n > 0, _safe_ratio(p_o - p_e, 1 - p_e), np.nan)

    if not both.any():
        reason = "no item was rated by both raters"
    elif len(np.union1d(ca[both], cb[both])) < 2:
        reason = "both raters used one and the same category: chance agreement is 1, so kappa is undefined (not 0)"
    else:
        reason = None
    return ItemStat(S, mult, g, inverse, reason)
