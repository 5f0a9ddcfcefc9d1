"""`harness compare` as a user meets it: exit codes, JSON on stdout, reports, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from fixtures.runs import binary_rubric, make_run

from harness.files import write_json

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _runs(tmp_path: Path, *, regress: bool) -> tuple[Path, Path]:
    n = 40
    base = np.r_[np.ones(20), np.zeros(20)]
    cand = np.r_[np.zeros(15), np.ones(5), np.zeros(20)] if regress else np.r_[np.ones(20), np.ones(15), np.zeros(5)]
    gate = [{"criterion": "acc", "require": "no_new_failures", "max": 2}]
    b = make_run({"acc": base}, rubric=binary_rubric("acc"), gate=gate, model="base")
    c = make_run({"acc": cand}, rubric=binary_rubric("acc"), gate=gate, model="cand")
    bp, cp = tmp_path / "base" / "run.json", tmp_path / "cand.json"
    write_json(bp, b.to_document())
    write_json(cp, c.to_document())
    assert len(base) == len(cand) == n
    return bp, cp


def test_compare_pass_writes_every_report(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=False)
    out, junit = tmp_path / "out", tmp_path / "junit.xml"
    r = run("compare", str(bp.parent), str(cp), "--out", str(out), "--junit", str(junit))
    assert r.returncode == 0, r.stderr
    assert "PASS" in r.stdout and "PASS" not in r.stderr  # the summary is a result: stdout; logs on stderr
    assert {p.name for p in out.iterdir()} == {"comparison.json", "report.md", "report.html", ".harness-out.json"}
    assert junit.read_text().startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_compare_fail_json_on_stdout(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=True)
    r = run("compare", str(bp), str(cp), "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.comparison/v1" and doc["verdict"] == "fail" and doc["exit_code"] == 1
    assert doc["rules"][0]["counts"]["broken"] == 15


def test_compare_policy_file_overrides_the_suite_gate(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=True)
    pol = tmp_path / "policy.yaml"
    pol.write_text("confidence: 0.9\nrules:\n  - {criterion: acc, require: at_least, value: 0.0}\n")
    r = run("compare", str(bp), str(cp), "--policy", str(pol), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert [x["require"] for x in doc["rules"]] == ["at_least"] and doc["rules"][0]["confidence"] == 0.9


def test_compare_inconclusive_exits_3(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=False)
    pol = tmp_path / "policy.yaml"
    pol.write_text("rules:\n  - {criterion: acc, require: at_least, value: 0.87}\n")
    r = run("compare", str(bp), str(cp), "--policy", str(pol), "--json")  # mean 0.875 of 40 items
    assert r.returncode == 3 and json.loads(r.stdout)["verdict"] == "inconclusive"


def test_bad_policy_exits_2_with_file_and_key(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=False)
    pol = tmp_path / "policy.yaml"
    pol.write_text("rules:\n  - {criterion: accuracy, require: improvement}\n")
    r = run("compare", str(bp), str(cp), "--policy", str(pol))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert str(pol) in r.stderr and "rules[0].criterion" in r.stderr and "Did you mean 'acc'" in r.stderr


def test_not_a_run_exits_2(tmp_path: Path) -> None:
    bp, _ = _runs(tmp_path, regress=False)
    other = tmp_path / "other.json"
    other.write_text('{"schema": "harness.validation/v1"}')
    r = run("compare", str(bp), str(other))
    assert r.returncode == 2 and "expected a harness.run/v1 document" in r.stderr and "Traceback" not in r.stderr
    r = run("compare", str(bp), str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "no such run file" in r.stderr


def test_compare_does_not_import_torch(tmp_path: Path) -> None:
    bp, cp = _runs(tmp_path, regress=False)
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"try:\n    main(['compare', {str(bp)!r}, {str(cp)!r}, '--json'])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert "IMPORTED []" in r.stdout, r.stdout + r.stderr
