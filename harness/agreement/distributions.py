"""Normal and Student t quantiles without scipy (whose import costs more than a whole agreement run).

The normal quantile is :class:`statistics.NormalDist` (Wichura's AS 241, double precision). The t
quantile inverts the t distribution function, written through the regularised incomplete beta
function (continued fraction, Lentz's method; Numerical Recipes 6.4) by Newton steps from the
normal quantile. Tests check both against scipy to 1e-10.
"""

from __future__ import annotations

import math
from statistics import NormalDist

__all__ = ["normal_ppf", "normal_sf", "t_cdf", "t_ppf"]

_NORMAL = NormalDist()


def normal_ppf(p: float) -> float:
    """Quantile of the standard normal distribution."""
    return _NORMAL.inv_cdf(p)


def normal_sf(z: float) -> float:
    """Upper tail ``P(Z > z)`` of the standard normal distribution."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def _lgamma_half_ratio(a: float) -> float:
    """``log(Gamma(a + 1/2) / Gamma(a))``, accurate also for large ``a`` (asymptotic series)."""
    if a < 1e3:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    return 0.5 * math.log(a) - 1 / (8 * a) + 1 / (192 * a**3) + 1 / (640 * a**5)


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        even = m * (b - m) * x / ((a + m2 - 1) * (a + m2))
        odd = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1))
        for num in (even, odd):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-16:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta function ``I_x(a, b)``."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if b == 0.5:
        lbeta = _lgamma_half_ratio(a) - math.lgamma(0.5)
    elif a == 0.5:
        lbeta = _lgamma_half_ratio(b) - math.lgamma(0.5)
    else:
        lbeta = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    ln = lbeta + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(ln) * _betacf(a, b, x) / a
    return 1.0 - math.exp(ln) * _betacf(b, a, 1.0 - x) / b


def _t_upper(t: float, df: float) -> float:
    """``P(T > t)`` for ``t >= 0``."""
    return 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))


def _t_central(t: float, df: float) -> float:
    """``P(0 < T < t)`` for ``t >= 0`` (no cancellation near the centre)."""
    return 0.5 * _betainc(0.5, df / 2.0, t * t / (df + t * t))


def t_cdf(t: float, df: float) -> float:
    """Distribution function of Student's t with ``df`` degrees of freedom."""
    a = abs(t)
    upper = _t_upper(a, df) if a * a > df else 0.5 - _t_central(a, df)
    return 1.0 - upper if t > 0 else upper


def _t_pdf(t: float, df: float) -> float:
    ln = _lgamma_half_ratio(df / 2) - 0.5 * math.log(df * math.pi)
    return math.exp(ln - (df + 1) / 2 * math.log1p(t * t / df))


def t_ppf(p: float, df: float) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (``0 < p < 1``, ``df > 0``)."""
    if not 0.0 < p < 1.0 or not df > 0:
        return math.nan
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_ppf(1.0 - p, df)
    central = p < 0.75  # solve P(0 < T < t) = p - 1/2 near the centre, P(T > t) = 1 - p in the tail
    target = p - 0.5 if central else 1.0 - p
    t = normal_ppf(p)
    if df == 1:
        t = math.tan(math.pi * (p - 0.5))
    elif df == 2:
        t = (2 * p - 1) / math.sqrt(2 * p * (1 - p))
    for _ in range(100):
        gap = _t_central(t, df) - target if central else target - _t_upper(t, df)
        step = gap / _t_pdf(t, df)
        t = max(t - step, t / 2)
        if abs(step) <= 1e-15 * max(1.0, abs(t)):
            break
    return t
