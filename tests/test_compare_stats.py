"""Paired statistics against scipy and statsmodels on constructed data."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as sps
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.errors import InputError
from harness.stats.bootstrap import bootstrap_mean, paired_bootstrap
from harness.stats.paired import binomial_test, holm, mcnemar_exact, transitions

B = 20_000


def _scipy_paired(base: np.ndarray, cand: np.ndarray, method: str, confidence: float = 0.95) -> tuple[float, float]:
    res = sps.bootstrap(
        (base, cand),
        lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=B,
        method=method,
        confidence_level=confidence,
        rng=np.random.default_rng(12345),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _continuous_pair(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.beta(2, 3, n)
    cand = np.clip(base + rng.normal(0.04, 0.15, n) + rng.exponential(0.05, n), 0, 1)
    return base, cand


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(12, 150), method=st.sampled_from(["bca", "percentile"]))
def test_paired_bootstrap_interval_matches_scipy(seed: int, n: int, method: str) -> None:
    base, cand = _continuous_pair(seed, n)
    ours = paired_bootstrap(base, cand, resamples=B, seed=seed, method=method)
    lo, hi = ours.interval(0.95)
    slo, shi = _scipy_paired(base, cand, method)
    se = float(np.std(cand - base, ddof=1) / np.sqrt(n))
    # Two independent Monte Carlo runs of 20,000 resamples: endpoints agree to a few % of the SE.
    assert ours.estimate == pytest.approx(float(np.mean(cand - base)), abs=1e-12)
    assert lo == pytest.approx(slo, abs=0.12 * se)
    assert hi == pytest.approx(shi, abs=0.12 * se)


@pytest.mark.parametrize("method", ["bca", "percentile"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_paired_bootstrap_on_binary_scores_matches_scipy(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 80
    base = (rng.random(n) < 0.55).astype(float)
    cand = np.where(rng.random(n) < 0.25, 1.0, base)
    ours = paired_bootstrap(base, cand, resamples=B, seed=seed, method=method).interval(0.95)
    theirs = _scipy_paired(base, cand, method)
    # Means of binary differences live on a lattice of step 1/n: allow one step of Monte Carlo jitter.
    assert ours[0] == pytest.approx(theirs[0], abs=1.0 / n + 1e-9)
    assert ours[1] == pytest.approx(theirs[1], abs=1.0 / n + 1e-9)


def test_bca_acceleration_and_bias_match_the_jackknife_definition() -> None:
    base, cand = _continuous_pair(7, 40)
    d = cand - base
    b = paired_bootstrap(base, cand, resamples=4000, seed=0, method="bca")
    # Jackknife written out directly: leave-one-out means and the textbook acceleration.
    loo = np.array([np.delete(d, i).mean() for i in range(d.size)])
    u = loo.mean() - loo
    a = np.sum(u**3) / (6 * np.sum(u**2) ** 1.5)
    assert b.acceleration == pytest.approx(a, rel=1e-9)
    share = (np.sum(b.replicates < d.mean()) + np.sum(b.replicates <= d.mean())) / (2 * b.resamples)
    assert b.z0 == pytest.approx(float(sps.norm.ppf(share)), abs=1e-12)


def test_same_seed_same_interval_other_seed_other_draws() -> None:
    base, cand = _continuous_pair(3, 50)
    a = paired_bootstrap(base, cand, resamples=3000, seed=5)
    b = paired_bootstrap(base, cand, resamples=3000, seed=5)
    c = paired_bootstrap(base, cand, resamples=3000, seed=6)
    assert a.interval(0.9) == b.interval(0.9)
    assert not np.array_equal(a.replicates, c.replicates)


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_p_value_agrees_with_the_interval(method: str) -> None:
    """'The (1 − α) interval excludes θ0' and 'p < α' are the same statement (up to resample resolution)."""
    base, cand = _continuous_pair(11, 60)
    b = paired_bootstrap(base, cand, resamples=B, seed=1, method=method)
    for conf in (0.8, 0.9, 0.95, 0.99):
        lo, hi = b.interval(conf)
        for null in np.linspace(lo - 0.05, hi + 0.05, 41):
            p = b.p_value(float(null))
            if abs(null - lo) < 2e-3 or abs(null - hi) < 2e-3:
                continue  # at an endpoint either answer is right
            assert (p < 1 - conf) == (null < lo or null > hi), (conf, null, p, lo, hi)


def test_p_value_of_a_clear_effect_is_floored_not_zero() -> None:
    b = paired_bootstrap(np.zeros(30), np.full(30, 0.5) + np.linspace(0, 0.1, 30), resamples=999, seed=0)
    assert b.p_value(0.0) == pytest.approx(2 / 1000)


def test_degenerate_differences_give_a_point_interval() -> None:
    b = paired_bootstrap([0, 1, 0, 1], [0, 1, 0, 1], resamples=500)
    assert b.degenerate and tuple(b.interval(0.95)) == (0.0, 0.0)
    assert b.p_value(0.0) == 1.0


def test_resampling_paths_agree_in_distribution() -> None:
    """Few distinct values use multinomial counts, many use index draws: same distribution."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, 400) / 2.0  # three distinct values: multinomial path
    y = x + rng.normal(0, 1e-9, x.size)  # all distinct: index path
    bx = bootstrap_mean(x, resamples=B, seed=1, method="percentile")
    by = bootstrap_mean(y, resamples=B, seed=2, method="percentile")
    se = x.std(ddof=1) / np.sqrt(x.size)
    assert np.std(bx.replicates) == pytest.approx(se, rel=0.05)
    assert np.std(by.replicates) == pytest.approx(se, rel=0.05)
    for q in (0.025, 0.5, 0.975):
        assert np.quantile(bx.replicates, q) == pytest.approx(np.quantile(by.replicates, q), abs=0.1 * se)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="at least 2"):
        bootstrap_mean([0.5])
    with pytest.raises(InputError, match="finite"):
        bootstrap_mean([0.5, float("nan")])
    with pytest.raises(InputError, match="'method' parameter of bootstrap_mean must be one of"):
        bootstrap_mean([0.1, 0.2], method="bcaa")
    with pytest.raises(InputError, match="as many base as candidate"):
        paired_bootstrap([0, 1], [0, 1, 1])


