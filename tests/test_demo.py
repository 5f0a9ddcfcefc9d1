"""The demo pipeline end to end at reduced size (`python -m harness.demo --quick`) on the bundled model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


@pytest.mark.e2e
def test_demo_quick_tells_the_whole_story(tmp_path):
    out = tmp_path / "demo"
    r = subprocess.run(
        [sys.executable, "-m", "harness.demo", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    # stage 1: the planted problems are found, then the cleaned file has no blocking findings
    raw = json.loads((out / "validation" / "validation.json").read_text())
    checks = {f["check"] for f in raw["findings"]}
    assert {"leakage.ngram", "schema.empty_field", "duplicates.exact", "pii.email"} <= checks
    leak = next(f for f in raw["findings"] if f["check"] == "leakage.ngram")
    assert leak["ids"] == ["t-leak-1"]
    clean = json.loads((out / "validation-clean" / "validation.json").read_text())
    assert clean["counts"]["error"] == 0
    # stage 2: the planted unreliable rater is flagged; the judge's agreement is measured
    agreement = json.loads((out / "agreement" / "agreement.json").read_text())
    flagged = {r["rater_id"] for g in agreement["groups"] for r in g["raters"] if r.get("outlier")}
    assert "eli" in flagged
    calibration = json.loads((out / "judge" / "calibration.json").read_text())
    assert calibration["status"] in {"calibrated", "below_floor", "undefined"} and calibration["n_items"] > 0
    # stage 3: a trained adapter with its manifest
    manifest = json.loads((out / "run" / "manifest.json").read_text())
    assert manifest["kind"].startswith("harness.train") and (out / "run" / "adapter").is_dir()
    # stage 5: base and candidate red-teamed (plain and base64 attacks), the refusal rule checked
    redteam = json.loads((out / "redteam" / "redteam.json").read_text())
    assert len(redteam["models"]) == 2 and {p["strategy"] for p in redteam["paired"]} <= {"none", "base64"}
    assert redteam["verdict"] in {"pass", "fail", "inconclusive"} and redteam["grader"]["n"] == 60
    # stage 4, 6: a verdict over the three suites, reports written
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["verdict"] in {"pass", "fail", "inconclusive"}
    assert "Verdict" in r.stderr and "report.html" in r.stderr
    html = (out / "report.html").read_text()
    assert comparison["verdict"].upper() in html.upper()
    assert (out / "junit.xml").read_text().startswith("<?xml")


def test_a_second_demo_replaces_its_own_earlier_run_but_no_other_folder(tmp_path):
    """``make demo`` twice works: the earlier demo's run folder goes; a folder that is not a train run stays."""
    from harness.demo import _fresh_run_dir

    run = tmp_path / "run"
    (run / "adapter").mkdir(parents=True)
    (run / "config.yaml").write_text("method: sft\n")
    _fresh_run_dir(run)
    assert not run.exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    _fresh_run_dir(other)
    assert (other / "notes.txt").read_text() == "keep"
