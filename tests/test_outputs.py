"""Output locations: checked before any work, and a write that fails later names its file (issue 14)."""

from __future__ import annotations

import errno
import json
import os
import sqlite3
from pathlib import Path

import pytest

from harness.errors import OutputError
from harness.files import check_output, json_text, write_atomic, write_json

ROOT = Path(__file__).parent.parent
ROOT_USER = hasattr(os, "geteuid") and os.geteuid() == 0


def cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run ``harness ARGS`` in this process through the real entry point; (exit code, stdout, stderr)."""
    from harness.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capfd.readouterr()
    return int(info.value.code or 0), out, err


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    p = tmp_path / "plain.txt"
    p.write_text("x")
    return p


# ---------------------------------------------------------------------------- check_output
def test_out_that_is_a_file(a_file):
    with pytest.raises(OutputError, match="--out must be a folder") as info:
        check_output(a_file, option="--out", folder=True)
    assert info.value.file == str(a_file)


def test_file_option_that_is_a_folder(tmp_path):
    with pytest.raises(OutputError, match="--junit must be a file"):
        check_output(tmp_path, option="--junit", folder=False)


def test_under_a_regular_file_fails_even_for_root(a_file):
    with pytest.raises(OutputError, match=f"{a_file} is a file, not a folder"):
        check_output(a_file / "sub" / "out", option="--out", folder=True)
    with pytest.raises(OutputError, match="--cache cannot be created"):
        check_output(a_file / "c.sqlite", option="--cache", folder=False)


@pytest.mark.skipif(ROOT_USER, reason="root ignores permission bits")
def test_read_only_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="no permission to write"):
            check_output(ro / "out", option="--out", folder=True)
        with pytest.raises(OutputError):
            write_atomic(ro / "x.json", "{}")
    finally:
        ro.chmod(0o700)


def test_new_nested_folder_is_fine(tmp_path):
    assert check_output(tmp_path / "a" / "b", option="--out", folder=True) == tmp_path / "a" / "b"
    assert check_output(tmp_path / "a" / "f.xml", option="--junit", folder=False).name == "f.xml"


# ---------------------------------------------------------------------------- writes that fail later
def test_full_disk_names_the_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "out" / "validation.json"
    write_json(target, {"old": True})

    real_fdopen = os.fdopen

    class FullDisk:  # the file object write_atomic gets: every write answers ENOSPC
        def __init__(self, fd: int, *a, **k) -> None:
            self.fh = real_fdopen(fd, *a, **k)

        def write(self, data: bytes) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

    monkeypatch.setattr(os, "fdopen", FullDisk)
    with pytest.raises(OutputError, match=r"No space left on device \(ENOSPC\)") as info:
        write_json(target, {"new": True})
    monkeypatch.undo()
    assert info.value.file == str(target)
    assert json.loads(target.read_text()) == {"old": True}  # the old file intact
    assert [p.name for p in target.parent.iterdir()] == ["validation.json"]


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_dev_full_through_the_harness_writer(monkeypatch, tmp_path):
    # mkstemp's file is replaced by /dev/full, a real device that answers every write with ENOSPC
    import tempfile

    real = tempfile.mkstemp

    def onto_dev_full(*a, **k):
        fd, name = real(*a, **k)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(tempfile, "mkstemp", onto_dev_full)
    with pytest.raises(OutputError, match="ENOSPC"):
        write_atomic(tmp_path / "r.md", "x" * 100_000)


def test_cache_full_disk_keeps_what_was_cached(tmp_path, monkeypatch):
    from harness.eval.cache import GenerationCache

    path = tmp_path / "c.sqlite"
    cache = GenerationCache(path)
    cache.put("k1", "first", model="m")

    class Full:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *a):
            if sql.startswith("INSERT"):
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *a)

        def close(self) -> None:
            self.db.close()

    monkeypatch.setattr(cache, "_db", Full(cache._db))
    with pytest.raises(OutputError, match=r"cannot write the generation cache .*database or disk is full") as info:
        cache.put("k2", "second", model="m")
    assert info.value.file == str(path)
    cache.close()
    with GenerationCache(path) as again:
        assert again.get("k1").text == "first" and again.get("k2") is None


def test_cache_under_a_file(a_file):
    from harness.eval.cache import GenerationCache

    with pytest.raises(OutputError) as info:
        GenerationCache(a_file / "c.sqlite")
    assert str(a_file / "c.sqlite") in str(info.value)


def test_cache_that_is_not_sqlite(a_file):
    from harness.eval.cache import GenerationCache

    a_file.write_bytes(b"not a database at all" * 100)
    with pytest.raises(OutputError, match="not a SQLite database"):
        GenerationCache(a_file)


# ---------------------------------------------------------------------------- the CLI checks first
@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["validate", "examples/tickets_train.jsonl", "--out", "{file}"], "--out"),
        (["agreement", "examples/ratings.csv", "--level", "ordinal", "--out", "{file}"], "--out"),
        (["eval", "suites/general", "--model", "no-such-model", "--out", "{file}"], "--out"),
        (["eval", "suites/general", "--model", "no-such-model", "--cache", "{file}/c.sqlite"], "--cache"),
        (["eval", "suites/general", "--model", "no-such-model", "--store", "{file}/s.sqlite"], "--store"),
        (["gate", "suites/general", "--candidate", "x", "--base", "y", "--junit", "{file}/j.xml"], "--junit"),
        (["gate", "suites/general", "--candidate", "x", "--base", "y", "--out", "{file}"], "--out"),
        (["compare", "a.json", "b.json", "--out", "{file}"], "--out"),
        (["train", "examples/train_tickets.yaml", "--out", "{file}/run"], "--out"),
        (["monitor", "examples/monitor", "--out", "{file}"], "--out"),
        (["redteam", "suites/general", "--out", "{file}"], "--out"),
        (["rm-eval", "runs/none", "examples/preferences.jsonl", "--out", "{file}"], "--out"),
        (["rankings", "examples/rankings.jsonl", "--out", "{file}"], "--out"),
        (["import-lm-eval", "task.yaml", "--out", "{file}"], "--out"),
        (["history", "--html", "{file}/h.html"], "--html"),
        (["examples", "{file}"], "DEST"),
    ],
)
def test_every_output_option_is_checked_before_anything_else(capfd, monkeypatch, a_file, args, option):
    monkeypatch.chdir(ROOT)
    code, _out, err = cli(capfd, *[a.replace("{file}", str(a_file)) for a in args])
    assert code == 2, err
    assert option in err and str(a_file) in err, err
    assert "Traceback" not in err and "internal error" not in err


def test_json_text_is_valid_utf8():
    text = json_text({"a": "x\ud800y", "b": "\udfff", "ok": "é😀"})
    text.encode("utf-8")  # would raise on a lone surrogate
    assert json.loads(text) == {"a": "x\ufffdy", "b": "\ufffd", "ok": "é😀"}


def test_an_unwrapped_write_error_is_a_clear_exit_2(capfd, monkeypatch):
    # a writer the harness does not wrap (a plot, a library's save) failing on a full disk
    import harness.cli.data as data

    def full_disk(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/reports/validation.md")

    monkeypatch.setattr(data, "_finish_validation", full_disk)
    code, _out, err = cli(capfd, "validate", str(ROOT / "examples" / "tickets_train.jsonl"))
    assert code == 2
    assert "error: /reports/validation.md: cannot write or read: No space left on device" in err
    assert "internal error" not in err


def test_other_unexpected_errors_stay_internal(capfd, monkeypatch):
    import harness.cli.data as data

    def broken(*a, **k):
        raise OSError(errno.ECONNRESET, "reset")

    monkeypatch.setattr(data, "_finish_validation", broken)
    code, _out, err = cli(capfd, "validate", str(ROOT / "examples" / "tickets_train.jsonl"))
    assert code == 2 and "internal error: ConnectionResetError" in err


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full")
def test_validate_out_on_a_full_disk_exits_2_naming_the_report(capfd, monkeypatch, tmp_path):
    import tempfile

    real = tempfile.mkstemp

    def onto_dev_full(*a, **k):  # every report file the harness opens is /dev/full: writes answer ENOSPC
        fd, name = real(*a, **k)
        os.close(fd)
        return os.open("/dev/full", os.O_WRONLY), name

    monkeypatch.setattr(tempfile, "mkstemp", onto_dev_full)
    out = tmp_path / "reports"
    code, _out, err = cli(capfd, "validate", str(ROOT / "examples" / "tickets_train.jsonl"), "--out", str(out))
    assert code == 2, err
    assert f"error: {out / 'validation.json'}: cannot write: No space left on device (ENOSPC)" in err
    assert "internal error" not in err and list(out.iterdir()) == []  # no half-written report, no temp file
