"""Monitoring statistics against independent computations (naive loops, scipy)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from harness.monitor.stats import (
    chi2_mix,
    fisher_rates,
    ks_shift,
    median_bandwidth,
    mmd2_unbiased,
    mmd_test,
    rbf_kernel,
)


def _naive_mmd2(x: np.ndarray, y: np.ndarray, bw: float) -> float:
    k = lambda a, b: float(np.exp(-np.sum((a - b) ** 2) / (2 * bw * bw)))  # noqa: E731
    n, m = len(x), len(y)
    sxx = sum(k(x[i], x[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    syy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    sxy = sum(k(x[i], y[j]) for i in range(n) for j in range(m)) / (n * m)
    return sxx + syy - 2 * sxy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mmd2_equals_the_double_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(13, 3)), rng.normal(0.5, 1.2, size=(9, 3))
    assert mmd2_unbiased(x, y, 1.3) == pytest.approx(_naive_mmd2(x, y, 1.3), abs=1e-12)
    r = mmd_test(x, y, permutations=99, bandwidth=1.3)
    assert r.statistic == pytest.approx(_naive_mmd2(x, y, 1.3), abs=1e-12)


def test_batched_permutations_equal_one_by_one() -> None:
    from harness.monitor.stats import _mmd2_batch, _mmd2_from_kernel

    rng = np.random.default_rng(5)
    z = rng.normal(size=(20, 4))
    k = rbf_kernel(z, z, median_bandwidth(z))
    masks = np.zeros((20, 7), dtype=bool)
    expected = []
    for j in range(7):
        perm = rng.permutation(20)
        masks[perm[:8], j] = True
        expected.append(_mmd2_from_kernel(k, np.sort(perm[:8]), np.sort(perm[8:])))
    got = _mmd2_batch(k, k.sum(axis=0), float(k.sum()), masks, 8)
    np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize(("shift", "seed"), [(0.0, 0), (0.4, 1), (0.8, 2)])
def test_mmd_p_value_agrees_with_scipy_permutation_test(shift: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(25, 2)), rng.normal(shift, 1.0, size=(20, 2))
    bw = median_bandwidth(np.vstack([x, y]))
    ours = mmd_test(x, y, permutations=2000, seed=seed, bandwidth=bw)
    z = np.vstack([x, y])
    # scipy permutes 1-D samples: permute row indices and look the rows up
    ref = sps.permutation_test(
        (np.arange(25), np.arange(25, 45)),
        lambda a, b: mmd2_unbiased(z[a.astype(int)], z[b.astype(int)], bw),
        permutation_type="independent",
        n_resamples=2000,
        alternative="greater",
        vectorized=False,
        random_state=seed + 100,
    )
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    # two Monte Carlo estimates of one p-value: within 5 standard errors of each other
    se = np.sqrt(max(ref.pvalue * (1 - ref.pvalue), 1e-3) / 2000) * np.sqrt(2)
    assert abs(ours.p_value - ref.pvalue) <= 5 * se + 1e-3


def test_mmd_p_value_is_uniform_enough_under_the_null() -> None:
    rng = np.random.default_rng(11)
    ps = [
        mmd_test(rng.normal(size=(20, 2)), rng.normal(size=(20, 2)), permutations=199, seed=s).p_value
        for s in range(60)
    ]
    # at the 5% level, 60 null tests reject 3 on average; P(Binomial(60, 0.05) >= 9) < 0.5%
    assert sum(p <= 0.05 for p in ps) < 9
    assert min(ps) >= 1 / 200


def test_univariate_tests_match_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.poisson(12, 80).tolist(), rng.poisson(15, 60).tolist()
    r = ks_shift(a, b)
    ref = sps.ks_2samp(a, b)
    assert (r.statistic, r.p_value) == pytest.approx((ref.statistic, ref.pvalue))
    ra = ["latin"] * 70 + ["cyrillic"] * 10
    rb = ["latin"] * 30 + ["cyrillic"] * 25 + ["cjk"] * 5
    r = chi2_mix(ra, rb)
    chi2, p, _, _ = sps.chi2_contingency([[70, 10, 0], [30, 25, 5]][::1], correction=False)
    # our table orders categories alphabetically; the statistic does not depend on the order
    assert (r.statistic, r.p_value) == pytest.approx((chi2, p))
    assert r.effect == pytest.approx(np.sqrt(chi2 / 140))
    f = fisher_rates(3, 100, 12, 100, alternative="greater")
    assert f.p_value == pytest.approx(sps.fisher_exact([[12, 88], [3, 97]], alternative="greater")[1])
    assert f.effect == pytest.approx(0.09)
