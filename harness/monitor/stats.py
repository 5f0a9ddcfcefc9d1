"""Two-sample statistics for monitoring: MMD with a permutation p-value, and the univariate tests.

Every function returns a :class:`TestResult` (statistic, p-value, effect size and what they are),
so a report can state each one the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats as sps

from harness.errors import InputError

__all__ = [
    "TestResult",
    "chi2_mix",
    "fisher_rates",
    "ks_shift",
    "median_bandwidth",
    "mmd2_unbiased",
    "mmd_test",
    "rbf_kernel",
]


class TestResult(NamedTuple):
    """A two-sample test: the statistic, its p-value, an effect size and the names of both."""

    statistic: float
    p_value: float
    effect: float
    statistic_name: str
    effect_name: str


def rbf_kernel(a: np.ndarray, b: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel ``exp(-||a_i - b_j||^2 / (2 bandwidth^2))``."""
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.exp(-np.maximum(d2, 0.0) / (2.0 * bandwidth * bandwidth))


def median_bandwidth(z: np.ndarray) -> float:
    """The median heuristic: the median Euclidean distance between distinct rows of ``z``."""
    d2 = (z * z).sum(1)[:, None] + (z * z).sum(1)[None, :] - 2.0 * z @ z.T
    iu = np.triu_indices(z.shape[0], k=1)
    med = float(np.median(np.sqrt(np.maximum(d2[iu], 0.0))))
    return med if med > 0 else 1.0


def _mmd2_from_kernel(k: np.ndarray, x_idx: np.ndarray, y_idx: np.ndarray) -> float:
    kxx = k[np.ix_(x_idx, x_idx)]
    kyy = k[np.ix_(y_idx, y_idx)]
    kxy = k[np.ix_(x_idx, y_idx)]
    n, m = len(x_idx), len(y_idx)
    sxx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, bandwidth: float) -> float:
    """Unbiased estimate of the squared maximum mean discrepancy (Gretton et al., 2012, eq. 3).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x, y = rng.normal(size=(50, 2)), rng.normal(loc=2.0, size=(50, 2))
        >>> mmd2_unbiased(x, y, 1.0) > mmd2_unbiased(x, rng.normal(size=(50, 2)), 1.0)
        True
    """
    if len(x) < 2 or len(y) < 2:
        raise InputError("MMD needs at least two rows on each side")
    z = np.vstack([x, y])
    k = rbf_kernel(z, z, bandwidth)
    return _mmd2_from_kernel(k, np.arange(len(x)), np.arange(len(x), len(z)))


def _mmd2_batch(k: np.ndarray, k_rows: np.ndarray, total: float, masks: np.ndarray, n: int) -> np.ndarray:
    """Unbiased MMD² for many splits at once: ``masks`` (N × B) marks the first sample's rows.

    With a the first sample's indicator and b = 1 − a: ΣXX = aᵀKa, ΣXY = aᵀK1 − aᵀKa and
    ΣYY = 1ᵀK1 − 2aᵀK1 + aᵀKa; the diagonal (1 for a Gaussian kernel) is taken out of ΣXX and ΣYY.
    """
    m = masks.shape[0] - n
    a = masks.astype(np.float64)
    quad = np.einsum("ib,ib->b", a, k @ a)
    lin = k_rows @ a
    diag_x = np.diag(k) @ a
    diag_y = np.trace(k) - diag_x
    sxx = (quad - diag_x) / (n * (n - 1))
    syy = (total - 2 * lin + quad - diag_y) / (m * (m - 1))
    sxy = (lin - quad) / (n * m)
    return sxx + syy - 2 * sxy


def mmd_test(
    x: np.ndarray, y: np.ndarray, *, permutations: int = 2000, seed: int = 0, bandwidth: float | None = None
) -> TestResult:
    """MMD two-sample test with a permutation p-value.

    The kernel is Gaussian with the median heuristic on the pooled sample unless ``bandwidth`` is
    given; the p-value is ``(1 + #{permuted MMD² >= observed}) / (1 + permutations)``, which is a
    valid (never anti-conservative) permutation p-value, so it is never below
    ``1 / (1 + permutations)``.
    """
    if len(x) < 2 or len(y) < 2:
        raise InputError("MMD needs at least two rows on each side")
    z = np.vstack([x, y]).astype(np.float64)
    bw = median_bandwidth(z) if bandwidth is None else bandwidth
    k = rbf_kernel(z, z, bw)
    n, total_n = len(x), len(z)
    observed = _mmd2_from_kernel(k, np.arange(n), np.arange(n, total_n))
    rng = np.random.default_rng(seed)
    k_rows, total = k.sum(axis=0), float(k.sum())
    exceed, done = 0, 0
    batch = max(1, min(permutations, 4_000_000 // total_n))  # bounds the N × batch matrices' memory
    while done < permutations:
        b = min(batch, permutations - done)
        masks = np.zeros((total_n, b), dtype=bool)
        for j in range(b):
            masks[rng.permutation(total_n)[:n], j] = True
        stats = _mmd2_batch(k, k_rows, total, masks, n)
        exceed += int((stats >= observed - 1e-12 * max(1.0, abs(observed))).sum())
        done += b
    p = (1 + exceed) / (1 + permutations)
    return TestResult(observed, p, float(np.sqrt(max(observed, 0.0))), "MMD² (unbiased)", "MMD")


def ks_shift(reference: Sequence[float], window: Sequence[float]) -> TestResult:
    """Kolmogorov–Smirnov two-sample test; the effect is D itself (the largest gap between the CDFs)."""
    r = sps.ks_2samp(np.asarray(reference, float), np.asarray(window, float))
    return TestResult(float(r.statistic), float(r.pvalue), float(r.statistic), "KS D", "KS D")


def chi2_mix(reference: Sequence[str], window: Sequence[str]) -> TestResult:
    """Chi-square test of the category mix (2 × K table); the effect is Cramér's V."""
    cats = sorted(set(reference) | set(window))
    if len(cats) < 2:
        return TestResult(0.0, 1.0, 0.0, "chi²", "Cramér's V")
    table = np.array([[sum(1 for c in side if c == k) for k in cats] for side in (reference, window)])
    chi2, p, _, _ = sps.chi2_contingency(table, correction=False)
    v = float(np.sqrt(chi2 / (table.sum() * (min(table.shape) - 1))))
    return TestResult(float(chi2), float(p), v, "chi²", "Cramér's V")


def fisher_rates(ref_hits: int, ref_n: int, win_hits: int, win_n: int, *, alternative: str = "two-sided") -> TestResult:
    """Fisher's exact test of two proportions; the effect is the window's rate minus the reference's.

    ``alternative="greater"`` tests whether the window's rate is higher, ``"less"`` lower.
    """
    if ref_n <= 0 or win_n <= 0:
        raise InputError("a rate needs at least one row on each side")
    table = [[win_hits, win_n - win_hits], [ref_hits, ref_n - ref_hits]]
    odds, p = sps.fisher_exact(table, alternative=alternative)
    return TestResult(float(odds), float(p), win_hits / win_n - ref_hits / ref_n, "odds ratio", "rate difference")
