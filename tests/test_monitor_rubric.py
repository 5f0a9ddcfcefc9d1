"""harness monitor --rubric: reference-free rubric criteria per window (schema, length, judge, reward).

Model-graded criteria use test doubles (a FakeGenerator judge, a reward model whose scores are a
function of the output), never a real model; they count only once calibrated, as in the gate.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from fixtures.monitor_logs import LONG, planted_logs, write_jsonl
from scipy import stats as sps
from typer.testing import CliRunner

from harness.cli import app, main
from harness.eval.rubric import DEFAULT_CALIBRATION_FLOOR, Criterion
from harness.models.fake import FakeGenerator
from harness.monitor import MonitorReport, MonitorSettings, monitor_logs, parse_window
from harness.monitor.quality import rank_biserial
from harness.monitor.rubric import reference_need

RUBRIC = Path(__file__).resolve().parent.parent / "examples" / "monitor" / "rubric.yaml"


def _settings(**kw: object) -> MonitorSettings:
    return MonitorSettings(window=parse_window("1d"), embedder="hashing", **kw)  # type: ignore[arg-type]


def _logs(tmp_path: Path, name: str = "logs.jsonl", **kw: object) -> Path:
    args: dict[str, object] = {"seed": 3, "windows": 7, "per_window": 100, "shift_at": None, "drop_at": None}
    path = tmp_path / name
    write_jsonl(planted_logs(**{**args, **kw}), path)  # type: ignore[arg-type]
    return path


@pytest.mark.parametrize(
    ("scorer", "needs"),
    [
        ({"type": "json_valid"}, False),
        ({"type": "json_schema", "schema": {"type": "object"}}, False),
        ({"type": "length", "max": 10}, False),
        ({"type": "regex", "pattern": "x"}, False),
        ({"type": "refusal"}, False),
        ({"type": "contains", "value": "sorry", "absent": True}, False),
        ({"type": "judge"}, False),
        ({"type": "exact"}, True),
        ({"type": "numeric"}, True),
        ({"type": "json_field"}, True),
        ({"type": "chrf"}, True),
        ({"type": "choice"}, True),
        ({"type": "human"}, True),
        ({"type": "judge", "prompt": "Compare {output} with {reference}: 0 or 1"}, True),
    ],
)
def test_which_criteria_need_a_reference(scorer: dict, needs: bool) -> None:
    scale = "binary" if scorer["type"] in ("judge", "human") else "continuous"
    c = Criterion.model_validate({"id": "c", "scale": scale, "scorer": scorer})
    assert (reference_need(c) is not None) == needs


def test_rank_biserial_is_the_share_of_pairs_won_minus_lost() -> None:
    # Independent: every (window, reference) pair counted directly, ties a half each way.
    rng = np.random.default_rng(0)
    win, ref = rng.integers(1, 6, 40).tolist(), rng.integers(1, 6, 55).tolist()
    diff = np.sign(np.subtract.outer(np.array(win), np.array(ref)))
    assert rank_biserial(win, ref) == pytest.approx(diff.mean(), abs=1e-12)
    # ... and against scipy's U of the other sample: r(x, y) = -r(y, x).
    u_ref = sps.mannwhitneyu(ref, win).statistic
    assert rank_biserial(win, ref) == pytest.approx(1 - 2 * u_ref / (len(win) * len(ref)), abs=1e-12)


def test_schema_break_and_long_replies_are_found_where_planted(tmp_path: Path) -> None:
    logs = _logs(tmp_path, schema_at=3, long_at=5)
    report = monitor_logs(logs, _settings(), rubric=RUBRIC)
    status = [w.status for w in report.windows]
    assert status[:3] == ["reference", "ok", "ok"]
    assert status[3:] == ["degraded"] * 4
    degraded = [{q.criterion for q in w.quality if q.degraded} for w in report.windows]
    assert degraded[3] == degraded[4] == {"schema"}  # still valid JSON: json_valid does not move
    assert degraded[5] == degraded[6] == {"schema", "short"}
    by_id = {c.id: c for c in report.criteria}
    assert by_id["category_right"].status == "skipped" and "'reference'" in (by_id["category_right"].reason or "")
    assert by_id["schema"].status == by_id["short"].status == "counted" and by_id["schema"].n_scored == 700
    assert {c.id for c in report.criteria if c.source == "builtin"} == {"json_valid", "refusal", "rating"}
    schema = next(q for q in report.windows[3].quality if q.criterion == "schema")
    # The effect is the rate difference, and the p-value scipy's one-sided Fisher test on the same counts.
    w_hits, r_hits = round(schema.value * schema.n), 100 - round((1 - schema.reference) * 100)
    assert schema.effect == pytest.approx(schema.value - schema.reference) and schema.effect_name == "rate difference"
    p = sps.fisher_exact([[w_hits, schema.n - w_hits], [r_hits, 100 - r_hits]], alternative="less")[1]
    assert schema.p_value == pytest.approx(p)
    length = next(t for t in report.windows[5].drift if t.test == "output_length")
    assert length.p_adjusted is not None and length.p_adjusted < 0.01 and length.window > length.reference
    assert "schema" in report.settings["quality"]


def test_stable_logs_with_the_rubric_raise_no_more_alarms_than_stated(tmp_path: Path) -> None:
    alarms = 0
    for seed in range(6):
        logs = _logs(tmp_path, f"s{seed}.jsonl", seed=200 + seed, windows=4, per_window=80)
        alarms += monitor_logs(logs, _settings(seed=seed), rubric=RUBRIC).verdict != "ok"
    # Two families at alpha 0.05 per run: P(Binomial(6, 0.1) >= 3) < 2%.
    assert alarms < 3


def _judge() -> FakeGenerator:
    # Grades "concise" by the reply: the long reply fails. The prompt holds the output to grade.
    return FakeGenerator(
        {},
        fingerprint="fake-judge",
        levels=lambda prompt, labels: {"1": 0.1, "0": 0.9} if LONG in str(prompt) else {"1": 0.8, "0": 0.2},
    )


def _judge_rubric(tmp_path: Path, kind: str = "judge") -> Path:
    if kind == "judge":
        crit = {
            "id": "concise",
            "description": "short and to the point",
            "scale": "binary",
            "scorer": {"type": "judge"},
        }
    else:
        (tmp_path / "rm").mkdir(exist_ok=True)
        (tmp_path / "rm" / "manifest.json").write_text("{}")
        crit = {"id": "preferred", "scale": "continuous", "scorer": {"type": "reward", "model": "rm", "offset": 1.0}}
    path = tmp_path / f"{kind}.yaml"
    path.write_text(json.dumps({"name": kind, "criteria": [crit]}))
    return path


def _ratings(tmp_path: Path, criterion: str, values: dict[str, float], agree: bool) -> Path:
    path = tmp_path / f"ratings-{criterion}-{agree}.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["item_id", "rater_id", "score", "criterion", "output", "prompt"])
        for i in range(20):
            long = i % 2 == 0
            output = json.dumps({"category": "billing", "reply": LONG if long else "We are on it."})
            score = values["long" if long == agree else "short"]
            for r in range(3):
                w.writerow([f"o{i}", f"r{r}", score, criterion, output, "My order was charged twice."])
    return path


def test_an_uncalibrated_judge_is_shown_but_does_not_count(tmp_path: Path) -> None:
    logs = _logs(tmp_path, long_at=4)
    report = monitor_logs(logs, _settings(quality=["refusal"]), rubric=_judge_rubric(tmp_path), judge=_judge())
    info = next(c for c in report.criteria if c.id == "concise")
    assert info.status == "not_counted" and info.calibration is not None
    assert info.calibration["status"] == "no_ratings" and info.calibration["floor"] == DEFAULT_CALIBRATION_FLOOR
    stats = [q for w in report.windows for q in w.quality if q.criterion == "concise"]
    assert all(not q.counted and q.p_value is None and not q.degraded for q in stats)
    late = stats[5]
    assert late.value is not None and late.value < 0.85 and "does not count" in (late.reason or "")
    assert report.verdict == "inconclusive" and report.exit_code == 3  # never ok on an uncalibrated judge
    # People who disagree with the judge: below the floor, still not counted.
    bad = _ratings(tmp_path, "concise", {"long": 0, "short": 1}, agree=False)
    report = monitor_logs(
        logs, _settings(quality=["refusal"], ratings=str(bad)), rubric=_judge_rubric(tmp_path), judge=_judge()
    )
    info = next(c for c in report.criteria if c.id == "concise")
    assert info.status == "not_counted" and info.calibration["status"] == "below_floor"


def test_a_calibrated_judge_counts_and_finds_the_long_replies(tmp_path: Path) -> None:
    logs = _logs(tmp_path, long_at=4)
    good = _ratings(tmp_path, "concise", {"long": 0, "short": 1}, agree=True)
    report = monitor_logs(
        logs, _settings(quality=["refusal"], ratings=str(good)), rubric=_judge_rubric(tmp_path), judge=_judge()
    )
    info = next(c for c in report.criteria if c.id == "concise")
    assert info.status == "counted" and info.calibration["status"] == "calibrated"
    assert info.calibration["alpha"] == pytest.approx(1.0) and info.calibration["n_items"] == 20
    assert [w.status for w in report.windows] == ["reference", "ok", "ok", "ok"] + ["degraded"] * 3
    assert report.verdict == "degraded" and report.exit_code == 1


class _FakeRM:
    """A reward model double: reward 2 for the short reply, -1 for the long one."""

    def score(self, prompts: list, outputs: list[str], batch_size: int = 8) -> list[float]:
        return [-1.0 if LONG in o else 2.0 for o in outputs]

    def fingerprint(self) -> dict:
        return {"path": "fake"}


def test_a_calibrated_reward_model_is_a_mean_criterion_tested_by_mann_whitney(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.eval.reward_model as rm

    monkeypatch.setattr(rm, "cached_reward_model", lambda path: _FakeRM())
    logs = _logs(tmp_path, long_at=4)
    # People's preference on the reward's (0, 1) scale: sigma(2 - 1) = 0.731 for short, sigma(-2) = 0.119 for long.
    good = _ratings(tmp_path, "preferred", {"long": 0.12, "short": 0.73}, agree=True)
    report = monitor_logs(
        logs, _settings(quality=["refusal"], ratings=str(good)), rubric=_judge_rubric(tmp_path, "reward")
    )
    info = next(c for c in report.criteria if c.id == "preferred")
    assert info.kind == "mean" and info.status == "counted", info
    q = next(q for q in report.windows[4].quality if q.criterion == "preferred")
    assert q.degraded and q.effect_name == "rank-biserial r" and q.effect < 0
    ref = [1 / (1 + np.exp(-1.0))] * 100  # window 0: every reply short
    assert q.reference == pytest.approx(np.mean(ref))
    without = monitor_logs(logs, _settings(quality=["refusal"]), rubric=_judge_rubric(tmp_path, "reward"))
    assert next(c for c in without.criteria if c.id == "preferred").status == "not_counted"
    assert without.verdict == "inconclusive"


def test_cli_with_a_rubric_writes_valid_reports(tmp_path: Path) -> None:
    logs = _logs(tmp_path, schema_at=4, windows=5)
    out = tmp_path / "out"
    args = ["monitor", str(logs), "--embedder", "hashing", "--rubric", str(RUBRIC), "--out", str(out), "--no-store"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 1, res.output
    doc = json.loads((out / "monitor.json").read_text())
    jsonschema.validate(doc, MonitorReport.model_json_schema(by_alias=True))
    assert doc["rubric"]["name"] == "tickets-monitor" and len(doc["criteria"]) == 6
    md = (out / "monitor.md").read_text()
    assert "## Quality criteria (rubric tickets-monitor)" in md and "| category_right | rubric | json_field" in md
    assert "rate difference" in md
    assert "category_right" in (out / "monitor.html").read_text()


def test_ratings_without_the_rated_output_are_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    logs = _logs(tmp_path, windows=3)
    bad = tmp_path / "r.csv"
    bad.write_text("item_id,rater_id,score,criterion\no1,r1,1,concise\n")
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "monitor",
                str(logs),
                "--embedder",
                "hashing",
                "--rubric",
                str(_judge_rubric(tmp_path)),
                "--ratings",
                str(bad),
            ]
        )
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "r.csv" in err and "'output'" in err and "Traceback" not in err
