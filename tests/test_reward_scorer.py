"""The reward scorer: normalisation, registration, scoring with a trained reward model, gate calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fixtures.runs import make_run
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import expit

from harness.eval.scorers import SCORERS, ScorerContext, build_scorer
from harness.eval.scorers.reward import normalise
from harness.gate.judge import compare_runs
from harness.gate.policy import policy_from_gate

N = 30


@settings(max_examples=100, deadline=None)
@given(st.floats(-700, 700), st.floats(-50, 50), st.floats(0.01, 100))
def test_normalise_is_the_sigmoid_of_the_scaled_reward(r, offset, scale):
    assert normalise(r, offset=offset, scale=scale) == pytest.approx(expit((r - offset) / scale), abs=1e-12)


def test_registered_with_the_other_scorers():
    assert "reward" in SCORERS.names()


def _rubric() -> dict:
    return {
        "name": "r",
        "criteria": [
            {
                "id": "preferred",
                "weight": 1.0,
                "scale": {"type": "continuous", "levels": []},
                "scorer": {"type": "reward", "model": "rm"},
                "calibration_floor": 0.667,
            }
        ],
    }


def _ratings(path: Path, values: list[float]) -> Path:
    lines = ["item_id,rater_id,score,criterion"]
    for i, v in enumerate(values):
        for r in range(3):
            lines.append(f"item-{i:03d},r{r},{v:.4f},preferred")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_reward_rule_counts_only_once_calibrated_like_the_judge(tmp_path):
    rng = np.random.default_rng(0)
    cand = rng.random(N).round(3).tolist()
    base = (np.array(cand) * 0.5).round(3).tolist()
    policy = policy_from_gate([{"criterion": "preferred", "require": "improvement"}])
    no_ratings = compare_runs(
        make_run({"preferred": base}, rubric=_rubric(), model="base"),
        make_run({"preferred": cand}, rubric=_rubric(), model="cand"),
        policy,
    )
    assert no_ratings.calibration["preferred"].status == "no_ratings"
    assert no_ratings.rules[0].verdict == "inconclusive" and not no_ratings.rules[0].counted
    extra = {"human_ratings": str(_ratings(tmp_path / "h.csv", cand))}  # people agree with the reward model
    rated = compare_runs(
        make_run({"preferred": base}, rubric=_rubric(), model="base", suite_extra=extra),
        make_run({"preferred": cand}, rubric=_rubric(), model="cand", suite_extra=extra),
        policy,
    )
    assert rated.calibration["preferred"].status == "calibrated"
    assert rated.rules[0].counted and rated.rules[0].verdict == "pass"


def test_scores_with_a_trained_reward_model(tmp_path, tiny_model_dir):
    from harness.eval.reward_model import load_reward_model
    from harness.eval.rubric import Criterion
    from harness.train.config import load_config
    from harness.train.runner import train

    rows = [{"prompt": f"Say {i}", "chosen": f"{i}", "rejected": f"no, {i + 1} yes"} for i in range(8)]
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "rm.yaml").write_text(
        f"base_model: {tiny_model_dir}\nmethod: reward\ntrain_data: p.jsonl\nmax_steps: 1\nbatch_size: 4\n"
        "max_length: 64\n"
    )
    train(load_config(tmp_path / "rm.yaml"), tmp_path / "rm")
    crit = Criterion.model_validate(
        {"id": "preferred", "scale": {"type": "continuous"}, "scorer": {"type": "reward", "model": "rm", "offset": 0.1}}
    )
    assert crit.calibration_floor == 0.667  # model-graded: needs calibration before it counts
    s = build_scorer(crit, ScorerContext(crit, base_dir=tmp_path))
    got = s.score_many(["3", "no, 4 yes"], [None, None])
    raw = load_reward_model(tmp_path / "rm").score(["", ""], ["3", "no, 4 yes"])
    assert [g.value for g in got] == pytest.approx([expit(r - 0.1) for r in raw], abs=1e-6)
    assert s.spec()["type"] == "reward" and s.describe()["reward_model"]["path"] == str(tmp_path / "rm")
    with pytest.raises(Exception, match="continuous"):
        build_scorer(
            c := Criterion.model_validate({"id": "x", "scale": "binary", "scorer": {"type": "reward", "model": "rm"}}),
            ScorerContext(c, base_dir=tmp_path),
        )
