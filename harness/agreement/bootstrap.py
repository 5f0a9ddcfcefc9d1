"""Vectorised, seeded bootstrap over items.

A resample draws ``n`` items with replacement from the ``n`` items of the data. Items with
identical sufficient statistics (an :class:`~harness.agreement.suffstats.ItemStat` pattern) are
interchangeable, so a resample is fully described by how many items it draws from each pattern:
a ``Multinomial(n, mult / n)`` vector. All resamples are drawn as one ``(B, P)`` count matrix and
the coefficient is evaluated for all of them by the statistic's batch function (a few matrix
products), never by recomputing the coefficient once per resample.

Large ``n``: the multinomial counts are drawn exactly by the Poisson split: independent
``Poisson(lam * p_j)`` counts are, given their total ``s``, ``Multinomial(s, p)``; a resample
with ``s <= n`` is completed with ``Multinomial(n - s, p)`` drawn item by item (``n - s`` is small
for ``lam = n - 4 sqrt(n)``), and a resample with ``s > n`` (probability ~3e-5) is drawn again.

The interval is the percentile interval of the resampled values; resamples on which the
coefficient is undefined (e.g. every drawn rating in one category) are counted and left out.

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
from threadpoolctl import threadpool_limits

from harness.agreement.suffstats import ItemStat
from harness.errors import InputError

__all__ = ["BootstrapCI", "bootstrap_ci", "bootstrap_values", "percentile_interval", "resample_counts"]

_POISSON_SPLIT_MIN_ITEMS = 1000
_CHUNK_ENTRIES = 1 << 22
_CHUNK_RESAMPLES = 128


class BootstrapCI(NamedTuple):
    """A point estimate with its percentile bootstrap interval."""

    estimate: float
    ci_low: float
    ci_high: float
    n_resamples: int
    n_undefined: int
    confidence: float
    seed: int


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


def bootstrap_values(stat: ItemStat, *, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """The coefficient on ``n_resamples`` item resamples (NaN where undefined), seeded.

    Args:
        stat: the coefficient's sufficient statistics (``*_stat`` functions of
            :mod:`harness.agreement.coefficients`).
        n_resamples: number of resamples.
        seed: seed of ``numpy.random.default_rng``; the same data and seed give the same values.
    """
    if n_resamples < 1:
        raise InputError(f"The 'n_resamples' parameter of bootstrap_values must be >= 1; got {n_resamples}.")
    rng = np.random.default_rng(seed)
    P = max(len(stat.mult), 1)
    # Blocks of at most 128 resamples keep memory bounded whatever the number of patterns.
    chunk = max(1, min(n_resamples, _CHUNK_RESAMPLES, _CHUNK_ENTRIES // P))
    out = np.empty(n_resamples)
    # The products are small (resamples x patterns x a few statistics): BLAS threads only add
    # start-up and contention cost, which dominates on a busy machine, so keep BLAS single-threaded.
    from harness.progress import step

    with threadpool_limits(limits=1, user_api="blas"), step("bootstrap resamples", total=n_resamples) as shown:
        for start in range(0, n_resamples, chunk):
            b = min(chunk, n_resamples - start)
            out[start : start + b] = stat.batch(resample_counts(stat.mult, b, rng).astype(float))
            shown.advance(b)
    return out


def percentile_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, int]:
    """Percentile interval of the defined values, and how many were undefined (NaN)."""
    ok = values[~np.isnan(values)]
    undefined = int(len(values) - len(ok))
    if ok.size == 0:
        return float("nan"), float("nan"), undefined
    tail = (1 - confidence) / 2
    lo, hi = np.quantile(ok, [tail, 1 - tail])
    return float(lo), float(hi), undefined


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
    if not 0 < confidence < 1:
        raise InputError(f"The 'confidence' parameter of bootstrap_ci must be in (0, 1); got {confidence!r}.")
    estimate = stat.value()
    if np.isnan(estimate):
        return BootstrapCI(estimate, float("nan"), float("nan"), n_resamples, n_resamples, confidence, seed)
    values = bootstrap_values(stat, n_resamples=n_resamples, seed=seed)
    lo, hi, undefined = percentile_interval(values, confidence)
    return BootstrapCI(estimate, lo, hi, n_resamples, undefined, confidence, seed)
