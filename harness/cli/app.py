"""The typer application shared by the verbs: the app, the console, output helpers."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    name="harness",
    help="Evaluation and data-quality harness for fine-tuning language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(stderr=True)
state: dict[str, Any] = {"debug": False}


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


class DataFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    """Validate data, check rater agreement, train, evaluate and gate fine-tuned models.

    Exit codes: 0 pass · 1 fail · 2 bad usage or input · 3 inconclusive.
    """
    state["debug"] = debug


def emit_json(doc: dict[str, Any]) -> None:
    """Print a JSON document on stdout: indented on a terminal, one line when piped to a program.

    Checked against its schema under ``HARNESS_CHECK_DOCUMENTS=1``. Python's C encoder serves only
    unindented output; a 20,000-item agreement document takes seconds through the pure-Python
    indenting encoder.
    """
    from harness.files import check_written

    check_written(doc, where="<stdout>")
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False) + "\n")

