"""Analytic (large-sample) standard errors where a standard formula exists: Cohen's and Fleiss' kappa.

- Cohen's kappa, unweighted and weighted: Fleiss, Cohen & Everitt (1969), the formula of SAS
  PROC FREQ and statsmodels; the confidence interval is ``kappa +/- z * se`` (normal), and
  ``se_null`` (kappa = 0) gives the z test.
- Fleiss' kappa, generalised to unequal ratings per item: Gwet's (2014, ch. 5) linearisation
  variance; the interval uses Student's t with ``n - 1`` degrees of freedom, as Gwet does.

Intervals are not truncated to [-1, 1]. Bootstrap intervals (:mod:`harness.agreement.bootstrap`)
are reported beside these.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from harness.agreement import suffstats as ss
from harness.agreement.coefficients import _counts, code_rater_pair
from harness.agreement.distributions import normal_ppf, normal_sf, t_ppf
from harness.stats.params import check_confidence

__all__ = ["CohenKappaSE", "FleissKappaSE", "cohen_kappa_se", "fleiss_kappa_se"]


class CohenKappaSE(NamedTuple):
    """Cohen's kappa with its asymptotic standard errors and normal confidence interval."""

    value: float
    se: float
    se_null: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    n: int
    confidence: float


class FleissKappaSE(NamedTuple):
    """Fleiss' kappa with Gwet's standard error, its parts and a t confidence interval."""

    value: float
    se: float
    ci_low: float
    ci_high: float
    p_o: float
    p_e: float
    proportions: tuple[float, ...]
    n: int
    confidence: float


def cohen_kappa_se(
    a: Any, b: Any, *, weights: str | None = None, labels: Any = None, confidence: float = 0.95
) -> CohenKappaSE:
    """Cohen's kappa with the Fleiss-Cohen-Everitt (1969) asymptotic standard error.

    Args:
        a: first rater's ratings ``(n_items,)``, NaN for missing (items missing either are left out).
        b: second rater's ratings.
        weights: None, ``"linear"`` or ``"quadratic"`` (as :func:`~harness.agreement.cohen_kappa`).
        labels: the ordered category set.
        confidence: level of the normal interval ``kappa +/- z * se``.

    Returns:
        A :class:`CohenKappaSE`; every field NaN when kappa is undefined.

    Example:
        >>> a = [0] * 5 + [1] * 8 + [2] * 6  # SAS PROC FREQ example table [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
        >>> b = [1] * 4 + [2] + [1] * 8 + [1] + [2] * 5
        >>> res = cohen_kappa_se(a, b)
        >>> round(res.value, 4), round(res.se, 4), round(res.ci_low, 4), round(res.ci_high, 4)
        (0.4842, 0.138, 0.2137, 0.7547)
    """
    confidence = check_confidence(confidence, "cohen_kappa_se")
    codes, q = code_rater_pair(a, b, weights=weights, labels=labels, func="cohen_kappa_se")
    ca, cb = codes[:, 0], codes[:, 1]
    both = (ca >= 0) & (cb >= 0)
    n = int(both.sum())
    table = np.bincount(ca[both] * q + cb[both], minlength=q * q).reshape(q, q).astype(float)
    w = ss.kappa_weights(q, weights)
    nan = float("nan")
    if n == 0:
        return CohenKappaSE(nan, nan, nan, nan, nan, nan, nan, 0, confidence)
    p = table / n
    row, col = p.sum(axis=1), p.sum(axis=0)
    p_o = float((w * p).sum())
    p_e = float(row @ w @ col)
    if p_e >= 1:
        return CohenKappaSE(nan, nan, nan, nan, nan, nan, nan, n, confidence)
    kappa = (p_o - p_e) / (1 - p_e)
    w_row = w @ col  # mean weight of row category i against rater 2's distribution
    w_col = row @ w  # mean weight of column category j against rater 1's distribution
    term = (p * (w - (w_row[:, None] + w_col[None, :]) * (1 - kappa)) ** 2).sum()
    var = (term - (kappa - p_e * (1 - kappa)) ** 2) / (n * (1 - p_e) ** 2)
    term0 = (np.outer(row, col) * (w - (w_row[:, None] + w_col[None, :])) ** 2).sum()
    var0 = (term0 - p_e**2) / (n * (1 - p_e) ** 2)
    se, se0 = float(np.sqrt(max(var, 0.0))), float(np.sqrt(max(var0, 0.0)))
    zc = normal_ppf(0.5 + confidence / 2)
    z = kappa / se0 if se0 > 0 else nan
    p_value = 2 * normal_sf(abs(z)) if se0 > 0 else nan
    return CohenKappaSE(kappa, se, se0, kappa - zc * se, kappa + zc * se, z, p_value, n, confidence)


def fleiss_kappa_se(data: Any, *, labels: Any = None, confidence: float = 0.95) -> FleissKappaSE:
    """Fleiss' kappa (generalised to unequal ratings per item) with Gwet's standard error.

    Args:
        data: ``(n_items, n_raters)`` nominal ratings, NaN for missing.
        labels: the category set (order of ``proportions``; default: observed values).
        confidence: level of the t interval (``n - 1`` degrees of freedom, n = items rated).

    Returns:
        A :class:`FleissKappaSE` with the observed (``p_o``) and chance (``p_e``) agreement and
        the category proportions; value and se NaN when kappa is undefined.

    Example:
        >>> res = fleiss_kappa_se([[1, 1, 1], [1, 2, 2], [2, 2, 2], [3, 3, 1]])
        >>> round(res.value, 4), round(res.p_o, 4)
        (0.4667, 0.6667)
    """
    confidence = check_confidence(confidence, "fleiss_kappa_se")
    counts, _ = _counts(data, labels, "fleiss_kappa_se")
    m = counts.sum(axis=1)
    counts, m = counts[m >= 1], m[m >= 1]  # items nobody rated carry no information
    n = len(m)
    nan = float("nan")
    pa_i, p2 = ss._pair_agreement(counts)
    n2 = int(p2.sum())
    share = counts / m[:, None] if n else counts
    pi = share.mean(axis=0) if n else np.zeros(counts.shape[1])
    props = tuple(float(v) for v in pi)
    if n2 == 0:
        return FleissKappaSE(nan, nan, nan, nan, nan, float((pi**2).sum()), props, n, confidence)
    p_o = float(pa_i[p2 > 0].mean())
    p_e = float((pi**2).sum())
    if p_e >= 1:
        return FleissKappaSE(nan, nan, nan, nan, p_o, p_e, props, n, confidence)
    kappa = (p_o - p_e) / (1 - p_e)
    kappa_i = (n / n2) * (pa_i - p_e * p2) / (1 - p_e)
    pe_i = share @ pi
    kappa_i_x = kappa_i - 2 * (1 - kappa) * (pe_i - p_e) / (1 - p_e)
    var = ((kappa_i_x - kappa) ** 2).sum() / (n * (n - 1)) if n > 1 else nan
    se = float(np.sqrt(var))
    t = t_ppf(0.5 + confidence / 2, n - 1) if n > 1 else nan
    return FleissKappaSE(kappa, se, kappa - t * se, kappa + t * se, p_o, p_e, props, n, confidence)
