"""The one bootstrap of the harness: seeded, vectorised resampling of items, and the intervals read from it.

Every interval the harness reports that comes from resampling goes through this module:

* :func:`resample_counts`: how many items each resample draws from each *pattern* (a group of
  interchangeable items: equal scores, or equal sufficient statistics of an agreement
  coefficient). A resample of ``n`` items is a ``Multinomial(n, mult / n)`` vector over the
  patterns, so a statistic that is a function of pattern counts is evaluated for a whole block of
  resamples by a few matrix products (:func:`bootstrap_replicates`).
* :func:`bootstrap_mean` / :func:`paired_bootstrap`: the bootstrap distribution of a mean (of
  one side's scores, or of the paired differences candidate − base), read as a percentile or BCa
  interval (Efron & Tibshirani 1993, ch. 14) with the p-value that inverts the same interval.
* The agreement coefficients (:mod:`harness.agreement.bootstrap`) draw their resamples with
  :func:`bootstrap_replicates` too and read the percentile interval with
  :func:`percentile_interval`; why they do not use BCa is written there.

Large ``n``: the multinomial counts are drawn exactly by the Poisson split: independent
``Poisson(lam * p_j)`` counts are, given their total ``s``, ``Multinomial(s, p)``; a resample
with ``s <= n`` is completed with ``Multinomial(n - s, p)`` drawn item by item (``n - s`` is small
for ``lam = n - 4 sqrt(n)``), and a resample with ``s > n`` (probability ~3e-5) is drawn again.

Same data, same seed: same replicates, whatever the order of the items.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from harness.errors import InputError
from harness.stats.params import check_choice, check_confidence, check_pairs, check_resamples, check_values


def ndtr(x: float) -> float:
    """Standard normal distribution function (scipy's, imported on first use: its import is slow)."""
    from scipy.special import ndtr as _ndtr

    return float(_ndtr(x))


def ndtri(p: float) -> float:
    """Standard normal quantile (scipy's, imported on first use)."""
    from scipy.special import ndtri as _ndtri

    return float(_ndtri(p))

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_RESAMPLES",
    "METHODS",
    "Bootstrap",
    "Interval",
    "bootstrap_mean",
    "bootstrap_replicates",
    "paired_bootstrap",
    "percentile_interval",
    "resample_counts",
    "slice_gap",
    "stable_seed",
]

METHODS = ("bca", "percentile")
DEFAULT_METHOD = "bca"
DEFAULT_RESAMPLES = 10_000
_POISSON_SPLIT_MIN_ITEMS = 1000
_CHUNK_ENTRIES = 1 << 22
_CHUNK_RESAMPLES = 128
# Index draws (many distinct values) are built in chunks of at most this many cells (8 bytes each).
_CHUNK_CELLS = 2_000_000


class Interval(NamedTuple):
    """A two-sided confidence interval."""

    low: float
    high: float


def stable_seed(seed: int, *names: str) -> list[int]:
    """A seed sequence that depends on ``seed`` and ``names`` only (not on the order of work).

    >>> stable_seed(0, "accuracy") == stable_seed(0, "accuracy")
    True
    """
    return [int(seed)] + [zlib.crc32(n.encode("utf-8")) for n in names]


