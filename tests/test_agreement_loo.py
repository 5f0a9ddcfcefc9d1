"""Leave-one-rater-out statistics computed for all raters at once equal the per-rater direct computation."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement.coefficients import krippendorff_alpha
from harness.agreement.diagnostics import loo_consensus, rater_diagnostics
from harness.agreement.loo import alpha_without_each, loo_consensus_cells

LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _data(seed: int, items: int = 60, raters: int = 7, missing: float = 0.5, q: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, size=(items, 1))
    data = np.clip(truth + rng.integers(-1, 2, size=(items, raters)), 0, q - 1).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(6))
def test_consensus_cells_equal_per_rater_consensus(level: str, seed: int) -> None:
    data = _data(seed, missing=0.3 + 0.1 * seed)
    ii, jj, cons = loo_consensus_cells(data, level)
    assert len(ii) == int((~np.isnan(data)).sum())
    for j in range(data.shape[1]):
        direct = loo_consensus(data, j, level)
        mine = jj == j
        np.testing.assert_allclose(cons[mine], direct[ii[mine]], rtol=0, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(6))
def test_alpha_without_each_equals_direct(level: str, seed: int) -> None:
    data = _data(seed, missing=0.2 + 0.1 * seed)
    fast = alpha_without_each(data, level)
    assert fast is not None
    direct = [krippendorff_alpha(np.delete(data, j, axis=1), level=level) for j in range(data.shape[1])]
    np.testing.assert_allclose(fast, direct, rtol=0, atol=1e-9, equal_nan=True)


def test_alpha_without_each_undefined_cases() -> None:
    # rater 2 alone makes the other items pairable; without rater 0 only one category remains
    data = np.array([[1, 1, np.nan], [1, 1, 1], [2, np.nan, np.nan], [np.nan, 2, 1]], dtype=float)
    fast = alpha_without_each(data, "nominal")
    direct = [krippendorff_alpha(np.delete(data, j, axis=1), level="nominal") for j in range(3)]
    np.testing.assert_allclose(fast, direct, atol=1e-12, equal_nan=True)


def test_many_categories_fall_back() -> None:
    rng = np.random.default_rng(1)
    data = rng.normal(size=(50, 4))
    assert alpha_without_each(data, "interval") is None
    rows = rater_diagnostics(data, level="interval", rater_ids=list("abcd"))
    direct = krippendorff_alpha(np.delete(data, 2, axis=1), level="interval")
    assert rows[2]["alpha_without"] == pytest.approx(direct, abs=1e-12)


def test_crowd_shape_many_raters_few_ratings_each() -> None:
    rng = np.random.default_rng(3)
    items, raters = 300, 200
    data = np.full((items, raters), np.nan)
    for i in range(items):
        who = rng.choice(raters, size=3, replace=False)
        data[i, who] = rng.integers(1, 4, size=3)
    rows = rater_diagnostics(data, level="ordinal", rater_ids=[f"r{j}" for j in range(raters)])
    for j in (0, 57, 199):
        direct = krippendorff_alpha(np.delete(data, j, axis=1), level="ordinal")
        assert rows[j]["alpha_without"] == pytest.approx(direct, abs=1e-9, nan_ok=True)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("seed", range(4))
def test_item_disagreement_by_counts_equals_pairwise(level: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.agreement import diagnostics

    data = _data(seed, items=120, raters=9, missing=0.2 + 0.15 * seed) + 1
    fast = diagnostics.item_disagreement(data, level=level)
    monkeypatch.setattr(diagnostics, "_pair_sums_by_counts", lambda x, level: None)
    pairwise = diagnostics.item_disagreement(data, level=level)
    np.testing.assert_allclose(fast, pairwise, rtol=1e-10, atol=1e-12, equal_nan=True)
