"""Kendall's W: published values, scipy's Friedman test on random data with ties, the bootstrap batch.

Published values:
- R ``friedman.test(RoundingTimes)`` (the example of R's ``stats::friedman.test`` help page,
  Hollander & Wolfe 1973, p. 140ff): "Friedman chi-squared = 11.143, df = 2, p-value = 0.003805";
  W = chi2 / (m (n - 1)) = 0.2532468. Kendall's W with raters as blocks is the Friedman test
  (DescTools ``KendallW`` documentation: "completely equivalent to friedman.test").
- ``irr::kendall(anxiety, correct=TRUE)`` (the example of R irr's / DescTools' ``KendallW`` help
  page, data set ``anxiety``: 20 subjects, 3 raters), as pinned by the pyirr port's test suite
  (tests/test_kendall.py): Wt = 0.54, Chisq(19) = 30.8, p = 0.0429.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from harness.agreement import agreement_report, bootstrap_values, kendall_w
from harness.agreement.concordance import kendall_w_stat
from harness.agreement.ratings import Rating

ROUNDING_TIMES = np.array(
    [
        [5.40, 5.50, 5.55], [5.85, 5.70, 5.75], [5.20, 5.60, 5.50], [5.55, 5.50, 5.40],
        [5.90, 5.85, 5.70], [5.45, 5.55, 5.60], [5.40, 5.40, 5.35], [5.45, 5.50, 5.35],
        [5.25, 5.15, 5.00], [5.85, 5.80, 5.70], [5.25, 5.20, 5.10], [5.65, 5.55, 5.45],
        [5.60, 5.35, 5.45], [5.05, 5.00, 4.95], [5.50, 5.50, 5.40], [5.45, 5.55, 5.50],
        [5.55, 5.55, 5.35], [5.45, 5.50, 5.55], [5.50, 5.45, 5.25], [5.65, 5.60, 5.40],
        [5.70, 5.65, 5.55], [6.30, 6.30, 6.25],
    ]
)  # fmt: skip
ANXIETY = np.array(
    [
        [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3],
        [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],
        [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],
    ]
).T


def test_rounding_times_matches_r_friedman_test() -> None:
    # Players are the blocks (raters), the three methods the items.
    res = kendall_w(ROUNDING_TIMES.T)
    assert (res.n_items, res.n_raters, res.df) == (3, 22, 2)
    assert res.ties
    assert res.chi2 == pytest.approx(11.143, abs=5e-4)
    assert res.p_value == pytest.approx(0.003805, abs=5e-7)
    assert res.w == pytest.approx(0.2532468, abs=5e-8)


def test_anxiety_matches_irr_kendall_corrected() -> None:
    res = kendall_w(ANXIETY)
    assert (res.n_items, res.n_raters, res.df) == (20, 3, 19)
    assert round(res.w, 2) == 0.54
    assert round(res.chi2, 1) == 30.8
    assert round(res.p_value, 4) == 0.0429


def test_missing_ratings_drop_the_item() -> None:
    full = ANXIETY.astype(float)
    holed = full.copy()
    holed[[0, 5], [1, 2]] = np.nan
    assert kendall_w(holed) == kendall_w(np.delete(full, [0, 5], axis=0))
    assert kendall_w(holed).n_items == 18


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ([[1], [2], [3]], "two raters"),
        ([[1, 2], [np.nan, 1], [2, np.nan]], "two or more items"),
        ([[1, 2], [1, 2], [1, 2]], "same score"),
    ],
)
def test_undefined_is_nan_with_a_reason(data: list, reason: str) -> None:
    assert np.isnan(kendall_w(data).w)
    assert reason in (kendall_w_stat(data).reason or "")


def test_perfect_and_reversed_agreement() -> None:
    x = np.arange(6, dtype=float)
    assert kendall_w(np.column_stack([x, x, x])).w == pytest.approx(1.0)
    # Two raters in exactly opposite order: rank sums are all equal, W = 0.
    assert kendall_w(np.column_stack([x, -x])).w == pytest.approx(0.0, abs=1e-12)


@st.composite
def tied_scores(draw: st.DrawFn) -> np.ndarray:
    n = draw(st.integers(2, 12))
    m = draw(st.integers(2, 6))
    cells = draw(st.lists(st.integers(1, 4), min_size=n * m, max_size=n * m))
    return np.array(cells, dtype=float).reshape(n, m)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_scores())
def test_against_scipy_friedman(x: np.ndarray) -> None:
    res = kendall_w(x)
    n, m = x.shape
    if all(len(np.unique(x[:, j])) == 1 for j in range(m)):
        assert np.isnan(res.w)
        return
    # scipy's Friedman test takes one argument per item (treatment), raters as blocks, tie-corrected.
    ref = stats.friedmanchisquare(*x) if n >= 3 else None
    ranks = np.apply_along_axis(stats.rankdata, 0, x)
    t = sum(((c := np.unique(x[:, j], return_counts=True)[1]) ** 3 - c).sum() for j in range(m))
    s = ((ranks.sum(axis=1) - m * (n + 1) / 2) ** 2).sum()
    w_direct = 12 * s / (m**2 * (n**3 - n) - m * t)
    assert res.w == pytest.approx(w_direct, abs=1e-10)
    if ref is not None and np.isfinite(ref.statistic):
        assert res.chi2 == pytest.approx(ref.statistic, abs=1e-9)
        assert res.p_value == pytest.approx(ref.pvalue, abs=1e-9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tied_scores(), st.integers(0, 2**16))
def test_bootstrap_batch_equals_recomputation(x: np.ndarray, seed: int) -> None:
    stat = kendall_w_stat(x)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(stat.n_items, np.full(len(stat.mult), 1 / len(stat.mult))).astype(float)
    # The same item weights applied by repeating each item's pattern rows, then computed directly.
    patterns = [x[stat.item_pattern == p][0] for p in range(len(stat.mult))]
    rebuilt = np.array([patterns[p] for p in range(len(stat.mult)) for _ in range(int(counts[p]))])
    batch = stat.batch(counts[None, :])[0]
    direct = kendall_w(rebuilt).w if len(rebuilt) else np.nan
    if np.isnan(direct):
        assert np.isnan(batch)
    else:
        assert batch == pytest.approx(direct, abs=1e-10)


def test_bootstrap_values_are_seeded() -> None:
    stat = kendall_w_stat(ANXIETY)
    a = bootstrap_values(stat, n_resamples=50, seed=3)
    assert np.array_equal(a, bootstrap_values(stat, n_resamples=50, seed=3))
    assert np.nanstd(a) > 0


def _rows(x: np.ndarray) -> list[Rating]:
    return [Rating(f"i{u}", f"r{j}", float(x[u, j])) for u in range(x.shape[0]) for j in range(x.shape[1])]


def test_in_the_agreement_document_at_ordinal_and_above() -> None:
    for level in ("ordinal", "interval", "ratio"):
        doc = agreement_report(_rows(ANXIETY), level=level, bootstrap=100)
        e = doc["groups"][0]["coefficients"]["kendall_w"]
        assert round(e["value"], 2) == 0.54 and e["df"] == 19 and e["n"] == 20
        assert round(e["p_value"], 4) == 0.0429
        assert e["ci"][0] < e["value"] < e["ci"][1]
    doc = agreement_report(_rows(ANXIETY), level="nominal", bootstrap=0)
    e = doc["groups"][0]["coefficients"]["kendall_w"]
    assert e["value"] is None and e["applicable"] is False
