"""Published values (Krippendorff 2011 worked examples, Shrout & Fleiss 1979) reproduced exactly."""

from __future__ import annotations

import numpy as np
import pytest

from harness.agreement import (
    cohen_kappa,
    cohen_kappa_se,
    fleiss_kappa,
    fleiss_kappa_se,
    gwet_ac1,
    icc,
    krippendorff_alpha,
    percent_agreement,
)

nan = np.nan

# A. Krippendorff (2011) data C: rows are observers A-D, columns units 1-12; transposed to items x raters.
DATA_C = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, nan],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
).T

# B. Wikipedia "Krippendorff's alpha": 3 coders x 15 units.
DATA_B = np.array(
    [
        [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
        [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
        [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
    ]
).T

# C. Fleiss (1971) via Wikipedia: raters per category (1..5) for 10 subjects, 14 raters each.
FLEISS_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# D. SAS PROC FREQ kappa example (rows rater 1, columns rater 2, categories 1..3).
SAS_TABLE = np.array([[0, 4, 1], [0, 8, 0], [0, 1, 5]])

# Shrout & Fleiss (1979), Table 2: 6 targets x 4 judges.
SHROUT_FLEISS = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])


def _expand_counts(counts: np.ndarray) -> np.ndarray:
    """A raw items x raters matrix whose rows have the given category counts (categories 1..q)."""
    return np.array([np.repeat(np.arange(1, counts.shape[1] + 1), row) for row in counts], dtype=float)


def _pairs_from_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = [], []
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            a += [i + 1] * int(n)
            b += [j + 1] * int(n)
    return np.array(a, float), np.array(b, float)


@pytest.mark.parametrize(
    ("level", "value"),
    [("nominal", 0.743421), ("ordinal", 0.815388), ("interval", 0.849107), ("ratio", 0.797403)],
)
def test_krippendorff_2011_data_c(level, value):
    alpha = krippendorff_alpha(DATA_C, level=level)
    assert round(alpha, 6) == value
    assert round(alpha, 3) == {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849, "ratio": 0.797}[level]


@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_unpairable_unit_does_not_change_alpha(level):
    without_unit_12 = DATA_C[:11]
    assert krippendorff_alpha(without_unit_12, level=level) == pytest.approx(
        krippendorff_alpha(DATA_C, level=level), abs=1e-12
    )


def test_gwet_handbook_ac1_and_generalised_fleiss_on_data_c():
    assert round(gwet_ac1(DATA_C), 3) == 0.775
    assert round(fleiss_kappa(DATA_C), 3) == 0.761
    assert round(fleiss_kappa_se(DATA_C).value, 3) == 0.761


@pytest.mark.parametrize(("level", "value"), [("nominal", 0.691358), ("interval", 0.810845)])
def test_wikipedia_krippendorff_example(level, value):
    assert round(krippendorff_alpha(DATA_B, level=level), 6) == value


def test_fleiss_1971_wikipedia_example():
    data = _expand_counts(FLEISS_COUNTS)
    assert data.shape == (10, 14)
    assert round(fleiss_kappa(data), 3) == 0.210
    res = fleiss_kappa_se(data)
    assert round(res.value, 3) == 0.210
    assert round(res.p_o, 3) == 0.378
    assert round(res.p_e, 3) == 0.213
    assert [round(p, 3) for p in res.proportions] == [0.143, 0.200, 0.279, 0.150, 0.229]


def test_sas_cohen_kappa_with_asymptotic_se_and_ci():
    a, b = _pairs_from_table(SAS_TABLE)
    assert round(cohen_kappa(a, b), 4) == 0.4842
    res = cohen_kappa_se(a, b)
    assert round(res.value, 4) == 0.4842
    assert round(res.se, 4) == 0.1380
    assert (round(res.ci_low, 4), round(res.ci_high, 4)) == (0.2137, 0.7547)
    assert res.n == 19


@pytest.mark.parametrize(
    ("form", "value"),
    [("icc1", 0.17), ("icc2", 0.29), ("icc3", 0.71), ("icc1k", 0.44), ("icc2k", 0.62), ("icc3k", 0.91)],
)
def test_shrout_fleiss_1979_table_4(form, value):
    assert round(icc(SHROUT_FLEISS, form=form), 2) == value


def test_percent_agreement_on_data_c_matches_gwet_pa():
    # Gwet's handbook (and irrCAC) give p_a = 0.81818 for data C.
    assert round(percent_agreement(DATA_C), 5) == 0.81818
