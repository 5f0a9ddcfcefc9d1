"""The vectorised bootstrap: batch values equal recomputation on resampled data; exact resample counts."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.agreement import coefficients as co
from harness.agreement.bootstrap import bootstrap_ci, bootstrap_values
from harness.agreement.coefficients import (
    cohen_kappa,
    fleiss_kappa,
    gwet_ac1,
    gwet_ac2,
    icc,
    krippendorff_alpha,
    percent_agreement,
)
from harness.errors import InputError
from harness.stats.bootstrap import percentile_interval, resample_counts

TOL = 1e-9


def _random_ratings(rng: np.random.Generator, *, continuous: bool = False) -> np.ndarray:
    n, r = int(rng.integers(5, 40)), int(rng.integers(2, 6))
    if continuous:
        data = np.round(rng.normal(10, 3, size=(n, 1)) + rng.normal(0, 1.5, size=(n, r)), 2).clip(0.01)
    else:
        data = (rng.integers(1, 5, size=(n, 1)) + rng.integers(-1, 2, size=(n, r))).clip(1, 5).astype(float)
    data[rng.random((n, r)) < 0.2] = np.nan
    return data


def _cases(data: np.ndarray, labels: np.ndarray):
    """(stat, recompute) pairs: recompute(resampled data) must equal the stat's batch value."""
    a, b = data[:, 0], data[:, 1]
    yield co.percent_agreement_stat(data), percent_agreement
    yield co.fleiss_kappa_stat(data, labels=labels), lambda d: fleiss_kappa(d, labels=labels)
    yield co.gwet_stat(data, labels=labels), lambda d: gwet_ac1(d, labels=labels)
    for w in ("linear", "quadratic", "ratio"):
        yield (
            co.gwet_stat(data, weights=w, labels=labels, func="gwet_ac2"),
            lambda d, w=w: gwet_ac2(d, weights=w, labels=labels),
        )
    for level in co.LEVELS:
        yield co.krippendorff_alpha_stat(data, level=level), lambda d, level=level: krippendorff_alpha(d, level=level)
    for w in (None, "linear", "quadratic"):
        yield (
            co.cohen_kappa_stat(a, b, weights=w, labels=labels),
            lambda d, w=w: cohen_kappa(d[:, 0], d[:, 1], weights=w, labels=labels),
        )
    for form in co.ICC_FORMS:
        yield co.icc_stat(data, form=form), lambda d, form=form: icc(d, form=form)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_batch_values_equal_recomputation_on_resampled_items(seed, continuous):
    rng = np.random.default_rng(seed)
    data = _random_ratings(rng, continuous=continuous)
    labels = np.unique(data[~np.isnan(data)])
    n = len(data)
    resamples = [rng.integers(0, n, size=n) for _ in range(3)]
    for stat, recompute in _cases(data, labels):
        assert stat.n_items == n
        P = len(stat.mult)
        W = np.array([np.bincount(stat.item_pattern[idx], minlength=P) for idx in resamples], dtype=float)
        batch = stat.batch(W)
        for value, idx in zip(batch, resamples, strict=True):
            expected = recompute(data[idx])
            assert (np.isnan(value) and np.isnan(expected)) or value == pytest.approx(expected, abs=TOL, rel=TOL)
        point = stat.value()
        full = recompute(data)
        assert (np.isnan(point) and np.isnan(full)) or point == pytest.approx(full, abs=TOL, rel=TOL)


@pytest.mark.parametrize("mult", [[3, 1, 6], [500, 300, 200, 1000, 1]])
def test_resample_counts_are_multinomial(mult):
    mult = np.array(mult, dtype=float)
    n, B = int(mult.sum()), 4000
    counts = resample_counts(mult, B, np.random.default_rng(1))
    assert counts.shape == (B, len(mult))
    assert (counts.sum(axis=1) == n).all() and (counts >= 0).all()
    p = mult / n
    mean, var = counts.mean(axis=0), counts.var(axis=0)
    assert np.abs(mean - n * p).max() <= 5 * np.sqrt(n * p * (1 - p) / B).max() + 1e-9
    np.testing.assert_allclose(var, n * p * (1 - p), rtol=0.12, atol=0.05)
    cov = np.cov(counts[:, 0], counts[:, 1])[0, 1]
    assert cov == pytest.approx(-n * p[0] * p[1], rel=0.15)


def test_bootstrap_is_seeded_and_ignores_item_order():
    rng = np.random.default_rng(5)
    data = _random_ratings(rng)
    stat = co.krippendorff_alpha_stat(data, level="ordinal")
    first = bootstrap_ci(stat, n_resamples=300, seed=9)
    assert first == bootstrap_ci(stat, n_resamples=300, seed=9)
    assert first != bootstrap_ci(stat, n_resamples=300, seed=10)
    shuffled = data[rng.permutation(len(data))][:, ::-1]
    assert bootstrap_ci(co.krippendorff_alpha_stat(shuffled, level="ordinal"), n_resamples=300, seed=9) == first
    assert first.ci_low <= first.estimate <= first.ci_high


def test_bootstrap_spread_agrees_with_the_analytic_standard_error():
    """Two independent routes to the sampling error of Fleiss' kappa on 400 items."""
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 3, size=(400, 1))
    data = np.where(rng.random((400, 4)) < 0.7, truth, rng.integers(0, 3, size=(400, 4))).astype(float)
    data[rng.random(data.shape) < 0.1] = np.nan
    from harness.agreement.analytic import fleiss_kappa_se

    values = bootstrap_values(co.fleiss_kappa_stat(data), n_resamples=2000, seed=0)
    assert np.std(values) == pytest.approx(fleiss_kappa_se(data).se, rel=0.1)


def test_large_bootstrap_uses_chunks_and_poisson_split():
    rng = np.random.default_rng(2)
    data = (rng.integers(1, 6, size=(3000, 1)) + rng.integers(-1, 2, size=(3000, 6))).clip(1, 5).astype(float)
    data[rng.random(data.shape) < 0.3] = np.nan
    res = bootstrap_ci(co.krippendorff_alpha_stat(data, level="interval"), n_resamples=500, seed=0)
    assert res.n_undefined == 0 and res.ci_low < res.estimate < res.ci_high
    assert res.ci_high - res.ci_low < 0.05


def test_percentile_interval_counts_undefined_resamples():
    lo, hi, undefined = percentile_interval(np.array([0.1, np.nan, 0.3, 0.2, np.nan]), 0.5)
    assert undefined == 2 and lo == pytest.approx(0.15) and hi == pytest.approx(0.25)
    assert np.isnan(percentile_interval(np.array([np.nan]), 0.95)[0])


def test_undefined_estimate_has_no_interval():
    res = bootstrap_ci(co.krippendorff_alpha_stat(np.full((5, 3), 2.0), level="nominal"), n_resamples=50)
    assert np.isnan(res.estimate) and np.isnan(res.ci_low) and res.n_undefined == 50


@pytest.mark.parametrize("bad", [{"n_resamples": 0}, {"confidence": 1.5}])
def test_bad_bootstrap_parameters(bad):
    stat = co.percent_agreement_stat(np.array([[1, 1], [1, 2]]))
    with pytest.raises(InputError):
        bootstrap_ci(stat, **bad)
