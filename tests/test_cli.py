"""The command line as a user meets it: exit codes, JSON on stdout, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=cwd or ROOT, timeout=300
    )


def test_help_lists_verbs():
    r = run("--help")
    assert r.returncode == 0
    assert "validate" in r.stdout


def test_validate_json_document_and_exit_code(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a b c", "completion": "d e f"}\n{"prompt": "x y", "completion": " "}\n')
    r = run("validate", str(p), "--json")
    assert r.returncode == 1, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.validation/v1"
    assert [f["check"] for f in doc["findings"] if f["severity"] == "error"] == ["schema.empty_field"]
    assert doc["findings"][0]["ids"] == ["L2"]


def test_fail_on_warning_and_out_dir(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "completion": "mail bob.smith@example.com"}\n')
    assert run("validate", str(p)).returncode == 0
    out = tmp_path / "out"
    r = run("validate", str(p), "--fail-on", "warning", "--out", str(out))
    assert r.returncode == 1
    assert json.loads((out / "validation.json").read_text())["schema"] == "harness.validation/v1"
    md = (out / "validation.md").read_text()
    assert "pii.email" in md and "bob.smith" not in md


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: d / "missing.jsonl", "no such file"),
        (lambda d: d, "no shards"),  # a folder is a set of shards: an empty one is refused
        (lambda d: (d / "empty.jsonl", (d / "empty.jsonl").write_text(""))[0], "empty"),
    ],
)
def test_unreadable_input_exits_2_without_traceback(tmp_path, setup, message):
    path = setup(tmp_path)
    r = run("validate", str(path))
    assert r.returncode == 2
    assert message in r.stderr and "Traceback" not in r.stderr


def test_bad_rows_exit_1_with_file_line_field(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"prompt": "a", "completion": "b"}\n{"prompt": 3, "completion": "b"}\n\xff\xfe\n{"prompt": "x"}\n')
    r = run("validate", str(p), "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    found = {(f["check"], f["lines"][0]) for f in json.loads(r.stdout)["findings"] if f["check"].startswith("schema")}
    assert found == {("schema.wrong_type", 2), ("schema.encoding", 3), ("schema.missing_field", 4)}


def test_usage_error_exits_2():
    r = run("validate")
    assert r.returncode == 2


def test_read_only_verbs_do_not_import_torch(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "completion": "b"}\n')
    code = (
        "import sys\nfrom harness.cli import main\n"
        f"try:\n    main(['validate', {str(p)!r}])\nexcept SystemExit:\n    pass\n"
        "bad = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "print('IMPORTED', bad)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "IMPORTED []" in r.stdout, r.stdout + r.stderr
