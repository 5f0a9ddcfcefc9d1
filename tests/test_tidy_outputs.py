"""Tidy outputs: reports follow the umask, no temporary file survives, a reused --out never mixes runs."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.files import OUT_MANIFEST, OutFolder, clean_stale_temp_files, write_atomic

ROOT = Path(__file__).parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def harness(*args: str, umask: int | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "--quiet", *args], capture_output=True, text=True, cwd=ROOT, timeout=600,
        env=ENV, preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )  # fmt: skip


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def tree(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("umask", "expected"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_follow_the_umask(tmp_path, umask, expected):
    old = os.umask(umask)
    try:
        p = write_atomic(tmp_path / "report.md", "x")
        again = write_atomic(tmp_path / "report.md", "y")  # replacing keeps following the umask
    finally:
        os.umask(old)
    assert mode(p) == expected and mode(again) == expected


@pytest.fixture
def replay(tmp_path: Path) -> Path:
    """Pre-generated outputs for the general suite (half right)."""
    rows = []
    for n, line in enumerate((ROOT / "suites/general/items.jsonl").read_text().splitlines()):
        item = json.loads(line)
        ref = item["reference"]
        rows.append({"id": item["id"], "output": str(ref[0] if isinstance(ref, list) else ref) if n % 2 else "no"})
    p = tmp_path / "outputs.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_cli_reports_0644_under_umask_022_and_no_tmp_left(replay, tmp_path):
    out = tmp_path / "out"
    r = harness("eval", "suites/general", "--model", f"outputs:{replay}", "--out", str(out), "--no-cache",
                "--no-store", umask=0o022)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert tree(out) == {"run.json", "run.md", OUT_MANIFEST}  # no .tmp file survives a normal run
    assert {mode(out / f) for f in tree(out)} == {0o644}


KILLED_WRITER = textwrap.dedent(
    """
    import os, sys, time
    import harness.files as files

    def hang(fd):  # the process is killed in the middle of writing the report
        print("writing", flush=True)
        time.sleep(600)

    files.os.fsync = hang
    files.write_atomic(sys.argv[1], "half a report")
    """
)


def test_temp_file_of_a_killed_write_is_removed_by_the_next_write_to_the_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(out / "report.md")], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait(60)
    stale = [p.name for p in out.iterdir()]
    assert len(stale) == 1 and stale[0].startswith(f".report.md.{proc.pid}.") and stale[0].endswith(".tmp")
    # files the cleaning must leave alone: a user's, a live writer's (this test's own pid), a link
    (out / ".notes.tmp").write_text("mine")
    live = out / f".other.md.{os.getpid()}.abcdefgh.tmp"
    live.write_text("being written")
    (out / f".link.md.{proc.pid}.abcdefgh.tmp").symlink_to(out / ".notes.tmp")
    old = time.time() - 3600
    for p in out.iterdir():
        os.utime(p, (old, old), follow_symlinks=False)

    # the next run (a new process) writes into the folder
    r = subprocess.run([sys.executable, "-c", f"import harness.files as f; f.write_atomic({str(out / 'x.md')!r}, 'x')"],
                       env=ENV, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [".notes.tmp", live.name, f".link.md.{proc.pid}.abcdefgh.tmp", "x.md"]
    )


def test_a_stale_temp_file_newer_than_this_process_is_kept(tmp_path):
    """A dead writer's file is only removed when it is older than this process (a pid namespace may hide its writer)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = int(proc.stdout)
    fresh = tmp_path / f".a.md.{dead}.abcdefgh.tmp"
    fresh.write_text("x")
    assert clean_stale_temp_files(tmp_path) == [] and fresh.exists()
    old = time.time() - 3600
    os.utime(fresh, (old, old))
    assert clean_stale_temp_files(tmp_path) == [fresh] and not fresh.exists()


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    """Two run documents of the general suite to compare (no model needed)."""
    from harness.eval.evaluate import evaluate_suite
    from harness.eval.suite import load_suite
    from harness.models.fake import FakeGenerator
    from harness.report.run import write_run

    suite = load_suite(ROOT / "suites/general")
    refs = {it.id: str(it.reference[0] if isinstance(it.reference, list) else it.reference) for it in suite.items}
    base = write_run(evaluate_suite(suite, FakeGenerator(lambda r: refs[r.item_id])), tmp_path / "b").json
    cand = write_run(evaluate_suite(suite, FakeGenerator(lambda r: "no")), tmp_path / "c").json
    return base, cand


