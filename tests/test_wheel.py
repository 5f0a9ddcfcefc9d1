"""The wheel is the product: built, installed into a fresh environment outside the repository, and
the README's quickstart run there.

The fresh virtual environment has no system site-packages. The wheel goes in with ``--no-deps``;
its dependencies (torch, transformers, ... several GB) are not downloaded again: a ``.pth`` file
appends the test interpreter's own site-packages to the new environment's path. Only plain
directories are added that way (``.pth`` files inside them are not run, so the development
checkout's editable install of ``harness`` stays out), and the new environment's own
site-packages comes first, so ``import harness`` can only find the wheel's copy: the test checks
that it did, and that the bundled suites, rubrics and examples came from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _run(cmd: list[str], *, cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> str:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode in ok, f"{cmd}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a clean copy: an in-tree build leaves build/ and *.egg-info behind, and a stale
    # build/lib would put modules deleted since into the wheel.
    src = tmp_path_factory.mktemp("src") / "finetune-harness"
    skip = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "reports", "runs")
    shutil.copytree(ROOT, src, ignore=skip)
    out = tmp_path_factory.mktemp("dist")
    # --no-build-isolation: the build backend (setuptools) is the one already installed, no download
    _run(
        [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-w", str(out), "-q"],
        cwd=src.parent,
        env=_clean_env(),
    )
    (found,) = out.glob("finetune_harness-*.whl")
    return found


def _clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH: pip and the installed command must not see the checkout."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def test_wheel_holds_the_bundled_data_and_metadata(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for suite in ("tickets", "general", "safety"):
        assert {f"harness/_data/suites/{suite}/suite.yaml", f"harness/_data/suites/{suite}/items.jsonl"} <= names
    assert {"harness/_data/rubrics/tickets.yaml", "harness/_data/examples/tickets_train.jsonl"} <= names
    assert "harness/_data/examples/train_tickets.yaml" in names and "harness/_data/examples/ratings.csv" in names
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    assert "Name: finetune-harness" in text and "License-Expression: Apache-2.0" in text
    assert any(n.endswith("licenses/LICENSE") for n in names)
    from harness import __version__

    assert f"Version: {__version__}" in text


def test_quickstart_in_a_fresh_environment_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path)
    py = venv / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)], cwd=tmp_path, env=_clean_env())
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    purelib = Path(_run([str(py), "-c", code], cwd=tmp_path).strip())
    shared = [p for p in {sysconfig.get_paths()["purelib"], *site.getsitepackages()} if Path(p).is_dir()]
    (purelib / "_shared_dependencies.pth").write_text("\n".join(sorted(shared)) + "\n")

    env = _clean_env() | {"HARNESS_CACHE": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    harness = str(venv / "bin" / "harness")
    where = _run([str(py), "-c", "import harness, harness.bundled as b; print(harness.__file__); print(b.data_dir())"],
                 cwd=tmp_path, env=env).split()  # fmt: skip
    assert all(Path(w).is_relative_to(venv) for w in where), where  # the wheel's copy and its data, not the repo's
    assert _run([harness, "--version"], cwd=tmp_path, env=env).startswith("harness ")
    suites = json.loads(_run([harness, "suites", "--json"], cwd=tmp_path, env=env))
    bundled = ["general", "general-text", "knowledge", "redteam", "safety", "tickets"]
    assert [s["name"] for s in suites["suites"]] == bundled

    # the README's quickstart, but pip install (done above)
    _run([harness, "examples", "my-harness"], cwd=tmp_path, env=env)
    work = tmp_path / "my-harness"
    _run(
        [harness, "validate", "examples/tickets_train.jsonl", "--holdout", "tickets", "--out", "reports/validate"],
        cwd=work, env=env, ok=(1,),
    )  # fmt: skip
    doc = json.loads((work / "reports" / "validate" / "validation.json").read_text())
    errors = sorted(f["check"] for f in doc["findings"] if f["severity"] == "error")
    assert errors == ["leakage.ngram", "schema.empty_field"]  # the planted leak and the empty completion
    assert (work / "reports" / "validate" / "validation.md").is_file()
    # a bundled suite by name in a gate, on replayed outputs (no model needed)
    items = [json.loads(x) for x in (work / "suites" / "general" / "items.jsonl").read_text().splitlines()]
    rows = [json.dumps({"id": r["id"], "output": str(r["reference"])}) + "\n" for r in items]
    (work / "ref.jsonl").write_text("".join(rows))
    _run([harness, "gate", "general", "--base", "outputs:ref.jsonl", "--candidate", "outputs:ref.jsonl", "--out", "g"],
         cwd=work, env=env, ok=(0,))  # fmt: skip
    assert (work / "g" / "report.html").is_file()
