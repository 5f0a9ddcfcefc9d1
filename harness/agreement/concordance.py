"""Kendall's coefficient of concordance W, corrected for ties, with its chi-square test.

Each rater's scores rank the items (mid-ranks for ties); W compares the spread of the items'
rank sums with the largest spread ``m`` raters could produce (Kendall & Babington Smith 1939):

    W = 12 S / (m^2 (n^3 - n) - m T),   S = sum_u (R_u - m (n + 1) / 2)^2,
    T = sum over raters and tie groups of (t^3 - t),

with ``n`` items, ``m`` raters and ``R_u`` the rank sum of item ``u``. ``chi2 = m (n - 1) W`` on
``n - 1`` degrees of freedom: the Friedman test with raters as blocks, as ``friedman.test`` in R
and ``scipy.stats.friedmanchisquare`` compute it.

Missing ratings: W is defined for complete rankings, so items not rated by every rater are left
out (listwise deletion, as ``irr::kendall`` and ``DescTools::KendallW(na.rm=TRUE)``); the number
of items used is reported.

The statistic is an :class:`~harness.agreement.suffstats.ItemStat` like the other coefficients:
a bootstrap resample that draws an item twice ranks both copies as tied, which the tie
correction accounts for.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from harness.agreement.coefficients import as_ratings
from harness.agreement.suffstats import ItemStat, compress_rows

__all__ = ["KendallW", "kendall_w", "kendall_w_stat"]

MISSING_RULE = "items not rated by every rater are left out (listwise, as irr::kendall and DescTools::KendallW)"


class KendallW(NamedTuple):
    """Kendall's W with its chi-square test.

    Attributes:
        w: the coefficient in [0, 1] (NaN when undefined).
        chi2: ``m (n - 1) W``.
        df: ``n - 1``.
        p_value: upper tail of chi-square on ``df`` (a large-sample test).
        n_items: items rated by every rater (the ones used).
        n_raters: raters.
        ties: whether any rater tied two items.
    """

    w: float
    chi2: float
    df: int
    p_value: float
    n_items: int
    n_raters: int
    ties: bool


def _weighted_w(W: np.ndarray, codes: np.ndarray, n_codes: list[int]) -> np.ndarray:
    """W for each row of item weights ``W`` ``(B, P)``; ``codes[:, j]`` ranks rater ``j``'s values."""
    B, P = W.shape
    m = codes.shape[1]
    n = W.sum(axis=1)
    rank_sum = np.zeros((B, P))
    ties = np.zeros(B)
    rows = np.arange(B)[:, None]
    for j in range(m):
        q = n_codes[j]
        # Weighted counts of each distinct value per resample; mid-rank = below + (count + 1) / 2.
        idx = (rows * q + codes[None, :, j]).ravel()
        cnt = np.bincount(idx, weights=W.ravel(), minlength=B * q).reshape(B, q)
        below = np.cumsum(cnt, axis=1) - cnt
        mid = below + (cnt + 1) / 2
        rank_sum += mid[:, codes[:, j]]
        ties += (cnt**3 - cnt).sum(axis=1)
    mean = m * (n + 1) / 2
    s = (W * (rank_sum - mean[:, None]) ** 2).sum(axis=1)
    den = m**2 * (n**3 - n) - m * ties
    with np.errstate(divide="ignore", invalid="ignore"):
        out = 12 * s / den
    # A denominator of (near) zero means every rater tied every item: no ranking, W undefined.
    return np.where((den > 1e-9 * np.maximum(m**2 * (n**3 - n), 1)) & (n >= 2) & (m >= 2), out, np.nan)


def kendall_w_stat(data: Any) -> ItemStat:
    """Sufficient statistics of :func:`kendall_w` (the complete items' rating patterns)."""
    x = as_ratings(data, func="kendall_w")
    n_items, m = x.shape
    complete = ~np.isnan(x).any(axis=1) if m else np.zeros(n_items, bool)
    xc = x[complete]
    codes = np.zeros_like(xc, dtype=np.int64)
    n_codes = []
    for j in range(m):
        uniq, inv = np.unique(xc[:, j], return_inverse=True)
        codes[:, j] = inv
        n_codes.append(max(len(uniq), 1))
    rows, mult, inverse = compress_rows(codes.astype(float))
    full_inverse = np.full(n_items, -1, dtype=np.int64)
    full_inverse[complete] = inverse
    pattern_codes = rows.astype(np.int64)

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        return _weighted_w(W, pattern_codes, n_codes)

    n_complete = int(complete.sum())
    if m < 2:
        reason = "Kendall's W needs at least two raters"
    elif n_complete < 2:
        reason = f"Kendall's W needs two or more items rated by all {m} raters; {n_complete} are"
    elif all(len(np.unique(xc[:, j])) == 1 for j in range(m)):
        reason = "every rater gave all items the same score: no ranking, so W is undefined (not 0)"
    else:
        reason = None
    return ItemStat(rows, mult, g, full_inverse, reason)


def kendall_w(data: Any) -> KendallW:
    """Kendall's coefficient of concordance W, tie-corrected, with its chi-square p-value.

    Args:
        data: ``(n_items, n_raters)`` scores, NaN for missing; each rater's scores rank the
            items (higher or lower first does not matter, as long as all raters agree on it).
            Items with a missing score are left out.

    Returns:
        A :class:`KendallW`; ``w`` is NaN with fewer than two raters, fewer than two complete
        items, or when every rater tied all items.

    Example:
        >>> res = kendall_w([[1, 1, 2], [2, 3, 1], [3, 2, 3], [4, 4, 4]])
        >>> round(res.w, 4), res.df, round(res.p_value, 4)
        (0.7778, 3, 0.0719)
    """
    x = as_ratings(data, func="kendall_w")
    stat = kendall_w_stat(x)
    w = stat.value()
    xc = x[~np.isnan(x).any(axis=1)]
    n, m = xc.shape
    df = max(n - 1, 0)
    chi2 = m * df * w if np.isfinite(w) else float("nan")
    from scipy import stats  # imported here: its import costs more than a whole agreement run

    p = float(stats.chi2.sf(chi2, df)) if np.isfinite(chi2) and df > 0 else float("nan")
    ties = any(len(np.unique(xc[:, j])) < n for j in range(m))
    return KendallW(float(w), float(chi2), df, p, n, m, ties)
