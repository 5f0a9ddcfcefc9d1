"""Intraclass correlation (Shrout & Fleiss 1979) as per-item sufficient statistics.

The six forms come from the mean squares of the two-way items x raters ANOVA; every sum of
squares is a linear statistic of per-item sums, so the bootstrap batch is a few matrix products.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.agreement.suffstats import ItemStat, _safe_ratio, _snap_zero, compress_rows

ICC_FORMS = ("icc1", "icc2", "icc3", "icc1k", "icc2k", "icc3k")


class MeanSquares(NamedTuple):
    """Two-way ANOVA mean squares of an items x raters table (Shrout & Fleiss 1979 notation)."""

    bms: np.ndarray  # between targets (items)
    wms: np.ndarray  # within targets
    jms: np.ndarray  # between judges (raters)
    ems: np.ndarray  # residual
    n: np.ndarray  # number of items
    k: int  # number of raters


def icc_from_mean_squares(ms: MeanSquares, form: str) -> np.ndarray:
    """The six Shrout & Fleiss forms from mean squares (NaN where a denominator is 0, up to rounding)."""
    bms, wms, jms, ems, n, k = ms
    num, den = {
        "icc1": (bms - wms, bms + (k - 1) * wms),
        "icc2": (bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n),
        "icc3": (bms - ems, bms + (k - 1) * ems),
        "icc1k": (bms - wms, bms),
        "icc2k": (bms - ems, bms + (jms - ems) / n),
        "icc3k": (bms - ems, bms),
    }[form]
    # A denominator that is a difference of mean squares can be zero up to rounding (e.g. ICC2k
    # when BMS = 0 and JMS = EMS): snap it, so the form is undefined rather than +-1e16.
    den = _snap_zero(den, bms + k * (wms + jms + ems))
    out = _safe_ratio(num, den)
    return np.where((n >= 2) & (k >= 2), out, np.nan)


def icc_stat(x: np.ndarray, form: str) -> ItemStat:
    """ICC from the items rated by every rater (items with a missing rating are left out)."""
    n_items, k = x.shape
    complete = ~np.isnan(x).any(axis=1) if k else np.zeros(n_items, bool)
    xc = np.where(complete[:, None], x, 0.0)
    if complete.any():
        xc = np.where(complete[:, None], xc - x[complete].mean(), 0.0)
    r = xc.sum(axis=1)
    S = np.column_stack([complete.astype(float), r, r**2 / max(k, 1), (xc**2).sum(axis=1), xc])
    rows, mult, inverse = compress_rows(S)

    def g(W: np.ndarray, S: np.ndarray) -> np.ndarray:
        T = W @ S
        n, g_sum, rows_sq, total_sq, cols = T[:, 0], T[:, 1], T[:, 2], T[:, 3], T[:, 4:]
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = g_sum**2 / (n * k)
            ss_total = _snap_zero(total_sq - corr, total_sq)
            ss_rows = _snap_zero(rows_sq - corr, total_sq)
            ss_cols = _snap_zero((cols**2).sum(axis=1) / n - corr, total_sq)
            ss_err = _snap_zero(ss_total - ss_rows - ss_cols, total_sq)
            ms = MeanSquares(
                bms=ss_rows / (n - 1),
                wms=(ss_total - ss_rows) / (n * (k - 1)),
                jms=ss_cols / (k - 1),
                ems=ss_err / ((n - 1) * (k - 1)),
                n=n,
                k=k,
            )
            return icc_from_mean_squares(ms, form)

    n_complete = int(complete.sum())
    if k < 2:
        reason = "ICC needs at least two raters"
    elif n_complete < 2:
        reason = f"ICC needs two or more items rated by all {k} raters; {n_complete} are"
    elif np.ptp(x[complete]) == 0:
        reason = "every rating has the same value: no variance, so the ICC is undefined (not 0)"
    else:
        reason = None
    return ItemStat(rows, mult, g, inverse, reason)
