"""Confidence intervals for a criterion's mean: Wilson for pass/fail, bootstrap otherwise."""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np


class Interval(NamedTuple):
    """A two-sided confidence interval."""

    low: float
    high: float


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval for a binomial proportion.

    Args:
        successes: number of passes.
        n: number of trials (> 0).
        confidence: two-sided level in (0, 1).

    Example:
        >>> lo, hi = wilson_interval(8, 10)
        >>> round(lo, 4), round(hi, 4)
        (0.4902, 0.9433)
    """
    if n <= 0:
        raise ValueError("The 'n' parameter of wilson_interval must be > 0; got 0.")
    if not 0 <= successes <= n:
        raise ValueError(f"The 'successes' parameter of wilson_interval must be in [0, n]; got {successes}.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"The 'confidence' parameter of wilson_interval must be in (0, 1); got {confidence}.")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, center - half), min(1.0, center + half))


def bootstrap_mean_interval(
    values: Sequence[float], *, confidence: float = 0.95, n_resamples: int = 2000, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval of a mean (seeded, vectorised).

    Example:
        >>> lo, hi = bootstrap_mean_interval([0.2, 0.4, 0.6, 0.8, 1.0])
        >>> 0.2 <= lo < 0.6 < hi <= 1.0
        True
    """
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise ValueError("The 'values' parameter of bootstrap_mean_interval must not be empty.")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"The 'confidence' parameter of bootstrap_mean_interval must be in (0, 1); got {confidence}.")
    if np.all(x == x[0]):
        return Interval(float(x[0]), float(x[0]))
    rng = np.random.default_rng(seed)
    means = np.empty(n_resamples)
    step = max(1, 4_000_000 // x.size)  # bound the index matrix's memory
    for start in range(0, n_resamples, step):
        stop = min(n_resamples, start + step)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        means[start:stop] = x[idx].mean(axis=1)
    alpha = 1 - confidence
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(lo), float(hi))