def resample_counts(mult: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Pattern counts of ``n_resamples`` item resamples: a ``(B, P)`` matrix, rows ``Multinomial(n, mult/n)``.

    Args:
        mult: number of items in each of the ``P`` patterns (``n = mult.sum()``).
        n_resamples: number of resamples ``B``.
        rng: the random generator (its state advances).
    """
    mult = np.asarray(mult, dtype=np.int64)
    n, P = int(mult.sum()), len(mult)
    if n == 0:
        return np.zeros((n_resamples, P), dtype=np.int64)
    p = mult / n
    if n < _POISSON_SPLIT_MIN_ITEMS:
        return rng.multinomial(n, p, size=n_resamples)
    lam = n - 4.0 * np.sqrt(n)
    counts = rng.poisson(lam * p, size=(n_resamples, P))
    total = counts.sum(axis=1)
    while (over := np.flatnonzero(total > n)).size:
        counts[over] = rng.poisson(lam * p, size=(over.size, P))
        total[over] = counts[over].sum(axis=1)
    deficit = n - total
    item_pattern = np.repeat(np.arange(P), mult)
    draws = item_pattern[rng.integers(0, n, size=int(deficit.sum()))]
    rows = np.repeat(np.arange(n_resamples), deficit)
    counts += np.bincount(rows * P + draws, minlength=n_resamples * P).reshape(n_resamples, P)
    return counts


def bootstrap_replicates(
    mult: np.ndarray, statistic: Callable[[np.ndarray], np.ndarray], *, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """A statistic of pattern counts on ``resamples`` item resamples, drawn in bounded blocks.

    Args:
        mult: number of items in each pattern.
        statistic: maps a ``(b, P)`` float matrix of pattern counts to ``b`` values (NaN where undefined).
        resamples: number of resamples.
        rng: the random generator (its state advances).
    """
    P = max(len(mult), 1)
    # Blocks of at most 128 resamples keep memory bounded whatever the number of patterns.
    chunk = max(1, min(resamples, _CHUNK_RESAMPLES, _CHUNK_ENTRIES // P))
    out = np.empty(resamples)
    # The products are small (resamples x patterns x a few statistics): BLAS threads only add
    # start-up and contention cost, which dominates on a busy machine, so keep BLAS single-threaded.
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        for start in range(0, resamples, chunk):
            b = min(chunk, resamples - start)
            out[start : start + b] = statistic(resample_counts(mult, b, rng).astype(float))
    return out


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, int]:
    """Percentile interval of the defined values, and how many were undefined (NaN).

    >>> percentile_interval(np.array([0.1, np.nan, 0.3, 0.2]), 0.5)
    (0.15000000000000002, 0.25, 1)
    """
    confidence = check_confidence(confidence, "percentile_interval")
    ok = values[~np.isnan(values)]
    undefined = int(len(values) - len(ok))
    if ok.size == 0:
        return float("nan"), float("nan"), undefined
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(ok, [tail, 1 - tail])
    return float(lo), float(hi), undefined


def _resample_means(x: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Means of ``resamples`` bootstrap resamples of ``x`` (items drawn with replacement).

    Scores take few distinct values (binary, rubric levels), so a resample is drawn as pattern
    counts over the distinct values (:func:`bootstrap_replicates`): the same distribution as
    drawing items, at O(k) per resample instead of O(n). Otherwise item indices are drawn in
    chunks to bound memory.
    """
    n = x.size
    values, freq = np.unique(x, return_counts=True)
    if values.size == 1:
        return np.full(resamples, values[0])
    if 4 * values.size <= n:
        return bootstrap_replicates(freq, lambda counts: counts @ values / n, resamples=resamples, rng=rng)
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
        confidence = check_confidence(confidence, "Bootstrap.interval")
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


def bootstrap_mean(
    values: np.ndarray | list[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | list[int] = 0,
    method: str = DEFAULT_METHOD,
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
    x = check_values(values, param="values", func="bootstrap_mean")
    check_choice(method, METHODS, param="method", func="bootstrap_mean")
    resamples = check_resamples(resamples, "bootstrap_mean")
    if x.size < 2:
        raise InputError(f"bootstrap_mean needs at least 2 values; got {x.size}.")
    rng = np.random.default_rng(seed)
    reps = np.sort(_resample_means(x, resamples, rng))
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
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | list[int] = 0,
    method: str = DEFAULT_METHOD,
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
    x, y = check_pairs(base, candidate, func="paired_bootstrap")
    diff_bounds = None if bounds is None else (bounds[0] - bounds[1], bounds[1] - bounds[0])
    return bootstrap_mean(y - x, resamples=resamples, seed=seed, method=method, bounds=diff_bounds)


def slice_gap(
    diffs: list[np.ndarray] | list[list[float]], *, resamples: int = DEFAULT_RESAMPLES, seed: int | list[int] = 0
) -> Bootstrap:
    """The spread max − min of the mean paired difference over slices, bootstrapped within each slice.

    Each slice's items are resampled with replacement inside the slice (a stratified bootstrap:
    slice sizes stay fixed), the slices' means are recomputed and the spread between the largest
    and the smallest is taken; its percentile interval and p-values are read from the result. The
    observed spread of the best and the worst slice is biased upwards (the extremes of noisy means),
    and so is the interval: a bound on it errs towards failing.

    Args:
        diffs: per slice, its items' paired differences (at least 2 slices of at least 2 items).
        resamples: number of resamples.
        seed: seed (or seed sequence).

    Example:
        >>> g = slice_gap([[0.0, 0.1, 0.0, 0.1], [0.5, 0.4, 0.6, 0.5]], resamples=2000)
        >>> round(g.estimate, 3), bool(g.interval(0.95).low > 0.3)
        (0.45, True)
    """
    arrays = [check_values(d, param="diffs", func="slice_gap") for d in diffs]
    resamples = check_resamples(resamples, "slice_gap")
    if len(arrays) < 2 or any(a.size < 2 for a in arrays):
        raise InputError("slice_gap needs at least 2 slices of at least 2 items each.")
    rng = np.random.default_rng(seed)
    means = np.stack([_resample_means(a, resamples, rng) for a in arrays])
    observed = np.array([a.mean() for a in arrays])
    reps = np.sort(means.max(axis=0) - means.min(axis=0))
    estimate = float(observed.max() - observed.min())
    n = int(sum(a.size for a in arrays))
    return Bootstrap(estimate=estimate, replicates=reps, n=n, method="percentile", z0=0.0, acceleration=0.0)
