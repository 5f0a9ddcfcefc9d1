"""The scipy-free normal and t quantiles agree with scipy (the independent implementation)."""

from __future__ import annotations

import pytest
from scipy import stats

from harness.agreement.distributions import normal_ppf, normal_sf, t_cdf, t_ppf


@pytest.mark.parametrize("df", [1, 2, 3, 5, 9, 19, 49, 199, 1999, 19_999])
@pytest.mark.parametrize("p", [0.9, 0.95, 0.975, 0.995, 0.9995, 0.025, 0.005])
def test_t_quantile_matches_scipy(p: float, df: int) -> None:
    assert t_ppf(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)
    assert t_cdf(t_ppf(p, df), df) == pytest.approx(p, rel=1e-9)


@pytest.mark.parametrize("p", [1e-6, 0.025, 0.3, 0.5, 0.975, 0.999])
def test_normal_matches_scipy(p: float) -> None:
    assert normal_ppf(p) == pytest.approx(stats.norm.ppf(p), rel=1e-12, abs=1e-15)
    z = abs(stats.norm.ppf(p))
    assert normal_sf(z) == pytest.approx(stats.norm.sf(z), rel=1e-12)


def test_t_quantile_outside_domain_is_nan() -> None:
    assert t_ppf(0.0, 5) != t_ppf(0.0, 5)
    assert t_ppf(0.5, 0) != t_ppf(0.5, 0)
