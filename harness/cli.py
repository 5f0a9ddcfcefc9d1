"""The ``harness`` command line: one thin function per verb.

Verbs that only read data (``validate``, ``agreement``) import neither torch nor transformers.
Every :class:`~harness.errors.HarnessError` becomes a one-line message and exit code 2; pass
``--debug`` for the traceback.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from harness.errors import HarnessError

app = typer.Typer(
    name="harness",
    help="Evaluation and data-quality harness for fine-tuning language models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console(stderr=True)
_state: dict[str, Any] = {"debug": False}


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
    _state["debug"] = debug


def _emit_json(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


@app.command()
def validate(
    train: Annotated[Path, typer.Argument(help="Training data: JSONL, CSV or Parquet.")],
    format: Annotated[DataFormat | None, typer.Option("--format", help="Force the file format.")] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Count lengths in tokens of this tokenizer (model spec); words otherwise.")
    ] = None,
    max_length: Annotated[int | None, typer.Option(help="Flag examples longer than this (tokens or words).")] = None,
    fail_on: Annotated[
        FailOn, typer.Option(help="Exit 1 when findings at or above this severity exist.")
    ] = FailOn.error,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the harness.validation/v1 document on stdout.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write validation.json and validation.md here.")] = None,
) -> None:
    """Check a training file: schema, duplicates, lengths, personal data, chat and preference audits."""
    from harness.report import write_atomic, write_json
    from harness.report.validation import print_summary, render_markdown
    from harness.validate import default_checks, validate_file

    count, unit = None, "words"
    if tokenizer is not None:
        from harness.models.tokenizers import token_counter

        count, unit = token_counter(tokenizer), "tokens"
    report = validate_file(
        train,
        format=format.value if format else None,
        checks=default_checks(count=count, unit=unit, max_length=max_length),
    )
    doc = report.to_document()
    doc["fail_on"] = fail_on.value
    if out is not None:
        write_json(out / "validation.json", doc)
        write_atomic(out / "validation.md", render_markdown(report, fail_on=fail_on.value))
    if as_json:
        _emit_json(doc)
    else:
        print_summary(report, console, fail_on=fail_on.value)
        if out is not None:
            console.print(f"Reports written to {out}/validation.json and validation.md")
    raise typer.Exit(1 if report.blocking(fail_on.value) else 0)


@app.command("eval")
def eval_(
    suites: Annotated[list[Path], typer.Argument(help="Suite folders (suite.yaml + items.jsonl).")],
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Alias (smollm2-135m), HF folder, .gguf, adapter or run folder, openai:<m>, outputs:<f>."
        ),
    ],
    endpoint: Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server.")] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write run.json and run.md here (a folder per suite if several).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N items of each suite.")] = None,
    repeats: Annotated[int, typer.Option(min=1, help="Generate and score each item K times.")] = 1,
    batch_size: Annotated[str, typer.Option(help="Prompts per batch for local models, or 'auto'.")] = "auto",
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the generation cache.")] = False,
    cache: Annotated[Path | None, typer.Option(help="Cache file (default $HARNESS_CACHE/generations.sqlite).")] = None,
    allow_noop_adapter: Annotated[
        bool, typer.Option("--allow-noop-adapter", help="Evaluate an adapter even if it does not change the logits.")
    ] = False,
    judge: Annotated[str | None, typer.Option(help="Judge model spec for every judge criterion.")] = None,
    judge_endpoint: Annotated[str | None, typer.Option(help="Endpoint for an openai:<m> judge.")] = None,
    worst: Annotated[int, typer.Option(min=0, help="Show this many worst items.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.run/v1 document on stdout.")] = False,
) -> None:
    """Evaluate a model on suites: per-criterion means with confidence intervals, worst items, run.json."""
    from harness.errors import InputError

    if not (batch_size == "auto" or (batch_size.isdigit() and int(batch_size) > 0)):
        raise InputError(f"--batch-size must be a positive integer or 'auto'; got {batch_size!r}", field="batch-size")
    from harness.cache import GenerationCache, default_cache_path
    from harness.evaluate import evaluate_suite, write_run
    from harness.models.base import make_generator
    from harness.report.run import print_run
    from harness.suite import load_suite

    loaded = [load_suite(p) for p in suites]  # every suite is checked before any model loads
    names = [s.name for s in loaded]
    if len(set(names)) != len(names) and out is not None:
        raise InputError(f"suites share a name, so their --out folders would collide: {names}")
    gen = make_generator(
        model,
        endpoint=endpoint,
        allow_noop_adapter=allow_noop_adapter,
        batch_size="auto" if batch_size == "auto" else int(batch_size),
    )
    same_model = judge == model and judge_endpoint == endpoint
    judge_gen = (gen if same_model else make_generator(judge, endpoint=judge_endpoint)) if judge else None
    store = None if no_cache else GenerationCache(cache or default_cache_path())
    docs = []
    try:
        for suite in loaded:
            with _ProgressBar(suite.name) as progress:
                run = evaluate_suite(
                    suite, gen, cache=store, repeats=repeats, limit=limit, progress=progress, judge=judge_gen
                )
            if out is not None:
                write_run(run, out if len(loaded) == 1 else out / suite.name)
            docs.append(run.to_document())
            if not as_json:
                print_run(run, console, worst=worst)
    finally:
        if store is not None:
            store.close()
    if as_json:
        _emit_json(docs[0] if len(docs) == 1 else {"schema": "harness.eval/v1", "runs": docs})
    elif out is not None:
        console.print(f"Runs written to {out}")


class _ProgressBar:
    """A rich progress bar fed by evaluate_suite's ``progress(stage, done, total)`` calls."""

    def __init__(self, label: str) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.label = label
        self.bar = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )  # fmt: skip
        self.tasks: dict[str, Any] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(f"{self.label}: {stage}", total=total)
        self.bar.update(self.tasks[stage], completed=done, total=total)

    def __enter__(self) -> _ProgressBar:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning harness errors into exit code 2 without a traceback."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        rc = app(args=args, prog_name="harness", standalone_mode=False)
    except HarnessError as exc:
        if debug:
            console.print_exception()
        console.print(f"error: {exc}", style="bold red", highlight=False, markup=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        console.print("aborted", style="red")
        sys.exit(130)
    except Exception as exc:  # click's usage errors and anything unexpected
        import click

        if isinstance(exc, click.exceptions.UsageError):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if debug:
            console.print_exception()
        else:
            console.print(
                f"internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                style="bold red",
                highlight=False,
                markup=False,
                soft_wrap=True,
            )
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)
