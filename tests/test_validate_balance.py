"""Group balance of training data against a holdout's slices: counts, thin slices, chi-square with effect size.

Oracles: scipy.stats.chi2_contingency (Pearson, no continuity correction; its permutation version
for the exact test), scipy.stats.contingency.association (Cramér's V) and statsmodels' Table.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps
from scipy.stats.contingency import association
from statsmodels.stats.contingency_tables import Table
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import InputError
from harness.validate import validate_file
from harness.validate.balance import homogeneity_test


@pytest.mark.parametrize(
    ("train", "hold"),
    [([120, 80, 40, 60], [30, 25, 25, 20]), ([500, 20, 300], [40, 30, 30]), ([50, 50], [30, 70])],
)
def test_chi_square_and_cramers_v_match_scipy_and_statsmodels(train: list[int], hold: list[int]) -> None:
    t = homogeneity_test(train, hold)
    table = np.array([train, hold])
    ref = sps.chi2_contingency(table, correction=False)
    assert t.method == "chi2" and t.dof == ref.dof
    assert t.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert t.p_value == pytest.approx(ref.pvalue, rel=1e-9)
    assert t.cramers_v == pytest.approx(association(table, method="cramer"), rel=1e-12)
    sm = Table(table).test_nominal_association()
    assert t.statistic == pytest.approx(sm.statistic, rel=1e-9) and t.p_value == pytest.approx(sm.pvalue, rel=1e-9)


def test_small_expected_counts_use_the_exact_test() -> None:
    train, hold = [40, 3, 2, 15], [6, 4, 3, 2]
    t = homogeneity_test(train, hold, resamples=20_000, seed=1)
    ref = sps.chi2_contingency(np.array([train, hold]), correction=False,
                               method=sps.PermutationMethod(n_resamples=20_000, rng=np.random.default_rng(5)))
    assert t.method == "chi2_exact_monte_carlo" and t.min_expected < 5
    # Two Monte Carlo estimates of the same p-value: within 5 standard errors of 20,000 draws each.
    se = np.sqrt(2 * ref.pvalue * (1 - ref.pvalue) / 20_000)
    assert t.p_value == pytest.approx(ref.pvalue, abs=5 * se + 1e-4)
    assert t.statistic == pytest.approx(ref.statistic, rel=1e-12)


def test_homogeneity_needs_two_groups() -> None:
    with pytest.raises(InputError, match="at least 2 groups"):
        homogeneity_test([5, 0], [3, 0])


def _suite(root: Path, categories: list[str]) -> Path:
    root.mkdir(parents=True)
    (root / "suite.yaml").write_text("name: tk\nrubric: r.yaml\ngate: {slices: [category], rules: []}\n")
    rows = [{"id": f"h{i}", "prompt": f"holdout question number {i} about topic {c}", "category": c}
            for i, c in enumerate(categories)]
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def _train(path: Path, categories: list[str]) -> Path:
    rows = [{"prompt": f"training prompt {i} on {c} matters", "completion": f"answer {i}", "category": c}
            for i, c in enumerate(categories)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_validate_reports_balance_against_a_holdout_suite(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", ["billing"] * 10 + ["shipping"] * 10 + ["account"] * 10)
    train = _train(tmp_path / "train.jsonl", ["billing"] * 60 + ["shipping"] * 38 + ["account"] * 2)
    report = validate_file(train, holdouts=[suite], paraphrase=False)
    by = {f.check: f for f in report.findings if f.check.startswith("balance.")}
    groups = by["balance.groups"].data["groups"]
    assert groups["billing"] == {"count": 60, "share": 0.6} and groups["account"]["count"] == 2
    assert by["balance.undercovered"].severity == "warning" and by["balance.undercovered"].data["slices"] == ["account"]
    test = by["balance.distribution"].data["test"]
    ref = sps.chi2_contingency(np.array([[2, 60, 38], [10, 10, 10]]), correction=False)
    assert test["statistic"] == pytest.approx(ref.statistic) and test["cramers_v"] > 0.3


def test_training_data_without_the_field_says_so(tmp_path: Path) -> None:
    suite = _suite(tmp_path / "suite", ["a", "b"] * 5)
    train = tmp_path / "t.jsonl"
    train.write_text("".join(json.dumps({"prompt": f"p {i} x", "completion": "c"}) + "\n" for i in range(5)))
    report = validate_file(train, holdouts=[suite], paraphrase=False)
    notes = [f for f in report.findings if f.check.startswith("balance.")]
    assert [f.check for f in notes] == ["balance.groups"] and "cannot be checked" in notes[0].message


def test_cli_validate_by_field(tmp_path: Path) -> None:
    train = _train(tmp_path / "train.jsonl", ["x"] * 6 + ["y"] * 4)
    res = CliRunner().invoke(app, ["validate", str(train), "--by", "category", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    found = next(f for f in doc["findings"] if f["check"] == "balance.groups")
    assert found["data"]["groups"]["x"]["count"] == 6
