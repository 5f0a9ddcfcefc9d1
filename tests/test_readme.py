"""The README and docs/ render and their commands run.

Fences balance (an unclosed fence once swallowed a whole section), relative links point at files
inside the repository, and the quickstart (all but ``pip install``) and every bash block marked
``<!-- runnable -->`` (``<!-- runnable exit=N -->`` when the last command must exit N) run, in
order, in a folder made by ``harness examples``, as a pip user would run them.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"<!-- runnable(?: exit=(\d+))? -->\s*\n```bash\n(.*?)\n```", re.S)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_fences_balance_and_no_heading_is_swallowed(page: Path) -> None:
    inside = False
    for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            inside = not inside
        elif inside and re.match(r"#{2,} \S", line):
            pytest.fail(f"{page.name}:{n}: a heading inside a code block (an unclosed fence above?): {line}")
    assert not inside, f"{page.name}: a code block is never closed"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_stay_inside_the_repository_and_exist(page: Path) -> None:
    for target in LINK.findall(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address or an anchor on the same page
        path = (page.parent / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert path.exists(), f"{page.name} links a missing file: {target}"


def _blocks() -> list[tuple[str, int]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quickstart", 1)[1].split("```bash\n", 1)[1].split("\n```", 1)[0]
    lines = [ln for ln in quick.splitlines() if not ln.startswith("pip install")]
    return [("\n".join(lines), 1)] + [(body, int(code or 0)) for code, body in MARKER.findall(text)]


def test_readme_has_runnable_blocks() -> None:
    blocks = _blocks()
    assert len(blocks) >= 6 and "harness examples" in blocks[0][0] and "harness validate" in blocks[0][0]


@pytest.mark.slow
def test_readme_commands_run(tmp_path: Path) -> None:
    shims = tmp_path / "bin"
    shims.mkdir()
    for name, cmd in (("harness", f'"{sys.executable}" -m harness'), ("python", f'"{sys.executable}"')):
        shim = shims / name
        shim.write_text(f'#!/bin/sh\nexec {cmd} "$@"\n')
        shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
    }
    cwd, state = tmp_path / "work", tmp_path / "cwd"
    cwd.mkdir()
    for body, expected in _blocks():
        t0 = time.perf_counter()
        script = f'set -eo pipefail\ntrap \'pwd > "{state}"\' EXIT\n{body}\n'
        r = subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
        out = f"{body}\nexit {r.returncode}, expected {expected}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
        assert r.returncode == expected, out
        assert "Traceback" not in r.stderr, r.stderr
        cwd = Path(state.read_text().strip())
        print(f"{time.perf_counter() - t0:6.1f} s  {body.splitlines()[-1][:90]}")  # -s shows where the time goes
    assert (cwd / "reports" / "validate" / "validation.md").is_file()  # where the quickstart says
    assert (cwd / "reports" / "gate-replay" / "report.html").is_file()
