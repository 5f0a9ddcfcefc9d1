"""Judge calibration: agreement with the human consensus decides whether judge rules count."""

from __future__ import annotations

from pathlib import Path

import krippendorff
import numpy as np
import pytest
from fixtures.runs import binary_rubric, make_run
from sklearn.metrics import cohen_kappa_score

from harness.compare import judge_agreement
from harness.compare.calibration import calibrate_runs
from harness.compare.criteria import criteria_info
from harness.errors import InputError
from harness.gate import compare_runs, policy_from_gate

N = 30


def _ratings(path: Path, consensus: list[int], *, extra: dict[str, list[str]] | None = None) -> Path:
    """Three raters per item: two give the consensus, the third the opposite on every third item."""
    cols = ["item_id", "rater_id", "score", "criterion", *list(extra or {})]
    lines = [",".join(cols)]
    for i, c in enumerate(consensus):
        for r in range(3):
            score = c if r < 2 or i % 3 else 1 - c
            row = [f"item-{i:03d}", f"r{r}", str(score), "helpful", *[v[i] for v in (extra or {}).values()]]
            lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def _judge_runs(judge_cand: list[int], ratings: Path | None, *, outputs: list[str] | None = None):
    rubric = binary_rubric("helpful", judge=["helpful"])
    extra = {"human_ratings": str(ratings)} if ratings else {}
    rng = np.random.default_rng(0)
    base_vals = (rng.random(N) < 0.3).astype(float)
    base = make_run({"helpful": base_vals}, rubric=rubric, suite_extra=extra, model="base")
    cand = make_run({"helpful": judge_cand}, rubric=rubric, suite_extra=extra, model="cand", outputs=outputs)
    return base, cand


def test_calibrated_judge_counts_and_figures_match_krippendorff_and_sklearn(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    human = (rng.random(N) < 0.6).astype(int).tolist()
    judge = [h if i % 10 else 1 - h for i, h in enumerate(human)]  # disagrees on 3 of 30
    base, cand = _judge_runs(judge, _ratings(tmp_path / "r.csv", human))
    comp = compare_runs(base, cand, policy_from_gate([{"criterion": "helpful", "require": "no_new_failures"}]))
    cal = comp.calibration["helpful"]
    expected_alpha = krippendorff.alpha(np.array([judge, human], dtype=float), level_of_measurement="nominal")
    assert cal.alpha == pytest.approx(expected_alpha, abs=1e-9)
    assert cal.kappa == pytest.approx(cohen_kappa_score(judge, human), abs=1e-9)
    assert cal.status == "calibrated" and cal.n_items == N and cal.n_ratings == 3 * N
    assert "candidate outputs (assumed" in cal.rated
    assert comp.rules[0].counted and comp.rules[0].calibration is not None


def test_uncalibrated_judge_makes_the_rule_inconclusive_with_figures(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    human = (rng.random(N) < 0.5).astype(int).tolist()
    judge = rng.integers(0, 2, N).tolist()  # unrelated to people
    base, cand = _judge_runs(judge, _ratings(tmp_path / "r.csv", human))
    pol = policy_from_gate([{"criterion": "helpful", "require": "no_new_failures", "max": 1000}])
    comp = compare_runs(base, cand, pol)
    rule = comp.rules[0]
    assert comp.calibration["helpful"].status == "below_floor"
    assert rule.verdict == "inconclusive" and not rule.counted  # would pass on its own numbers
    assert "alpha" in rule.reason and "floor 0.667" in rule.reason
    assert rule.p_value_holm is None


def test_no_human_ratings_means_the_judge_rule_does_not_count() -> None:
    base, cand = _judge_runs([1] * N, None)
    comp = compare_runs(base, cand, policy_from_gate([{"criterion": "overall", "require": "no_regression"}]))
    assert comp.calibration["helpful"].status == "no_ratings"
    assert comp.rules[0].verdict == "inconclusive" and "human_ratings" in comp.rules[0].reason


def test_output_column_pairs_ratings_with_the_rated_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    human = (rng.random(N) < 0.5).astype(int).tolist()
    # The people rated the base outputs; the base judge scores equal their consensus.
    rubric = binary_rubric("helpful", judge=["helpful"])
    outs_b = [f"base output {i}" for i in range(N)]
    ratings = _ratings(tmp_path / "r.csv", human, extra={"output": outs_b})
    extra = {"human_ratings": str(ratings)}
    base = make_run({"helpful": human}, rubric=rubric, suite_extra=extra, outputs=outs_b)
    cand = make_run({"helpful": [1 - h for h in human]}, rubric=rubric, suite_extra=extra)
    cal = compare_runs(base, cand, policy_from_gate([])).calibration["helpful"]
    assert cal.status == "calibrated" and cal.alpha == pytest.approx(1.0) and cal.rated == "outputs matched by text"
    model_col = _ratings(tmp_path / "m.csv", human, extra={"model": ["base"] * N})
    cal2 = calibrate_runs(base, cand, {"helpful": criteria_info(base)["helpful"]}, ratings_path=model_col)["helpful"]
    assert cal2.alpha == pytest.approx(1.0) and cal2.rated == "the 'model' column"


def test_bad_model_column_names_file_line_and_field(tmp_path: Path) -> None:
    ratings = _ratings(tmp_path / "r.csv", [1] * N, extra={"model": ["cand"] * N})
    base, cand = _judge_runs([1] * N, ratings)
    with pytest.raises(InputError) as err:
        compare_runs(base, cand, policy_from_gate([]))
    assert err.value.file == str(ratings) and err.value.line == 2 and err.value.field == "model"


def test_levels_judge_uses_ordinal_alpha_and_quadratic_kappa() -> None:
    human_levels = np.array([0, 1, 2, 3, 4, 4, 3, 2, 1, 0, 2, 2, 3, 1, 4])
    judge_levels = np.array([0, 1, 2, 3, 4, 3, 3, 2, 1, 1, 2, 3, 3, 1, 4])
    cal = judge_agreement(judge_levels / 4 + 0.02, human_levels / 4, criterion="c", scale="levels", n_levels=5)
    assert cal.alpha_level == "ordinal" and cal.kappa_weights == "quadratic"
    expected = krippendorff.alpha(np.array([judge_levels, human_levels], dtype=float), level_of_measurement="ordinal",
                                  value_domain=[0, 1, 2, 3, 4])
    assert cal.alpha == pytest.approx(expected, abs=1e-9)
    assert cal.kappa == pytest.approx(cohen_kappa_score(judge_levels, human_levels, weights="quadratic"), abs=1e-9)


def test_too_few_rated_outputs_is_undefined() -> None:
    cal = judge_agreement([1.0], [1.0], criterion="c", scale="binary")
    assert cal.status == "undefined" and cal.alpha is None
