"""``harness validate TRAIN --holdout H``: exit codes, JSON document, Markdown report, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
Q = "Which planet in the solar system has the longest day when it is counted in Earth hours?"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _files(tmp_path: Path) -> tuple[Path, Path]:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "suite.yaml").write_text("name: astro\nitems: items.jsonl\n")
    (suite / "items.jsonl").write_text(json.dumps({"id": "q1", "prompt": Q, "reference": "Venus"}) + "\n")
    train = tmp_path / "train.jsonl"
    rows = [
        {"id": "t1", "prompt": "Quick one: " + Q.lower(), "completion": "Venus."},
        {"prompt": "Hi", "completion": "Hello"},
    ]
    train.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return train, suite


def test_leak_is_an_error_with_ids_and_holdout_ids(tmp_path):
    train, suite = _files(tmp_path)
    r = run("validate", str(train), "--holdout", str(suite), "--no-paraphrase", "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    leaks = [f for f in doc["findings"] if f["check"].startswith("leakage.") and f["check"] != "leakage.summary"]
    assert [(f["check"], f["ids"], f["holdout_ids"], f["holdout"]) for f in leaks] == [
        ("leakage.ngram", ["t1"], ["q1"], str(suite))
    ]
    assert leaks[0]["severity"] == "error" and leaks[0]["data"]["evidence"]["span_words"] == 17
    assert doc["stats"]["leakage"]["methods"]["paraphrase"].startswith("off")


def test_out_dir_has_the_side_by_side_report(tmp_path):
    train, suite = _files(tmp_path)
    out = tmp_path / "out"
    r = run("validate", str(train), "--holdout", str(suite), "--no-paraphrase", "--out", str(out))
    assert r.returncode == 1
    md = (out / "validation.md").read_text()
    assert "### Leaked pairs" in md and "Quick one: **which planet" in md
    assert "leakage:" in r.stdout and "paraphrase: off" in r.stdout


def test_thresholds_change_what_is_flagged(tmp_path):
    train, suite = _files(tmp_path)
    # with 20-grams the 17-word question cannot match as an n-gram; it is still a near duplicate
    r = run("validate", str(train), "--holdout", str(suite), "--no-paraphrase", "--ngram-n", "20", "--json")
    checks = {f["check"] for f in json.loads(r.stdout)["findings"]}
    assert "leakage.ngram" not in checks and "leakage.near_duplicate" in checks
    r = run(
        "validate", str(train), "--holdout", str(suite), "--no-paraphrase", "--ngram-n", "20",
        "--minhash-threshold", "0.99", "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stdout


def test_bad_holdout_and_bad_options_exit_2(tmp_path):
    train, suite = _files(tmp_path)
    (suite / "items.jsonl").write_text('{"id": "q1", "prompt": "a b c d e f"}\n{"id": "q2", "question": "x"}\n')
    r = run("validate", str(train), "--holdout", str(suite))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "items.jsonl:2" in r.stderr and "field 'prompt'" in r.stderr
    r = run("validate", str(train), "--ngram-n", "8")
    assert r.returncode == 2 and "need --holdout" in r.stderr
    r = run("validate", str(train), "--holdout", str(tmp_path / "missing"))
    assert r.returncode == 2 and "no such holdout" in r.stderr


def test_leakage_without_paraphrase_does_not_import_torch(tmp_path):
    train, suite = _files(tmp_path)
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"try:\n    main(['validate', {str(train)!r}, '--holdout', {str(suite)!r}, '--no-paraphrase'])\n"
        "except SystemExit:\n    pass\n"
        "print('IMPORTED', [m for m in ('torch', 'transformers') if m in sys.modules])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "IMPORTED []" in r.stdout, r.stdout + r.stderr
