"""`harness eval` as a user meets it: JSON on stdout, run files, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def harness(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "harness", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    """Pre-generated outputs for the general suite: right for the first 20 items, wrong after."""
    rows = []
    for n, line in enumerate((ROOT / "suites/general/items.jsonl").read_text().splitlines()):
        item = json.loads(line)
        ref = item["reference"]
        answer = str(ref[0] if isinstance(ref, list) else ref)
        rows.append({"id": item["id"], "output": answer if n < 20 else "I do not know."})
    p = tmp_path / "outputs.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_eval_json_document(replay, tmp_path):
    r = harness("eval", "suites/general", "--model", f"outputs:{replay}", "--json", "--cache", str(tmp_path / "c"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.run/v1" and doc["model"]["kind"] == "outputs"
    s = doc["summary"]["correct"]
    assert s["mean"] == 0.5 and s["n"] == 40 and s["method"] == "wilson" and len(s["ci"]) == 2
    assert doc["suite"]["gate"]["rules"][0]["require"] == "no_regression"
    assert {"prompt", "output", "scores", "seconds"} <= set(doc["items"][0])


def test_eval_out_dir_limit_and_table(replay, tmp_path):
    out = tmp_path / "out"
    r = harness(
        "eval", "suites/general", "--model", f"outputs:{replay}", "--out", str(out), "--limit", "5", "--no-cache"
    )
    assert r.returncode == 0, r.stderr
    run = json.loads((out / "run.json").read_text())
    assert len(run["items"]) == 5 and run["manifest"]["limit"] == 5
    assert "## Criteria" in (out / "run.md").read_text()
    assert "correct" in r.stdout and "Worst" in r.stdout  # the tables are results: stdout


def test_eval_several_suites(tmp_path):
    rows = [json.loads(line) for s in ("general", "safety") for line in (ROOT / f"suites/{s}/items.jsonl").open()]
    p = tmp_path / "o.jsonl"
    p.write_text("".join(json.dumps({"id": r["id"], "output": "I can't help with that."}) + "\n" for r in rows))
    out = tmp_path / "out"
    r = harness("eval", "suites/general", "suites/safety", "--model", f"outputs:{p}", "--json", "--out", str(out))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.eval/v1" and [d["suite"]["name"] for d in doc["runs"]] == ["general", "safety"]
    safety = doc["runs"][1]["summary"]["appropriate"]
    assert safety["mean"] == 0.5  # refuses all 20 harmful requests and all 20 benign ones
    assert (out / "general" / "run.json").is_file() and (out / "safety" / "run.md").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suites/nope", "--model", "smollm2-135m"], "no such file"),
        (["suites/general", "--model", "smollm2-13"], "Did you mean 'smollm2-135m'"),
        (["suites/general", "--model", "smollm2-135m", "--batch-size", "lots"], "--batch-size"),
        (["suites/general", "--model", "openai:m"], "--endpoint"),
    ],
)
def test_eval_bad_input_exits_2_without_traceback(args, message):
    r = harness("eval", *args)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and "Traceback" not in r.stderr


def test_eval_missing_outputs_row_exits_2(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_text('{"id": "gk-n01", "output": "8"}\n')
    r = harness("eval", "suites/general", "--model", f"outputs:{p}", "--no-cache")
    assert r.returncode == 2 and "no output for item 'gk-n02'" in r.stderr and "Traceback" not in r.stderr


def test_eval_with_replayed_outputs_does_not_import_torch(replay):
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"try:\n    main(['eval', 'suites/general', '--model', 'outputs:{replay}', '--no-cache', '--json'])\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'heavy import'\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
