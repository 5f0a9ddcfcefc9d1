"""``harness import-lm-eval``: an lm-eval multiple-choice task YAML (local data) into a suite folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from harness.cli.app import app, console


@app.command("import-lm-eval")
def import_lm_eval(
    task: Annotated[Path, typer.Argument(help="An lm-eval task YAML (output_type: multiple_choice, local data).")],
    out: Annotated[Path, typer.Option(help="The suite folder to write (suite.yaml, items.jsonl).")],
) -> None:
    """Write a multiple-choice suite from an lm-eval task whose data is local (nothing is downloaded)."""
    from harness.eval.lmeval_import import import_lm_eval_task
    from harness.eval.suite import load_suite

    folder = import_lm_eval_task(task, out)
    suite = load_suite(folder)  # the written suite must load
    console.print(f"Suite {suite.name!r} with {len(suite.items)} items written to {folder}")