@settings(max_examples=200, deadline=None)
@given(
    pairs=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=80),
)
def test_mcnemar_exact_matches_statsmodels(pairs: list[tuple[int, int]]) -> None:
    x = np.array([p[0] for p in pairs], dtype=float)
    y = np.array([p[1] for p in pairs], dtype=float)
    table = [[int(np.sum((x == 1) & (y == 1))), int(np.sum((x == 1) & (y == 0)))],
             [int(np.sum((x == 0) & (y == 1))), int(np.sum((x == 0) & (y == 0)))]]
    ours = mcnemar_exact(x, y)
    theirs = mcnemar(table, exact=True)
    assert ours.p_value == pytest.approx(float(theirs.pvalue), rel=1e-12, abs=1e-15)
    assert (ours.fixed, ours.broken) == (table[1][0], table[0][1])


def test_mcnemar_by_hand() -> None:
    """6 discordant pairs one way, 1 the other: p = 2 · P(X <= 1) with X ~ Bin(7, 1/2) = 2 · 8/128."""
    r = mcnemar_exact([0] * 6 + [1] + [1] * 10, [1] * 6 + [0] + [1] * 10)
    assert (r.fixed, r.broken) == (6, 1)
    assert r.p_value == pytest.approx(16 / 128)


def test_mcnemar_needs_binary_scores() -> None:
    with pytest.raises(InputError, match="binary"):
        mcnemar_exact([0.5, 1], [1, 1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=12))
def test_holm_matches_statsmodels(p: list[float]) -> None:
    ours = holm(p)
    theirs = multipletests(p, method="holm")[1]
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_holm_edge_cases() -> None:
    assert holm([]).size == 0
    assert holm([0.2]).tolist() == [0.2]
    with pytest.raises(InputError):
        holm([0.1, 1.5])


def test_binomial_test_matches_scipy_definition() -> None:
    assert binomial_test(18, 20, 0.6) == pytest.approx(sps.binomtest(18, 20, 0.6).pvalue)
    with pytest.raises(InputError):
        binomial_test(1, 0, 0.5)


def test_transitions_counts_by_hand() -> None:
    base = [0, 0, 1, 1, 0.4, 0.6, 0.5]
    cand = [1, 0, 0, 1, 0.6, 0.4, 0.5]
    t = transitions(base, cand, threshold=0.5)
    assert t.fixed == 2 and t.broken == 2 and t.unchanged == 3
    assert (t.improved, t.worsened, t.tied) == (2, 2, 3)
    assert t.fixed + t.broken + t.unchanged == len(base)


@pytest.mark.parametrize("n", [2, 5, 30])
@pytest.mark.parametrize("v0", [0.0, 0.25, 1.0])
def test_degenerate_sample_with_bounds_gets_the_exact_interval(n: int, v0: float) -> None:
    b = bootstrap_mean(np.full(n, v0), resamples=500, bounds=(0.0, 1.0))
    share = sps.binomtest(0, n).proportion_ci(confidence_level=0.9, method="exact").high
    lo, hi = b.interval(0.9)
    assert lo == pytest.approx(v0 - v0 * share) and hi == pytest.approx(v0 + (1 - v0) * share)
    # The p-value inverts that interval: p < 0.1 exactly when the 90% interval excludes the null.
    for null in np.linspace(0, 1, 41):
        if min(abs(null - lo), abs(null - hi)) < 1e-9:
            continue
        assert (b.p_value(float(null)) < 0.1) == (null < lo or null > hi)


def test_bounds_are_checked() -> None:
    with pytest.raises(InputError, match="outside the given bounds"):
        bootstrap_mean([0.5, 1.5], bounds=(0.0, 1.0))
