"""CLI conventions: progress only on a terminal, warnings held back while it is drawn, results on
stdout, no colour when piped, every default in --help, --version, exit codes in the top-level help."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from rich.console import Console

from harness import progress

ROOT = Path(__file__).resolve().parent.parent


def harness(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=300, env=full
    )


@pytest.fixture
def terminal(monkeypatch):
    """progress.err replaced by a terminal console writing into a buffer."""
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(progress, "err", console)
    monkeypatch.setattr(progress, "_DELAY", 0)  # draw at once (by default only steps past 0.4 s draw)
    for var in progress._CI_VARS:
        monkeypatch.delenv(var, raising=False)
    progress.configure(quiet=False)
    return buf


def test_no_display_when_not_a_terminal_quiet_or_ci(monkeypatch, terminal):
    assert progress.enabled()
    monkeypatch.setenv("CI", "true")
    assert not progress.enabled()
    monkeypatch.delenv("CI")
    progress.configure(quiet=True)
    try:
        assert not progress.enabled()
        with progress.step("nothing drawn", total=3) as s:
            s.advance(3)
        assert terminal.getvalue() == ""
        assert s.completed == 3  # the step still counts
    finally:
        progress.configure(quiet=False)


def test_warnings_and_library_logs_wait_until_the_display_ends(terminal):
    lib = logging.getLogger("some_library")
    handler = logging.StreamHandler(sys.stderr)
    lib.addHandler(handler)
    lib.propagate = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            with progress.step("working", total=2) as s:
                for _ in range(3):
                    warnings.warn("the old way is deprecated", FutureWarning, stacklevel=1)
                lib.warning("a library message")
                assert handler.stream is not sys.stderr  # held while the display is drawn
                s.advance(2)
            assert handler.stream is sys.stderr  # given back
    finally:
        lib.removeHandler(handler)
    text = terminal.getvalue()
    after = text[text.rfind("working") :]  # what was printed once the display was gone
    assert after.count("FutureWarning: the old way is deprecated") == 1
    assert "a library message" in after


def test_quick_steps_draw_nothing(monkeypatch, terminal):
    monkeypatch.setattr(progress, "_DELAY", 60)
    with progress.step("quick", total=1) as s:
        s.advance()
    assert terminal.getvalue() == ""


def test_nested_steps_share_one_display(terminal):
    with progress.step("outer", total=2) as a:
        live = progress._state["live"]
        with progress.step("inner", total=1) as b:
            assert progress._state["live"] is live and len(live.tasks) == 2
            b.advance()
        a.advance(2)
    assert progress._state["live"] is None and progress._state["open"] == 0


def test_version_help_defaults_and_exit_codes():
    r = harness("--version")
    assert r.returncode == 0 and r.stdout.startswith("harness ")
    r = harness("--help", env={"COLUMNS": "200"})
    assert "Exit codes: 0 pass" in r.stdout and "4 could not run" in r.stdout
    r = harness("validate", "--help", env={"COLUMNS": "200"})
    # rich markup used to eat "[default: 13]" ("Word n-gram length for containment .")
    assert "containment [default: 13]" in r.stdout and "[default: 0.4]" in r.stdout
    assert "[default: error]" in r.stdout


def test_results_on_stdout_without_colour_when_piped():
    r = harness("agreement", "examples/ratings.csv", "--level", "ordinal", "--by", "criterion", "--bootstrap", "50")
    assert r.returncode in (0, 1, 3)
    assert "Agreement, criterion" in r.stdout and "Gate:" in r.stdout and "Agreement" not in r.stderr
    assert "\x1b[" not in r.stdout + r.stderr  # piped: no colour codes, no progress display
    args = ("agreement", "examples/ratings.csv", "--level", "ordinal", "--by", "criterion", "--bootstrap", "50")
    colour = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])[;m]")  # a foreground colour, not bold/italic
    assert colour.search(harness(*args, env={"FORCE_COLOR": "1"}).stdout)  # the check can fail
    assert not colour.search(harness(*args, env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout)


def test_a_step_with_stderr_not_a_terminal_does_not_import_rich():
    """Progress is off when stderr is a pipe; deciding so must not cost rich's import."""
    code = (
        "import sys\n"
        "from harness import progress\n"
        "with progress.step('x', total=1) as s:\n"
        "    s.advance()\n"
        "print(progress.enabled(), 'rich' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in progress._CI_VARS + progress._TERMINAL_VARS}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**env, "PYTHONPATH": str(ROOT)},
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
