"""The typer application shared by the verbs: the app, the consoles, output helpers.

Conventions every verb follows (see :mod:`harness.progress`):

- results (tables, summaries) go to :data:`stdout`, JSON documents through :func:`emit_json`
  (stdout); logs and notes to :data:`console` (stderr) or :func:`harness.progress.note`;
- a step that can take more than about two seconds runs inside ``harness.progress.step(...)``;
- help texts are plain text (square brackets print as written): write ``[default: 13]`` for an
  option whose default is decided later (a None default); typer shows the others itself.
"""

from __future__ import annotations

import re
import sys
from enum import StrEnum
from typing import Annotated, Any

import typer

from harness import progress
from harness._version import __version__

app = typer.Typer(
    name="harness",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
stdout = progress.out
"""Results (tables, summaries): stdout."""
console = progress.err
"""Logs, notes and errors: stderr."""
state: dict[str, Any] = {"debug": False}


class FailOn(StrEnum):
    error = "error"
    warning = "warning"


class DataFormat(StrEnum):
    jsonl = "jsonl"
    csv = "csv"
    parquet = "parquet"


def _version(value: bool) -> None:
    if value:
        stdout.print(f"harness {__version__}", markup=False)
        raise typer.Exit(0)


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress display, no notes on stderr.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Validate data, check rater agreement, train, evaluate and gate fine-tuned models.

    Results (tables, JSON) print on stdout; progress and logs on stderr. Progress is drawn only on
    a terminal (not with --quiet, CI or HARNESS_NO_PROGRESS set); colour is off when piped or
    with NO_COLOR.

    Exit codes: 0 pass · 1 fail (gate failed, blocking findings) · 2 bad usage or input ·
    3 inconclusive · 4 could not run (a server unreachable, retries exhausted).
    """
    state["debug"] = debug
    progress.configure(quiet=quiet)


def emit_json(doc: dict[str, Any]) -> None:
    """Print a JSON document on stdout: indented on a terminal, one line when piped to a program.

    Checked against its schema under ``HARNESS_CHECK_DOCUMENTS=1``. Python's C encoder serves only
    unindented output; a 20,000-item agreement document takes seconds through the pure-Python
    indenting encoder.
    """
    from harness.files import check_written, json_text

    check_written(doc, where="<stdout>")
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json_text(doc, indent=indent) + "\n")  # valid UTF-8 whatever the text held


def command() -> Any:
    """The click command behind the app, with every help text escaped for rich markup.

    Help texts are written as plain text: ``[default: 13]`` in an option's help would otherwise be
    read as a rich markup tag and vanish ("Word n-gram length for containment .").
    """
    cmd = typer.main.get_command(app)
    escape = _escape_markup

    def walk(c: Any) -> None:  # typer bundles its own click: duck-typed, not isinstance
        if c.help:  # a paragraph's line breaks are the docstring's, not the reader's
            paras = c.help.split("\n\n")
            c.help = escape("\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paras))
        for p in c.params:
            if getattr(p, "help", None):
                p.help = escape(p.help)
        for sub in getattr(c, "commands", {}).values():
            walk(sub)

    walk(cmd)
    from harness.cli.outputs import install

    install(cmd)  # every --out, --junit, --cache, --store checked as it is parsed, before any work
    for name, sub in getattr(cmd, "commands", {}).items():
        if name in OUT_FOLDER_VERBS and any(p.name == "out" for p in sub.params):
            sub.callback = _in_out_folder(sub.callback)
    return cmd


_MARKUP_TAG = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def _escape_markup(text: str) -> str:
    """``rich.markup.escape`` without importing rich (tests check both agree): ``[tag]`` as ``\\[tag]``.

    Example:
        >>> _escape_markup("Word n-gram length [default: 13]")
        'Word n-gram length \\\\[default: 13]'
    """
    text = _MARKUP_TAG.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    return text + "\\" if text.endswith("\\") and not text.endswith("\\\\") else text


OUT_FOLDER_VERBS = frozenset({"validate", "agreement", "eval", "compare", "gate", "monitor", "rm-eval", "redteam"})
"""Verbs whose ``--out`` folder holds one run's reports (:class:`harness.files.OutFolder`)."""


def _in_out_folder(callback: Any) -> Any:
    """Run a verb inside an :class:`~harness.files.OutFolder` of its ``--out`` (when given)."""
    import functools

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        from harness.files import OutFolder

        if kwargs.get("out") is None:
            return callback(*args, **kwargs)
        # an exit with a verdict's code (fail, inconclusive) still ends a complete run
        with OutFolder(kwargs["out"], command=["harness", *sys.argv[1:]], complete=(typer.Exit,)):
            return callback(*args, **kwargs)

    return run
