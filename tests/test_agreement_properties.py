"""Coefficients against independent implementations on random data with missing values, and invariances.

Oracles: ``krippendorff`` (alpha, all levels), ``sklearn.metrics.cohen_kappa_score`` and
``statsmodels`` (Cohen's kappa with its variances, Fleiss' kappa), ``irrCAC`` (Gwet AC1/AC2,
generalised Fleiss kappa and its SE, percent agreement), and a two-way ANOVA fitted with
statsmodels for the Shrout & Fleiss ICC forms.
"""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from harness.agreement import (
    cohen_kappa,
    cohen_kappa_se,
    fleiss_kappa,
    fleiss_kappa_se,
    gwet_ac1,
    gwet_ac2,
    icc,
    krippendorff_alpha,
    percent_agreement,
)

TOL = 1e-9
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
VALUE_POOL = [0.0, 0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0]


@st.composite
def ratings(draw, *, min_raters=1, max_raters=6, max_items=25, missing=True, pool=VALUE_POOL):
    """A random items x raters matrix over a random category set, with NaN for missing."""
    n = draw(st.integers(1, max_items))
    r = draw(st.integers(min_raters, max_raters))
    cats = sorted(draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6, unique=True)))
    cells = draw(st.lists(st.integers(-1 if missing else 0, len(cats) - 1), min_size=n * r, max_size=n * r))
    values = np.array([np.nan if c < 0 else cats[c] for c in cells]).reshape(n, r)
    return values, np.array(cats)


def _close(ours: float, theirs: float) -> None:
    assert ours == pytest.approx(theirs, abs=TOL, rel=TOL)


