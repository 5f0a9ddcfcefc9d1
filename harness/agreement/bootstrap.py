"""The bootstrap of an agreement coefficient over items, on :mod:`harness.stats.bootstrap`.

A resample draws ``n`` items with replacement from the ``n`` items of the data. Items with
identical sufficient statistics (an :class:`~harness.agreement.suffstats.ItemStat` pattern) are
interchangeable, so a resample is fully described by how many items it draws from each pattern
(:func:`~harness.stats.bootstrap.resample_counts`, the same draw the means of a comparison use),
and the coefficient is evaluated for a whole block of resamples by the statistic's batch function
(a few matrix products), never by recomputing the coefficient once per resample.

Why the interval here is the percentile one, not BCa as for a comparison's means: a coefficient
is undefined on some resamples (every drawn rating in one category, no variance between items),
and those resamples are counted and left out. BCa's bias correction and acceleration assume a
statistic defined on every resample and on every leave-one-out sample; with undefined values
dropped they are not defined, and the percentile interval of the defined values is the one the
agreement literature reports (Hayes & Krippendorff 2007, for alpha). A mean is defined on
every resample, so the comparison and the run summary use BCa (see ``docs/statistics.md``).

Example:
    >>> import numpy as np
    >>> from harness.agreement.coefficients import krippendorff_alpha_stat
    >>> data = np.array([[1, 1, 2], [2, 2, 2], [3, 3, 3], [1, 2, 1], [4, 4, 4], [2, 2, np.nan]])
    >>> res = bootstrap_ci(krippendorff_alpha_stat(data, level="ordinal"), n_resamples=200, seed=0)
    >>> res.ci_low <= res.estimate <= res.ci_high
    True
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.agreement.suffstats import ItemStat
from harness.stats.bootstrap import bootstrap_replicates, percentile_interval
from harness.stats.params import check_confidence, check_resamples

__all__ = ["BootstrapCI", "bootstrap_ci", "bootstrap_values"]


class BootstrapCI(NamedTuple):
    """A point estimate with its percentile bootstrap interval."""

    estimate: float
    ci_low: float
    ci_high: float
    n_resamples: int
    n_undefined: int
    confidence: float
    seed: int


def bootstrap_values(stat: ItemStat, *, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The coefficient on ``n_resamples`` item resamples (NaN where undefined), seeded.

    Args:
        stat: the coefficient's sufficient statistics (``*_stat`` functions of
            :mod:`harness.agreement.coefficients`).
        n_resamples: number of resamples.
        seed: seed of ``numpy.random.default_rng``; the same data and seed give the same values.
    """
    n_resamples = check_resamples(n_resamples, "bootstrap_values", param="n_resamples")
    rng = np.random.default_rng(seed)
    from harness.progress import step

    with step("bootstrap resamples"):
        return bootstrap_replicates(stat.mult, stat.batch, resamples=n_resamples, rng=rng)


def bootstrap_ci(stat: ItemStat, *, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> BootstrapCI:
    """Point estimate and percentile bootstrap interval over items.

    Args:
        stat: the coefficient's sufficient statistics.
        n_resamples: number of resamples (>= 1).
        seed: random seed.
        confidence: interval level in (0, 1).

    Returns:
        A :class:`BootstrapCI`; the interval is NaN when the estimate is undefined.
    """
    confidence = check_confidence(confidence, "bootstrap_ci")
    estimate = stat.value()
    if np.isnan(estimate):
        return BootstrapCI(estimate, float("nan"), float("nan"), n_resamples, n_resamples, confidence, seed)
    values = bootstrap_values(stat, n_resamples=n_resamples, seed=seed)
    lo, hi, undefined = percentile_interval(values, confidence)
    return BootstrapCI(estimate, lo, hi, n_resamples, undefined, confidence, seed)
