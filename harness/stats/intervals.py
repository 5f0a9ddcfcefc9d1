"""The interval of a mean, the same in every report: Wilson for pass/fail, the bootstrap otherwise.

:func:`mean_interval` is the one function that puts an interval on a criterion's mean. The run
document's summary (``run.md``) and the comparison's base and candidate means both call it with
the same settings and the same seed (:func:`mean_seed`), so the same values get the same interval
in every report.

* Pass/fail (every value 0 or 1 on a binary criterion): Wilson's score interval. It is exact
  arithmetic (no resampling noise), keeps its coverage near the nominal level for small n and
  rates near 0 or 1 (Brown, Cai & DasGupta 2001), and is not a point when every item passes.
* Anything else: the bootstrap of :mod:`harness.stats.bootstrap` (BCa, 10,000 resamples by
  default), with the score range [0, 1] as bounds so that equal values give the exact interval
  instead of a point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

from harness.errors import InputError
from harness.stats.bootstrap import (
    DEFAULT_METHOD,
    DEFAULT_RESAMPLES,
    Bootstrap,
    Interval,
    bootstrap_mean,
    stable_seed,
)
from harness.stats.params import check_confidence, check_int

__all__ = ["Interval", "MeanInterval", "mean_interval", "mean_seed", "wilson_interval"]


class MeanInterval(NamedTuple):
    """The interval of a mean, how it was obtained, and the bootstrap behind it (if any).

    ``method`` is ``"wilson"``, ``"bootstrap_bca"``, ``"bootstrap_percentile"`` or ``"none"``
    (fewer than two values on a non-binary criterion: no interval).
    """

    low: float | None
    high: float | None
    method: str
    bootstrap: Bootstrap | None = None

    @property
    def ci(self) -> list[float] | None:
        """``[low, high]``, or None when there is no interval."""
        return None if self.low is None or self.high is None else [self.low, self.high]


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
    n = check_int(n, param="n", func="wilson_interval", low=1)
    successes = check_int(successes, param="successes", func="wilson_interval", low=0, high=n)
    confidence = check_confidence(confidence, "wilson_interval")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return Interval(max(0.0, center - half), min(1.0, center + half))


def mean_seed(seed: int, suite: str, criterion: str) -> list[int]:
    """The seed of a criterion's mean interval: the same for a run's summary and a comparison.

    >>> mean_seed(0, "tickets", "field_accuracy") == mean_seed(0, "tickets", "field_accuracy")
    True
    """
    return stable_seed(seed, suite, criterion, "mean")


def mean_interval(
    values: Sequence[float] | np.ndarray,
    *,
    binary: bool,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    method: str = DEFAULT_METHOD,
    seed: int | list[int] = 0,
    bounds: tuple[float, float] | None = (0.0, 1.0),
) -> MeanInterval:
    """The interval of the mean of ``values`` (one per scored item).

    Args:
        values: the scores.
        binary: the criterion is pass/fail; Wilson's interval is used when every value is 0 or 1.
        confidence: two-sided level in (0, 1).
        resamples: bootstrap resamples (non-binary).
        method: ``"bca"`` or ``"percentile"`` (non-binary).
        seed: the bootstrap seed (use :func:`mean_seed` so that every report agrees).
        bounds: the range a score can take (``None``: unknown).

    Returns:
        A :class:`MeanInterval`.

    Raises:
        InputError: no values, or a bad parameter.

    Example:
        >>> mean_interval([1, 0, 1, 1], binary=True).method
        'wilson'
        >>> m = mean_interval([0.2, 0.4, 0.6, 0.8, 1.0], binary=False)
        >>> m.method, bool(m.low < 0.6 < m.high)
        ('bootstrap_bca', True)
    """
    confidence = check_confidence(confidence, "mean_interval")
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        raise InputError("The 'values' parameter of mean_interval must not be empty.")
    if binary and bool(np.isin(x, (0.0, 1.0)).all()):
        lo, hi = wilson_interval(int(x.sum()), int(x.size), confidence=confidence)
        return MeanInterval(lo, hi, "wilson")
    if x.size < 2:
        return MeanInterval(None, None, "none")
    inside = bounds is not None and bounds[0] <= float(x.min()) and float(x.max()) <= bounds[1]
    boot = bootstrap_mean(x, resamples=resamples, seed=seed, method=method, bounds=bounds if inside else None)
    lo, hi = boot.interval(confidence)
    return MeanInterval(lo, hi, f"bootstrap_{method}", boot)
