"""``harness agreement`` as a user meets it: exit codes 0/1/2/3, JSON, reports, no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
EXAMPLE = str(ROOT / "examples" / "ratings.csv")


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "agreement", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _write(tmp_path: Path, rows: list[str], name: str = "r.csv") -> str:
    p = tmp_path / name
    p.write_text("item_id,rater_id,score\n" + "\n".join(rows) + "\n")
    return str(p)


def test_fail_exit_1_with_json_and_reports(tmp_path):
    out = tmp_path / "out"
    r = run(
        EXAMPLE,
        "--level",
        "ordinal",
        "--by",
        "criterion",
        "--scale",
        "1-5",
        "--bootstrap",
        "200",
        "--json",
        "--out",
        str(out),
    )
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.agreement/v1" and doc["verdict"] == "fail" and doc["level"] == "ordinal"
    assert json.loads((out / "agreement.json").read_text()) == doc
    assert "eli" in (out / "agreement.md").read_text()


def test_pass_exit_0_and_inconclusive_exit_3(tmp_path):
    rows = [f"i{i},{rater},{(i % 5) + 1}" for i in range(60) for rater in ("x", "y", "z")]
    good = _write(tmp_path, [*rows, "i0,w,2", "i1,w,2"])
    r = run(good, "--level", "interval", "--bootstrap", "200")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and "PASS" not in r.stderr  # results on stdout
    # Straddling: the example's intervals both contain 0.5.
    r = run(EXAMPLE, "--level", "ordinal", "--by", "criterion", "--min-alpha", "0.45", "--bootstrap", "200")
    assert r.returncode == 3, r.stderr
    # No interval: inconclusive, never a pass.
    assert run(good, "--level", "interval", "--bootstrap", "0").returncode == 3


@pytest.mark.parametrize(
    ("rows", "args", "message"),
    [
        (["a,x,1", "a,y,2", "a,x,3"], [], "rated item 'a' twice with different scores"),
        (["a,x,1", "a,y,9"], ["--scale", "1-5"], "off the declared scale"),
        (["a,x,1", "b,x,2"], [], "only one rater"),
    ],
)
def test_bad_input_exit_2_without_traceback(tmp_path, rows, args, message):
    path = _write(tmp_path, rows)
    r = run(path, "--level", "ordinal", *args)
    assert r.returncode == 2
    assert message in r.stderr and path in r.stderr and "Traceback" not in r.stderr


def test_level_is_required_and_checked(tmp_path):
    path = _write(tmp_path, ["a,x,1", "a,y,2"])
    r = run(path)
    assert r.returncode == 2 and "--level" in (r.stderr + r.stdout)
    r = run(path, "--level", "nomial")
    assert r.returncode == 2


def test_wide_form(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("item_id,ana,ben\n" + "\n".join(f"i{i},{i % 4},{i % 4}" for i in range(30)) + "\n")
    r = run(str(p), "--wide", "--level", "nominal", "--json", "--bootstrap", "100")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["form"] == "wide" and doc["groups"][0]["coefficients"]["cohen_kappa"]["value"] == 1.0


def test_agreement_verb_imports_neither_torch_nor_transformers():
    args = ["agreement", EXAMPLE, "--level", "ordinal", "--by", "criterion", "--bootstrap", "20"]
    code = (
        "import sys\n"
        "from harness.cli import app\n"
        f"try:\n    app(args={args!r}, standalone_mode=False)\n"
        "except BaseException:\n    pass\n"
        "print('harness.agreement.document' in sys.modules, 'torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.stdout.strip().splitlines()[-1] == "True False False", r.stderr
