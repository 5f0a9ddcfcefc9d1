"""Paired statistics for a base-vs-candidate comparison.

Pure functions on numpy arrays; nothing here knows about runs, suites or models.

* :func:`bootstrap_mean` / :func:`paired_bootstrap`: the bootstrap distribution of a mean (of the
  candidate's scores, or of the paired differences candidate − base), seeded and vectorised, with
  percentile or BCa intervals (Efron & Tibshirani 1993, ch. 14) and the p-value that inverts
  the same interval.
* :func:`mcnemar_exact`: McNemar's exact test on the discordant pairs of a binary criterion.
* :func:`binomial_test`: exact binomial test of a pass rate against a value.
* :func:`holm`: Holm's step-down adjustment of a family of p-values.
* :func:`transitions`: items fixed, broken and unchanged between base and candidate.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from harness.errors import InputError
from harness.stats.params import check_float, check_pairs

__all__ = ["McNemarResult", "Transitions", "binomial_test", "holm", "mcnemar_exact", "transitions"]


class McNemarResult(NamedTuple):
    """McNemar's exact test: discordant counts and the two-sided p-value."""

    fixed: int
    broken: int
    p_value: float


class Transitions(NamedTuple):
    """How paired items moved between base and candidate.

    ``fixed``/``broken``/``unchanged`` use the pass threshold (an item passes when its score is at
    least the threshold); ``improved``/``worsened``/``tied`` compare the scores themselves.
    """

    fixed: int
    broken: int
    unchanged: int
    improved: int
    worsened: int
    tied: int


def mcnemar_exact(base: np.ndarray | list[float], candidate: np.ndarray | list[float]) -> McNemarResult:
    """McNemar's exact test for paired binary outcomes (1 = pass).

    The two-sided p-value is ``min(1, 2 · P(X ≤ min(b, c)))`` with X ~ Binomial(b + c, 1/2) on the
    discordant pairs (``fixed`` = fail → pass, ``broken`` = pass → fail); with no discordant pair
    it is 1.

    Example:
        >>> mcnemar_exact([0, 0, 0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0])
        McNemarResult(fixed=6, broken=1, p_value=0.125)
    """
    x, y = check_pairs(base, candidate, func="mcnemar_exact")
    if not (np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all()):
        raise InputError("mcnemar_exact needs binary scores (0 or 1).")
    fixed = int(np.sum((x == 0) & (y == 1)))
    broken = int(np.sum((x == 1) & (y == 0)))
    n = fixed + broken
    p = 1.0 if n == 0 else min(1.0, 2.0 * float(sps.binom.cdf(min(fixed, broken), n, 0.5)))
    return McNemarResult(fixed, broken, p)


def binomial_test(successes: int, n: int, value: float) -> float:
    """Two-sided exact binomial p-value of a pass rate ``successes / n`` against ``value``.

    Example:
        >>> round(binomial_test(18, 20, 0.6), 4)
        0.0052
    """
    if n < 1:
        raise InputError(f"binomial_test needs n >= 1; got {n}.")
    value = check_float(value, param="value", func="binomial_test", low=0.0, high=1.0)
    return float(sps.binomtest(int(successes), int(n), float(value)).pvalue)


def holm(p_values: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate).

    The i-th smallest p-value becomes ``max_{j <= i} min(1, (m − j + 1) · p_(j))``; a hypothesis is
    rejected at level α when its adjusted p-value is at most α.

    Example:
        >>> holm([0.01, 0.04, 0.03]).round(3).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    if p.ndim != 1 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise InputError("holm needs a one-dimensional array of p-values in [0, 1].")
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def transitions(
    base: np.ndarray | list[float], candidate: np.ndarray | list[float], *, threshold: float = 0.5
) -> Transitions:
    """Count items fixed (fail → pass), broken (pass → fail) and unchanged, and score moves.

    An item passes when its score is at least ``threshold``.

    Example:
        >>> transitions([0, 1, 1, 0.2], [1, 1, 0, 0.4])
        Transitions(fixed=1, broken=1, unchanged=2, improved=2, worsened=1, tied=1)
    """
    x, y = check_pairs(base, candidate, func="transitions")
    bp, cp = x >= threshold, y >= threshold
    d = y - x
    tol = 1e-12
    return Transitions(
        fixed=int(np.sum(~bp & cp)),
        broken=int(np.sum(bp & ~cp)),
        unchanged=int(np.sum(bp == cp)),
        improved=int(np.sum(d > tol)),
        worsened=int(np.sum(d < -tol)),
        tied=int(np.sum(np.abs(d) <= tol)),
    )