def test_reused_out_holds_only_the_last_run(replay, runs, tmp_path):
    out = tmp_path / "out"
    safety = [json.loads(line)["id"] for line in (ROOT / "suites/safety/items.jsonl").read_text().splitlines()]
    with replay.open("a") as fh:
        fh.writelines(json.dumps({"id": i, "output": "I can't help with that."}) + "\n" for i in safety)
    r = harness("eval", "suites/general", "suites/safety", "--model", f"outputs:{replay}", "--out", str(out),
                "--no-cache", "--no-store")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert {"general/run.json", "safety/run.md"} <= tree(out)
    first = json.loads((out / OUT_MANIFEST).read_text())
    assert set(first["files"]) == tree(out) - {OUT_MANIFEST} and "run.json" in "".join(first["files"])
    (out / "notes.txt").write_text("the user's own file")

    # the same folder for a comparison that fails (exit 1 still completes the run)
    r = harness("compare", str(runs[0]), str(runs[1]), "--out", str(out), "--no-store")
    assert r.returncode == 1, r.stderr
    second = json.loads((out / OUT_MANIFEST).read_text())
    assert tree(out) == {*second["files"], OUT_MANIFEST, "notes.txt"}
    assert {"comparison.json", "report.md", "report.html"} <= set(second["files"])
    assert not any("run." in f for f in tree(out))  # the eval's reports are gone, and their folders
    assert [p for p in out.iterdir() if p.is_dir()] == []
    assert set(second["files"].values()) == {second["run_id"]} != {first["run_id"]}
    assert second["complete"] is True


def test_out_folder_keeps_what_it_did_not_write(tmp_path):
    out = tmp_path / "out"
    with OutFolder(out):
        write_atomic(out / "a.json", "1")
        write_atomic(out / "sub" / "b.md", "1")
        write_atomic(out / "c.md", "1")
    # changed by the user after the run, a file listed with ../: never removed
    (out / "c.md").write_text("edited by hand, not ours any more")
    manifest = json.loads((out / OUT_MANIFEST).read_text())
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    manifest["files"]["../outside.txt"] = manifest["run_id"]
    (out / OUT_MANIFEST).write_text(json.dumps(manifest))
    now = time.time()
    os.utime(out / OUT_MANIFEST, (now - 5, now - 5))  # the hand edit of c.md came after the manifest
    for f in ("a.json", "sub/b.md"):
        os.utime(out / f, (now - 10, now - 10))

    with pytest.raises(RuntimeError), OutFolder(out):  # a run that fails removes nothing
        write_atomic(out / "d.md", "2")
        raise RuntimeError("stopped")
    failed = json.loads((out / OUT_MANIFEST).read_text())
    assert failed["complete"] is False and failed["files"]["a.json"] == manifest["run_id"]
    assert failed["files"]["d.md"] == failed["run_id"]
    assert (out / "a.json").exists() and (out / "sub" / "b.md").exists()

    with OutFolder(out):
        write_atomic(out / "e.md", "3")
    assert tree(out) == {"c.md", "e.md", OUT_MANIFEST} and outside.read_text() == "keep"


def test_gate_then_eval_in_one_out_folder_leaves_only_the_eval(replay, tmp_path):
    out = tmp_path / "out"
    r = harness("gate", "suites/general", "--base", f"outputs:{replay}", "--candidate", f"outputs:{replay}",
                "--out", str(out), "--no-cache", "--no-store", "--no-paraphrase")  # fmt: skip
    assert r.returncode in (0, 3), r.stderr
    gate_files = tree(out)
    assert {"comparison.json", "report.html", "runs/general/base/run.json"} <= gate_files
    r = harness("eval", "suites/general", "--model", f"outputs:{replay}", "--out", str(out), "--no-cache",
                "--no-store")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert tree(out) == {"run.json", "run.md", OUT_MANIFEST}
    assert not (out / "runs").exists()  # the gate's run folders went with their files


def test_a_failed_run_shows_its_own_error_when_the_manifest_cannot_be_written(tmp_path, monkeypatch):
    import harness.files

    out = tmp_path / "out"
    with OutFolder(out):
        write_atomic(out / "a.md", "1")

    def full_disk(self: OutFolder, *, complete: bool) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(harness.files.OutFolder, "finish", full_disk)
    with pytest.raises(RuntimeError, match="the run's own error"), OutFolder(out):
        raise RuntimeError("the run's own error")
    with pytest.raises(OSError, match="No space"), OutFolder(out):  # a complete run says the folder failed
        write_atomic(out / "a.md", "2")