def _oracle(fn, *args, **kwargs):
    """Call an oracle, silencing its own warnings; None when it refuses the input."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            out = fn(*args, **kwargs)
        except (ValueError, ZeroDivisionError, FloatingPointError):
            return None
    return out


# ---------------------------------------------------------------------------- Krippendorff's alpha
@SETTINGS
@given(ratings(), st.sampled_from(["nominal", "ordinal", "interval", "ratio"]))
def test_alpha_matches_krippendorff_package(sample, level):
    data, _ = sample
    ours = krippendorff_alpha(data, level=level)
    theirs = _oracle(krippendorff.alpha, data.T, level_of_measurement=level)
    if theirs is None or not np.isfinite(theirs):
        assert np.isnan(ours)  # undefined is NaN, never 0
    else:
        _close(ours, float(theirs))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["interval", "ratio", "ordinal", "nominal"]))
def test_alpha_with_many_distinct_values(seed, level):
    """Continuous scores: over 64 distinct values interval alpha takes the moments path."""
    rng = np.random.default_rng(seed)
    n, r = int(rng.integers(20, 60)), int(rng.integers(2, 6))
    data = np.round(rng.gamma(2.0, 3.0, size=(n, r)) + rng.normal(0, 1, size=(n, 1)).clip(0), 3)
    data[rng.random((n, r)) < 0.25] = np.nan
    theirs = _oracle(krippendorff.alpha, data.T, level_of_measurement=level)
    assume(theirs is not None and np.isfinite(theirs))
    _close(krippendorff_alpha(data, level=level), float(theirs))


# ---------------------------------------------------------------------------- Cohen's kappa
@st.composite
def two_raters(draw):
    data, cats = draw(ratings(min_raters=2, max_raters=2, max_items=40))
    extra = draw(st.booleans())  # sometimes declare an unused category
    labels = np.union1d(cats, [21.0]) if extra else cats
    return data[:, 0], data[:, 1], labels


@SETTINGS
@given(two_raters(), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_matches_sklearn(sample, weights):
    a, b, labels = sample
    both = ~np.isnan(a) & ~np.isnan(b)
    ours = cohen_kappa(a, b, weights=weights, labels=labels)
    assume(both.any())
    # scikit-learn wants class labels, not floats; weights depend only on the positions in the label set.
    ca, cb = np.searchsorted(labels, a[both]), np.searchsorted(labels, b[both])
    theirs = _oracle(cohen_kappa_score, ca, cb, labels=np.arange(len(labels)), weights=weights)
    assume(theirs is not None)
    if not np.isfinite(theirs):
        assert np.isnan(ours)
    else:
        _close(ours, float(theirs))


@SETTINGS
@given(two_raters(), st.sampled_from([None, "linear", "quadratic"]))
def test_cohen_and_its_standard_errors_match_statsmodels(sample, weights):
    a, b, labels = sample
    both = ~np.isnan(a) & ~np.isnan(b)
    res = cohen_kappa_se(a, b, weights=weights, labels=labels)
    q = len(labels)
    idx_a, idx_b = np.searchsorted(labels, a[both]).astype(int), np.searchsorted(labels, b[both]).astype(int)
    table = np.bincount(idx_a * q + idx_b, minlength=q * q).reshape(q, q)
    assume(both.any() and q >= 2)
    sm = _oracle(cohens_kappa, table, wt=weights)
    assume(sm is not None and np.isfinite(sm.kappa) and np.isfinite(sm.var_kappa))
    _close(res.value, sm.kappa)
    # Compare variances: a variance of 0 comes out as +-1e-17 in either, and a square root would magnify that.
    _close(res.se**2, max(sm.var_kappa, 0.0))
    _close(res.se_null**2, max(sm.var_kappa0, 0.0))
    assert res.ci_low < res.value < res.ci_high or res.se == 0


@SETTINGS
@given(two_raters())
def test_cohen_symmetric_and_label_renaming(sample):
    a, b, _ = sample
    k = cohen_kappa(a, b)
    k_swapped = cohen_kappa(b, a)
    renamed = {v: 100 - 3 * v for v in VALUE_POOL}  # a bijection that reverses the order
    ra = np.array([np.nan if np.isnan(v) else renamed[v] for v in a])
    rb = np.array([np.nan if np.isnan(v) else renamed[v] for v in b])
    for other in (k_swapped, cohen_kappa(ra, rb)):
        assert (np.isnan(k) and np.isnan(other)) or other == pytest.approx(k, abs=TOL)


# ---------------------------------------------------------------------------- Fleiss, Gwet, percent agreement
@SETTINGS
@given(ratings(min_raters=2, missing=False))
def test_fleiss_matches_statsmodels_on_complete_data(sample):
    data, _ = sample
    table, _ = aggregate_raters(data)
    theirs = _oracle(sm_fleiss_kappa, table)
    ours = fleiss_kappa(data)
    if theirs is None or not np.isfinite(theirs):
        assert np.isnan(ours)
    else:
        _close(ours, float(theirs))


def _irr(data: np.ndarray, cats: np.ndarray, weights: str = "identity") -> CAC | None:
    frame = pd.DataFrame(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CAC(frame, weights=weights, categories=[float(c) for c in cats], digits=15)


def _pairable(data: np.ndarray) -> bool:
    return bool(((~np.isnan(data)).sum(axis=1) >= 2).any())


@SETTINGS
@given(ratings(min_raters=2))
def test_generalised_fleiss_and_its_se_match_irrcac(sample):
    data, cats = sample
    assume(_pairable(data) and len(cats) >= 2)
    est = _oracle(lambda: _irr(data, cats).fleiss()["est"])
    assume(est is not None)
    ours = fleiss_kappa_se(data, labels=cats)
    if not np.isfinite(est["coefficient_value"]):
        assert np.isnan(ours.value)
        return
    _close(ours.value, est["coefficient_value"])
    _close(fleiss_kappa(data, labels=cats), est["coefficient_value"])
    _close(ours.p_o, est["pa"])
    _close(ours.p_e, est["pe"])
    if est["se"] > 1e-12 and np.isfinite(ours.se):
        _close(ours.se, est["se"])


@SETTINGS
@given(ratings(min_raters=2), st.sampled_from(["identity", "linear", "quadratic", "ratio"]))
def test_gwet_ac1_ac2_and_percent_agreement_match_irrcac(sample, weights):
    data, cats = sample
    assume(_pairable(data) and len(cats) >= 2)
    assume(not (weights == "ratio" and cats.min() <= 0))
    est = _oracle(lambda: _irr(data, cats, weights).gwet()["est"])
    assume(est is not None and np.isfinite(est["coefficient_value"]))
    if weights == "identity":
        ours = gwet_ac1(data, labels=cats)
        _close(percent_agreement(data), est["pa"])
    else:
        ours = gwet_ac2(data, weights=weights, labels=cats)
    _close(ours, est["coefficient_value"])


# ---------------------------------------------------------------------------- ICC
def _icc_from_anova(data: np.ndarray) -> dict[str, float]:
    """Shrout & Fleiss (1979) forms from a two-way ANOVA fitted by statsmodels (independent of harness)."""
    import statsmodels.formula.api as smf
    from statsmodels.stats.anova import anova_lm

    n, k = data.shape
    frame = pd.DataFrame(
        {
            "y": data.reshape(-1),
            "item": np.repeat(np.arange(n), k).astype(str),
            "rater": np.tile(np.arange(k), n).astype(str),
        }
    )
    table = anova_lm(smf.ols("y ~ C(item) + C(rater)", data=frame).fit())
    ss_items, ss_raters, ss_res = table["sum_sq"].to_numpy()
    bms = ss_items / (n - 1)
    jms = ss_raters / (k - 1)
    ems = ss_res / ((n - 1) * (k - 1))
    wms = (ss_raters + ss_res) / (n * (k - 1))
    return {
        "icc1": (bms - wms) / (bms + (k - 1) * wms),
        "icc2": (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n),
        "icc3": (bms - ems) / (bms + (k - 1) * ems),
        "icc1k": (bms - wms) / bms,
        "icc2k": (bms - ems) / (bms + (jms - ems) / n),
        "icc3k": (bms - ems) / bms,
    }


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_icc_matches_two_way_anova(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(3, 15)), int(rng.integers(2, 6))
    data = rng.integers(1, 8, size=(n, 1)) + rng.integers(-2, 3, size=(n, k)) + rng.integers(0, 2, size=(1, k))
    data = data.astype(float)
    assume(np.ptp(data.mean(axis=1)) > 0)
    expected = _icc_from_anova(data)
    for form, value in expected.items():
        _close(icc(data, form=form), value)


def test_icc_is_undefined_where_its_denominator_cancels_to_zero():
    """Equal item means (BMS = 0) and JMS = EMS: ICC2k's denominator BMS + (JMS - EMS)/n is 0.

    In floating point JMS - EMS came out near 1e-17 and ICC2k near -2e16, a value that differed
    between the bootstrap batch and a recomputation; it is undefined. The single-rating forms stay
    defined: ICC1 = (0 - WMS) / (0 + 2 WMS) = -0.5.
    """
    data = np.array([[2, 1, 1], [1, 2, 1], [1, 2, 1], [2, 1, 1]], dtype=float)
    for form in ("icc1k", "icc2k", "icc3k"):
        assert np.isnan(icc(data, form=form)), form
    for form in ("icc1", "icc2", "icc3"):
        assert icc(data, form=form) == pytest.approx(-0.5, abs=TOL)


def test_icc_leaves_out_items_with_a_missing_rating():
    rng = np.random.default_rng(3)
    data = rng.integers(1, 6, size=(12, 4)).astype(float)
    with_gap = np.vstack([data, [[2, np.nan, 3, 4]]])
    for form in ("icc1", "icc2", "icc3", "icc1k", "icc2k", "icc3k"):
        assert icc(with_gap, form=form) == pytest.approx(icc(data, form=form), abs=TOL)


# ---------------------------------------------------------------------------- invariances
COEFFICIENTS = {
    "alpha_nominal": lambda d: krippendorff_alpha(d, level="nominal"),
    "alpha_ordinal": lambda d: krippendorff_alpha(d, level="ordinal"),
    "alpha_interval": lambda d: krippendorff_alpha(d, level="interval"),
    "alpha_ratio": lambda d: krippendorff_alpha(d, level="ratio"),
    "fleiss": fleiss_kappa,
    "ac1": gwet_ac1,
    "ac2": lambda d: gwet_ac2(d, weights="quadratic"),
    "percent": percent_agreement,
}


def _same(a: float, b: float) -> bool:
    return bool((np.isnan(a) and np.isnan(b)) or abs(a - b) <= TOL * max(1.0, abs(a)))


@SETTINGS
@given(ratings(min_raters=2), st.randoms(use_true_random=False))
def test_rater_and_item_order_do_not_matter(sample, rnd):
    data, _ = sample
    rows = list(range(data.shape[0]))
    cols = list(range(data.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    shuffled = data[rows][:, cols]
    for name, fn in COEFFICIENTS.items():
        assert _same(fn(data), fn(shuffled)), name
    complete = data[~np.isnan(data).any(axis=1)]
    for form in ("icc1", "icc2", "icc3k"):
        assert _same(icc(complete, form=form), icc(complete[:, cols], form=form))


@SETTINGS
@given(ratings(min_raters=2), st.permutations(list(range(len(VALUE_POOL)))))
def test_renaming_nominal_labels_does_not_matter(sample, perm):
    data, _ = sample
    rename = dict(zip(VALUE_POOL, [VALUE_POOL[i] * 7 + 1 for i in perm], strict=True))
    renamed = np.vectorize(lambda v: v if np.isnan(v) else rename[v])(data)
    for name in ("alpha_nominal", "fleiss", "ac1", "percent"):
        assert _same(COEFFICIENTS[name](data), COEFFICIENTS[name](renamed)), name


@SETTINGS
@given(ratings(min_raters=2), st.floats(0.1, 50), st.floats(-20, 20))
def test_alpha_invariant_under_the_levels_admissible_transforms(sample, scale, shift):
    data, _ = sample
    assert _same(krippendorff_alpha(data, level="interval"), krippendorff_alpha(scale * data + shift, level="interval"))
    assert _same(krippendorff_alpha(data, level="ratio"), krippendorff_alpha(scale * data, level="ratio"))
    monotone = data**3 + 2 * data + shift  # strictly increasing
    assert _same(krippendorff_alpha(data, level="ordinal"), krippendorff_alpha(monotone, level="ordinal"))


# ---------------------------------------------------------------------------- undefined is NaN, never 0
@pytest.mark.parametrize(
    "data",
    [
        np.array([[1.0], [2.0], [3.0]]),  # one rater
        np.array([[1.0, np.nan], [np.nan, 2.0]]),  # no item has two ratings
        np.full((4, 3), np.nan),  # no ratings at all
    ],
)
def test_no_pairable_ratings_give_nan(data):
    for fn in (percent_agreement, fleiss_kappa, gwet_ac1, *COEFFICIENTS.values()):
        assert np.isnan(fn(data))
    if data.shape[1] >= 2:
        assert np.isnan(cohen_kappa(data[:, 0], data[:, 1]))
    assert np.isnan(icc(data, form="icc2"))


def test_one_category_gives_nan_where_chance_agreement_is_one():
    same = np.full((6, 3), 4.0)
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert np.isnan(krippendorff_alpha(same, level=level))
    assert np.isnan(fleiss_kappa(same)) and np.isnan(cohen_kappa(same[:, 0], same[:, 1]))
    assert np.isnan(icc(same, form="icc1"))
    assert percent_agreement(same) == 1.0
    # Gwet's chance agreement stays below 1 when the category set has more than one value.
    assert gwet_ac1(same, labels=[1, 2, 3, 4, 5]) == 1.0
    assert np.isnan(gwet_ac1(same))
