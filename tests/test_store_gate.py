"""Gate against the last release: a baseline read from the results store, and the MLflow export."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fixtures.prompts import code_prompt

ROOT = Path(__file__).parent.parent
N = 30


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)  # fmt: skip


def make_suite(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "rubric.yaml").write_text("name: r\ncriteria:\n  - id: correct\n    description: code\n"
                                      "    scale: binary\n    scorer: {type: contains}\n")  # fmt: skip
    (root / "suite.yaml").write_text("name: codes\nrubric: rubric.yaml\n"
                                     "gate:\n  rules:\n    - {criterion: correct, require: no_new_failures}\n")
    items = [{"id": f"q{i:02d}", "prompt": code_prompt(i), "reference": f"C{i:03d}"} for i in range(N)]
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return root


def outputs(path: Path, right: set[int]) -> str:
    rows = [{"id": f"q{i:02d}", "output": f"It is C{i:03d}." if i in right else "No idea."} for i in range(N)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f"outputs:{path}"


def test_gate_against_the_last_passing_release(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    base = outputs(tmp_path / "base.jsonl", set(range(10)))
    v1 = outputs(tmp_path / "v1.jsonl", set(range(20)))  # fixes 10, breaks none: passes, is recorded
    v2 = outputs(tmp_path / "v2.jsonl", set(range(25)) - {12, 13})  # against base: no new failure; against v1: 2

    r = harness("gate", str(suite), "--candidate", v2, "--baseline", "store:last-pass", "--store", store)
    assert r.returncode == 2 and "no candidate run that passed" in r.stderr  # nothing released yet
    first = harness("gate", str(suite), "--base", base, "--candidate", v1, "--store", store, "--no-cache")
    assert first.returncode == 0, first.stderr

    only = harness("gate", str(suite), "--candidate", v2, "--baseline", "store:last-pass", "--store", store,
                   "--no-cache", "--json", "--out", str(tmp_path / "out"))  # fmt: skip
    assert only.returncode == 1, only.stderr
    doc = json.loads(only.stdout)
    (comp,) = doc["comparisons"]
    assert comp["base"]["model"]["spec"] == v1 and comp["base"]["path"].startswith("store:last-pass")
    assert comp["notes"][0].startswith("baseline from the store, not the base model: store:last-pass")
    assert comp["rules"][0]["counts"]["broken"] == 2 and doc["manifest"]["baseline_replaces_base"] is True
    for report in ("report.md", "report.html"):  # the reports say which baseline it was
        assert "baseline from the store, not the base model: store:last-pass" in (tmp_path / "out" / report).read_text()

    both = harness("gate", str(suite), "--base", base, "--candidate", v2, "--baseline", "store:last-pass",
                   "--store", store, "--no-cache", "--json")  # fmt: skip
    doc = json.loads(both.stdout)
    assert both.returncode == 1 and [c["verdict"] for c in doc["comparisons"]] == ["pass", "fail"]
    assert [c["base"]["model"]["spec"] for c in doc["comparisons"]] == [base, v1]
    hist = json.loads(harness("history", "--store", store, "--json", "--kind", "comparison").stdout)
    assert [e["verdict"] for e in hist["entries"]] == ["fail", "fail", "pass"]  # newest first
    ev = harness("eval", str(suite), "--model", v2, "--store", store, "--no-cache")
    assert ev.returncode == 0 and "Recorded in the store" in ev.stderr
    runs = json.loads(harness("history", "--store", store, "--json", "--kind", "run").stdout)["entries"]
    assert len(runs) == 1 and runs[0]["models"] == {"model": v2}
    assert runs[0]["criteria"]["correct"]["mean"] == pytest.approx(23 / 30)


def test_gate_with_several_candidates_ranks_them(tmp_path: Path) -> None:
    suite = make_suite(tmp_path / "suite")
    base = outputs(tmp_path / "base.jsonl", set(range(10)))
    good = outputs(tmp_path / "good.jsonl", set(range(28)))
    bad = outputs(tmp_path / "bad.jsonl", set(range(5, 12)))
    r = harness("gate", str(suite), "--base", base, "--candidate", good, "--candidate", bad, "--no-store",
                "--no-cache", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr  # one candidate passes
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.leaderboard/v1"
    assert [m["verdict"] for m in doc["models"]] == [None, "pass", "fail"]
    assert doc["criteria"]["correct"]["best"] == good and doc["criteria"]["correct"]["indistinguishable"] == [good]


def test_mlflow_export_to_a_local_file_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'harness[mlflow]')")
    # MLflow 3 keeps its file store in maintenance mode behind this switch; it is the local store asked for
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    suite = make_suite(tmp_path / "suite")
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    base = outputs(tmp_path / "base.jsonl", set(range(10)))
    v1 = outputs(tmp_path / "v1.jsonl", set(range(20)))
    gated = harness("gate", str(suite), "--base", base, "--candidate", v1, "--store", store, "--no-cache")
    assert gated.returncode == 0, gated.stderr
    uri = (tmp_path / "mlruns").as_uri()
    r = harness("store", "export-mlflow", "--tracking-uri", uri, "--store", store)
    assert r.returncode == 0, r.stderr
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("harness")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.tags["harness.kind"] == "comparison" and run.data.tags["harness.verdict"] == "pass"
    assert run.data.metrics["codes.correct.mean"] == pytest.approx(20 / 30)
    assert run.data.metrics["codes.correct.delta"] == pytest.approx(10 / 30)
    assert run.data.metrics["codes.base.correct.mean"] == pytest.approx(10 / 30)
    again = harness("store", "export-mlflow", "--tracking-uri", uri, "--store", store)
    assert "exported 0 records" in again.stderr and len(client.search_runs([exp.experiment_id])) == 1
