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

import math
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats as sps
from scipy.special import ndtr, ndtri

from harness.errors import InputError, check_choice

__all__ = [
    "METHODS",
    "Bootstrap",
    "Interval",
    "McNemarResult",
    "Transitions",
    "binomial_test",
    "bootstrap_mean",
    "holm",
    "mcnemar_exact",
    "paired_bootstrap",
    "stable_seed",
    "transitions",
]

METHODS = ("bca", "percentile")
# Resample matrices are built in chunks of at most this many cells (8 bytes each).
_CHUNK_CELLS = 2_000_000


class Interval(NamedTuple):
    """A two-sided confidence interval."""

    low: float
    high: float


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


def stable_seed(seed: int, *names: str) -> list[int]:
    """A seed sequence that depends on ``seed`` and ``names`` only (not on the order of work).

    >>> stable_seed(0, "accuracy") == stable_seed(0, "accuracy")
    True
    """
    return [int(seed)] + [zlib.crc32(n.encode("utf-8")) for n in names]


def _as_values(values: np.ndarray | list[float], name: str, func: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1:
        raise InputError(f"The '{name}' parameter of {func} must be one-dimensional; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"The '{name}' parameter of {func} must hold finite numbers only (drop unscored items).")
    return arr


def _check_confidence(confidence: float, func: str) -> float:
    if not 0.0 < float(confidence) < 1.0:
        raise InputError(f"The 'confidence' parameter of {func} must be in (0, 1); got {confidence!r}.")
    return float(confidence)


def _resample_means(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples of ``x`` (items drawn with replacement).

    Scores take few distinct values (binary, rubric levels), so a resample is drawn as multinomial
    counts over the distinct values: the same distribution as drawing items, at O(k) per resample
    instead of O(n). Otherwise item indices are drawn in chunks to bound memory.
    """
    n = x.size
    values, freq = np.unique(x, return_counts=True)
    if values.size == 1:
        return np.full(resamples, values[0])
    if 4 * values.size <= n:
        out = np.empty(resamples)
        step = max(1, _CHUNK_CELLS // values.size)
        for start in range(0, resamples, step):
            stop = min(resamples, start + step)
            counts = rng.multinomial(n, freq / n, size=stop - start)
            out[start:stop] = counts @ values / n
        return out
    out = np.empty(resamples)
    step = max(1, _CHUNK_CELLS // n)
    for start in range(0, resamples, step):
        stop = min(resamples, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


@dataclass(frozen=True)
class Bootstrap:
    """The bootstrap distribution of a mean, from which intervals and p-values are read.

    Attributes:
        estimate: the mean of the observed values.
        replicates: the sorted means of the resamples.
        n: number of observed values (items).
        method: ``"bca"`` (bias-corrected and accelerated) or ``"percentile"``.
        z0: BCa bias correction (0 for the percentile method).
        acceleration: BCa acceleration from the jackknife (0 for the percentile method).
        bounds: the range the values can take, when known (see :meth:`interval`).
    """

    estimate: float
    replicates: np.ndarray
    n: int
    method: str
    z0: float
    acceleration: float
    bounds: tuple[float, float] | None = None

    @property
    def resamples(self) -> int:
        """Number of bootstrap resamples."""
        return int(self.replicates.size)

    @property
    def degenerate(self) -> bool:
        """True when every resample has the same mean (all values equal): the interval is a point."""
        return bool(self.replicates[0] == self.replicates[-1])

    def _levels(self, confidence: float) -> tuple[float, float]:
        alpha = (1.0 - confidence) / 2.0
        if self.method == "percentile" or self.degenerate:
            return alpha, 1.0 - alpha
        z0, a = self.z0, self.acceleration
        out = []
        for z in (float(ndtri(alpha)), float(ndtri(1.0 - alpha))):
            u = z0 + z
            denom = 1.0 - a * u
            # Past the pole of the BCa transform (extreme skew, tiny n) the level is an end of the range.
            out.append(float(ndtr(z0 + u / denom)) if denom > 0 else (1.0 if u > 0 else 0.0))
        return out[0], out[1]

    def _exact_share(self, confidence: float) -> float:
        # All n values equal v0: the share of the population that differs from v0 is below this,
        # one-sided at (1 - confidence) / 2 (Clopper-Pearson for 0 of n).
        return 1.0 - ((1.0 - confidence) / 2.0) ** (1.0 / self.n)

    def interval(self, confidence: float = 0.95) -> Interval:
        """The two-sided interval at ``confidence``.

        When every value is equal (v0) the bootstrap interval is the point v0 and says nothing
        about sampling error. With known ``bounds`` [L, U] the interval is then the exact one that
        follows from them: the share p of the population not equal to v0 is below
        1 − ((1 − confidence) / 2)^(1/n) (Clopper–Pearson for 0 of n), so the mean lies in
        [v0 − (v0 − L)·p, v0 + (U − v0)·p]. For 3 of 3 binary items fixed this gives the same
        p-value as McNemar's exact test (0.25).

        Example:
            >>> b = bootstrap_mean([0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0], resamples=2000, seed=1)
            >>> lo, hi = b.interval(0.95)
            >>> bool(lo < b.estimate < hi)
            True
        """
        confidence = _check_confidence(confidence, "Bootstrap.interval")
        if self.degenerate and self.bounds is not None:
            v0, (low, high), p = self.estimate, self.bounds, self._exact_share(confidence)
            return Interval(float(v0 - (v0 - low) * p), float(v0 + (high - v0) * p))
        lo, hi = self._levels(confidence)
        q = np.quantile(self.replicates, [lo, hi])
        return Interval(float(q[0]), float(q[1]))

    def p_value(self, null: float) -> float:
        """Two-sided p-value of ``mean == null``: the smallest 1 − confidence whose interval excludes it.

        Inverts the same interval as :meth:`interval` (percentile or BCa), so "the 95% interval
        excludes ``null``" and "p < 0.05" agree up to the resolution of the resamples; p is never
        below 2 / (resamples + 1).
        """
        if self.degenerate and self.bounds is not None:
            return self._exact_p_value(null)
        b = self.resamples
        below = np.searchsorted(self.replicates, null, side="left")
        at_or_below = np.searchsorted(self.replicates, null, side="right")
        q = min(max(float(below + at_or_below) / (2.0 * b), 1.0 / (b + 1)), b / (b + 1.0))
        if self.method == "percentile" or self.degenerate:
            tail = q
        else:
            w = float(ndtri(q)) - self.z0
            denom = 1.0 + self.acceleration * w
            # Beyond the pole of the BCa transform the null lies outside every interval.
            tail = float(ndtr(w / denom - self.z0)) if denom > 0 else (0.0 if w < 0 else 1.0)
        p = 2.0 * min(tail, 1.0 - tail)
        return float(min(1.0, max(p, 2.0 / (b + 1))))

    def _exact_p_value(self, null: float) -> float:
        """The p-value that inverts the exact interval of a degenerate sample."""
        assert self.bounds is not None
        v0, (low, high) = self.estimate, self.bounds
        if null == v0:
            return 1.0
        span = (v0 - low) if null < v0 else (high - v0)
        r = abs(v0 - null) / span if span > 0 else 1.0
        return float(min(1.0, 2.0 * (1.0 - r) ** self.n)) if r < 1.0 else 0.0


def _as_pairs(
    base: np.ndarray | list[float], candidate: np.ndarray | list[float], func: str
) -> tuple[np.ndarray, np.ndarray]:
    """Base and candidate scores of the same items, checked like :func:`_as_values` and for equal length."""
    x = _as_values(base, "base", func)
    y = _as_values(candidate, "candidate", func)
    if x.shape != y.shape:
        raise InputError(f"{func} needs as many base as candidate scores; got {x.size} and {y.size}.")
    return x, y


def bootstrap_mean(
    values: np.ndarray | list[float],
    *,
    resamples: int = 10_000,
    seed: int | list[int] = 0,
    method: str = "bca",
    bounds: tuple[float, float] | None = None,
) -> Bootstrap:
    """Bootstrap the mean of ``values`` (one value per item; items resampled with replacement).

    Args:
        values: finite numbers, one per item.
        resamples: number of bootstrap resamples.
        seed: seed (or seed sequence) of numpy's default generator; same seed, same result.
        method: ``"bca"`` or ``"percentile"``.
        bounds: the range values can take (e.g. ``(0, 1)`` for scores); used when all values are
            equal, where the bootstrap alone would claim certainty (see :meth:`Bootstrap.interval`).

    Returns:
        A :class:`Bootstrap` to read intervals and p-values from.

    Raises:
        InputError: for fewer than two values, a bad method or a non-positive number of resamples.

    Example:
        >>> b = bootstrap_mean([0.2, 0.4, 0.4, 0.9, 0.7, 0.5], seed=0)
        >>> round(b.estimate, 4)
        0.5167
        >>> b.interval(0.95).low < 0.5167 < b.interval(0.95).high
        True
    """
    x = _as_values(values, "values", "bootstrap_mean")
    check_choice(method, METHODS, param="method", func="bootstrap_mean")
    if int(resamples) < 1:
        raise InputError(f"The 'resamples' parameter of bootstrap_mean must be >= 1; got {resamples!r}.")
    if x.size < 2:
        raise InputError(f"bootstrap_mean needs at least 2 values; got {x.size}.")
    rng = np.random.default_rng(seed)
    reps = np.sort(_resample_means(x, int(resamples), rng))
    estimate = float(x.mean())
    z0 = a = 0.0
    if method == "bca":
        # Mid-rank share of resamples below the estimate, as in scipy.stats.bootstrap.
        below = np.searchsorted(reps, estimate, side="left") + np.searchsorted(reps, estimate, side="right")
        z0 = float(ndtri(below / (2.0 * reps.size)))
        # For the mean, the jackknife influence values are the centred observations.
        u = x - estimate
        ss = float(np.sum(u * u))
        a = float(np.sum(u**3) / (6.0 * ss**1.5)) if ss > 0 else 0.0
        if not math.isfinite(z0):
            z0 = 0.0
    if bounds is not None and not (bounds[0] <= float(x.min()) and float(x.max()) <= bounds[1]):
        raise InputError(f"bootstrap_mean: values outside the given bounds {bounds}.")
    return Bootstrap(
        estimate=estimate, replicates=reps, n=int(x.size), method=method, z0=z0, acceleration=a, bounds=bounds
    )


def paired_bootstrap(
    base: np.ndarray | list[float],
    candidate: np.ndarray | list[float],
    *,
    resamples: int = 10_000,
    seed: int | list[int] = 0,
    method: str = "bca",
    bounds: tuple[float, float] | None = None,
) -> Bootstrap:
    """Bootstrap the mean paired difference ``candidate − base`` (items resampled as pairs).

    Args:
        base: the base model's score of each item.
        candidate: the candidate's score of the same items, in the same order.
        resamples: number of bootstrap resamples.
        seed: seed (or seed sequence); same seed, same result.
        method: ``"bca"`` or ``"percentile"``.
        bounds: the range of one score (e.g. ``(0, 1)``); differences then lie in [L − U, U − L].

    Returns:
        A :class:`Bootstrap` of the mean difference.

    Example:
        >>> b = paired_bootstrap([0, 0, 1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 1, 1, 1, 0], seed=0)
        >>> b.estimate
        0.375
        >>> round(b.p_value(0.0), 3) < 0.05
        True
    """
    x, y = _as_pairs(base, candidate, "paired_bootstrap")
    diff_bounds = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    return bootstrap_mean(y - x, resamples=resamples, seed=seed, method=method, bounds=diff_bounds)


def mcnemar_exact(base: np.ndarray | list[float], candidate: np.ndarray | list[float]) -> McNemarResult:
    """McNemar's exact test for paired binary outcomes (1 = pass).

    The two-sided p-value is ``min(1, 2 · P(X ≤ min(b, c)))`` with X ~ Binomial(b + c, 1/2) on the
    discordant pairs (``fixed`` = fail → pass, ``broken`` = pass → fail); with no discordant pair
    it is 1.

    Example:
        >>> mcnemar_exact([0, 0, 0, 0, 0, 0, 1, 1], [1, 1, 1, 1, 1, 1, 1, 0])
        McNemarResult(fixed=6, broken=1, p_value=0.125)
    """
    x, y = _as_pairs(base, candidate, "mcnemar_exact")
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
    if not 0.0 <= value <= 1.0:
        raise InputError(f"The 'value' parameter of binomial_test must be in [0, 1]; got {value!r}.")
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
    x, y = _as_pairs(base, candidate, "transitions")
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
