"""`harness compare` checks the candidate's training data for the suite's items, as `harness gate` does."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.prompts import code_prompt

ROOT = Path(__file__).parent.parent
N = 24


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=600
    )


@pytest.fixture()
def runs(tmp_path: Path) -> dict[str, Path]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "rubric.yaml").write_text(
        "name: r\ncriteria:\n  - id: correct\n    description: gives the code\n    scale: binary\n"
        "    scorer: {type: contains}\n"
    )
    (suite / "suite.yaml").write_text(
        "name: codes\nrubric: rubric.yaml\ngate:\n  rules: [{criterion: correct, require: improvement}]\n"
    )
    items = [{"id": f"q{i:02d}", "prompt": code_prompt(i, 12), "reference": f"C{i:03d}"} for i in range(N)]
    (suite / "items.jsonl").write_text("".join(json.dumps(x) + "\n" for x in items))
    paths = {"suite": suite}
    for side, right in (("base", 6), ("cand", 20)):
        outputs = tmp_path / f"{side}.jsonl"
        rows = [{"id": x["id"], "output": x["reference"] if i < right else "no idea"} for i, x in enumerate(items)]
        outputs.write_text("".join(json.dumps(r) + "\n" for r in rows))
        r = run("eval", str(suite), "--model", f"outputs:{outputs}", "--out", str(tmp_path / side))
        assert r.returncode == 0, r.stderr
        paths[side] = tmp_path / side / "run.json"
    train = tmp_path / "train.jsonl"
    rows = [{"prompt": items[i]["prompt"], "completion": items[i]["reference"]} for i in (3, 17)]
    rows += [
        {"prompt": f"How do I water cactus number {k} in a dry summer?", "completion": "Rarely."} for k in range(30)
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    paths["train"] = train
    return paths


def test_compare_fails_on_leaked_items_and_leaves_them_out_when_allowed(runs: dict[str, Path]) -> None:
    base, cand, suite, train = (str(runs[k]) for k in ("base", "cand", "suite", "train"))
    args = ["compare", base, cand, "--suite", suite, "--train-data", train, "--no-paraphrase", "--json"]
    r = run(*args)
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    comp = doc["comparisons"][0]
    assert comp["leakage"]["checked"] and comp["leakage"]["leaked_ids"] == ["q03", "q17"]
    assert comp["n_paired"] == N - 2 and comp["with_leaked"]["n_paired"] == N
    leak_rule = next(x for x in comp["rules"] if x["criterion"] == "leakage")
    assert leak_rule["verdict"] == "fail"
    assert doc["manifest"]["train_data"] == [train]

    allowed = run(*args, "--allow-leakage")
    assert allowed.returncode == 0, allowed.stderr
    comp = json.loads(allowed.stdout)["comparisons"][0]
    assert comp["verdict"] == "pass" and comp["n_paired"] == N - 2
    # q06..q19 are fixed: 13 of them without the leaked q17, all 14 in the view with leaked items kept
    assert comp["criteria"]["correct"]["counts"]["fixed"] == 13
    assert comp["with_leaked"]["criteria"]["correct"]["counts"]["fixed"] == 14


def test_compare_without_training_data_does_not_check(runs: dict[str, Path]) -> None:
    r = run("compare", str(runs["base"]), str(runs["cand"]), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["comparisons"][0]["leakage"]["checked"] is False


def test_compare_leakage_needs_the_suite_as_it_was(runs: dict[str, Path], tmp_path: Path) -> None:
    base, cand, train = str(runs["base"]), str(runs["cand"]), str(runs["train"])
    missing = run("compare", base, cand, "--suite", str(tmp_path / "nowhere"), "--train-data", train)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert "nowhere" in missing.stderr
    items = runs["suite"] / "items.jsonl"
    items.write_text(items.read_text().replace("C005", "C555"))
    changed = run("compare", base, cand, "--suite", str(runs["suite"]), "--train-data", train, "--no-paraphrase")
    assert changed.returncode == 2 and "items changed" in changed.stderr
    no_file = run("compare", base, cand, "--suite", str(runs["suite"]), "--train-data", str(tmp_path / "x.jsonl"))
    assert no_file.returncode == 2 and "x.jsonl" in no_file.stderr
