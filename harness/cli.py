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

from harness.errors import HarnessError, InputError

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
    holdout: Annotated[
        list[Path] | None,
        typer.Option(
            "--holdout",
            help="Holdout to scan for leakage: a JSONL file of items or a suite folder (repeatable).",
        ),
    ] = None,
    ngram_n: Annotated[
        int | None, typer.Option("--ngram-n", help="Word n-gram length for containment [default: 13].")
    ] = None,
    minhash_threshold: Annotated[
        float | None,
        typer.Option("--minhash-threshold", help="Near-duplicate leak: estimated Jaccard at least [default: 0.4]."),
    ] = None,
    paraphrase: Annotated[
        bool | None,
        typer.Option(
            "--paraphrase/--no-paraphrase",
            help="Sentence-embedding paraphrase check [default: on when the 'embed' extra is installed].",
        ),
    ] = None,
    paraphrase_threshold: Annotated[
        float | None, typer.Option(help="Paraphrase leak: cosine similarity at least [default: 0.8].")
    ] = None,
    near_dup_threshold: Annotated[
        float | None,
        typer.Option(help="Within-file duplicates.near: estimated Jaccard at least [default: 0.8]."),
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes for hashing [default: one per CPU core].", min=1)
    ] = None,
) -> None:
    """Check a training file: schema, duplicates, lengths, personal data, chat and preference audits,
    and leakage of holdout items (--holdout)."""
    from harness.leakage.options import make_options
    from harness.report import write_atomic, write_json
    from harness.report.validation import print_summary, render_markdown
    from harness.validate import default_checks, validate_file

    count, unit = None, "words"
    if tokenizer is not None:
        from harness.models.tokenizers import token_counter

        count, unit = token_counter(tokenizer), "tokens"
    given = {
        "n": ngram_n,
        "threshold": minhash_threshold,
        "paraphrase_threshold": paraphrase_threshold,
        "near_threshold": near_dup_threshold,
        "workers": workers,
    }
    opts = make_options(**{k: v for k, v in given.items() if v is not None})
    leak_only = ("n", "threshold", "paraphrase_threshold")
    if not holdout and (paraphrase is not None or any(given[k] is not None for k in leak_only)):
        raise InputError(
            "--ngram-n, --minhash-threshold, --paraphrase-threshold and --[no-]paraphrase need --holdout"
        )
    report = validate_file(
        train,
        format=format.value if format else None,
        checks=default_checks(count=count, unit=unit, max_length=max_length, near_options=opts),
        holdouts=holdout or (),
        paraphrase=paraphrase,
        leakage_options=opts if holdout else None,
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


@app.command("train")
def train_cmd(
    config: Annotated[Path, typer.Argument(help="Training config (YAML); see examples/train_tickets.yaml.")],
    out: Annotated[
        Path | None, typer.Option(help="Run folder (default runs/<config name>); must be new unless --resume.")
    ] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the run folder's last checkpoint.")] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override a config key: --set lora.r=8 --set max_steps=20 (values are YAML)."),
    ] = None,
    allow_findings: Annotated[
        bool, typer.Option("--allow-findings", help="Train despite blocking preflight findings (recorded in the run).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run manifest on stdout.")] = False,
) -> None:
    """Fine-tune (SFT or DPO; LoRA, QLoRA or full) after validating the data against the holdout suites.

    Exit 1 when preflight findings block the run (see validation.json in the run folder).
    """
    from harness.train.config import load_config
    from harness.train.runner import train

    cfg = load_config(config, overrides=set_ or [])
    run_dir = out if out is not None else Path("runs") / config.stem
    command = "harness train " + " ".join(sys.argv[sys.argv.index("train") + 1 :] if "train" in sys.argv else [])
    result = train(
        cfg, run_dir, resume=resume, allow_findings=allow_findings, config_source=config, command=command.strip()
    )
    if result.status == "trained" and result.manifest is None:
        raise typer.Exit(0)  # a non-main process of a distributed run: the main one reports
    counts = result.preflight.counts()
    console.print(
        f"preflight: {counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes "
        f"(blocking at {result.preflight.fail_on}: {result.preflight.blocking}); "
        f"report in {run_dir}/validation.json",
        highlight=False,
    )
    if result.status == "blocked":
        for f in [f for r in result.preflight.reports for f in r.blocking(result.preflight.fail_on)][:10]:
            console.print(f"  {f.severity}: {f.check}: {f.message}", highlight=False, markup=False)
        console.print(
            "training stopped before it started: fix the data, or pass --allow-findings to train anyway",
            style="bold red",
        )
        if as_json:
            _emit_json({"status": "blocked", "run_dir": str(run_dir), "validation": result.preflight.to_document()})
        raise typer.Exit(1)
    if result.manifest is not None:
        res = result.manifest["results"]
        console.print(
            f"trained {res['global_step']} steps; train loss {res['train_loss']:.4f}"
            + (f", eval loss {res['eval_loss']:.4f}" if res["eval_loss"] is not None else "")
            + f"; run folder {run_dir}",
            highlight=False,
        )
        data = result.manifest["data"]
        if data["n_dropped"] or data["n_truncated"]:
            console.print(
                f"{data['n_truncated']} examples truncated to max_length; {data['n_dropped']} dropped "
                "(no trained token left): see manifest.json 'data'",
                style="yellow",
                highlight=False,
            )
        if as_json:
            _emit_json(result.manifest)
    raise typer.Exit(0)


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
