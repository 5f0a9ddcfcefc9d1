"""Verbs that read data only (no torch): ``validate`` and ``agreement``."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import DataFormat, FailOn, app, emit_json, stdout
from harness.documents.constants import DEFAULT_MIN_ALPHA
from harness.errors import InputError
from harness.progress import note


@app.command()
def validate(
    train: Annotated[
        Path, typer.Argument(help="Training data: JSONL, CSV or Parquet; a folder or glob of shards is one data set.")
    ],
    format: Annotated[
        DataFormat | None, typer.Option("--format", help="Force the file format [default: detected from content].")
    ] = None,
    tokenizer: Annotated[
        str | None, typer.Option(help="Count lengths in tokens of this tokenizer (model spec); words otherwise.")
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(min=1, help="Flag examples longer than this (tokens or words).")
    ] = None,
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
        int | None, typer.Option("--ngram-n", min=1, help="Word n-gram length for containment [default: 13].")
    ] = None,
    minhash_threshold: Annotated[
        float | None,
        typer.Option(
            "--minhash-threshold",
            help="Near-duplicate leak: Jaccard at least (exact, of the MinHash LSH candidates) [default: 0.4].",
        ),
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
    by: Annotated[
        list[str] | None,
        typer.Option("--by", help="Report how examples spread over this field's groups (repeatable; holdout "
                     "suites add their gate.slices)."),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Where shards are read: local (this process) or dask (docs/scale.md).")
    ] = "local",
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler, e.g. tcp://host:8786 [default: a local cluster].")
    ] = None,
) -> None:
    """Check a training file: schema, duplicates, lengths, personal data, chat and preference audits,
    and leakage of holdout items (--holdout)."""
    opts = _leakage_options(
        holdout,
        paraphrase=paraphrase,
        n=ngram_n,
        threshold=minhash_threshold,
        paraphrase_threshold=paraphrase_threshold,
        near_threshold=near_dup_threshold,
        workers=workers,
    )
    report = _validate(
        train, format=format, tokenizer=tokenizer, max_length=max_length, holdout=holdout or [],
        paraphrase=paraphrase, opts=opts, by=by or [], engine=engine, scheduler=scheduler,
    )  # fmt: skip
    _finish_validation(report, train=train, fail_on=fail_on, as_json=as_json, out=out)


def _leakage_options(holdout: list[Path] | None, *, paraphrase: bool | None, **given: Any) -> Any:
    """The leakage and near-duplicate options given on the command line (leakage ones need --holdout)."""
    from harness.leakage.options import make_options

    opts = make_options(None, **{k: v for k, v in given.items() if v is not None})
    leak_only = ("n", "threshold", "paraphrase_threshold")
    if not holdout and (paraphrase is not None or any(given[k] is not None for k in leak_only)):
        raise InputError(
            "--ngram-n, --minhash-threshold, --paraphrase-threshold and --[no-]paraphrase need --holdout"
        )
    return opts


def _validate(
    train: Path, *, format: DataFormat | None, tokenizer: str | None, max_length: int | None,
    holdout: list[Path], paraphrase: bool | None, opts: Any, by: list[str], engine: str, scheduler: str | None,
) -> Any:  # fmt: skip
    """Run the checks over the training file (lengths in tokens when a tokenizer is given), or over
    shards on ``engine``."""
    from harness.validate import default_checks
    from harness.validate.distributed import validator

    count, unit = None, "words"
    if tokenizer is not None:
        from harness.models.tokenizers import token_counter

        count, unit = token_counter(tokenizer), "tokens"
    return validator(train, engine, scheduler)(
        train,
        format=format.value if format else None,
        checks=default_checks(count=count, unit=unit, max_length=max_length, near_options=opts),
        holdouts=holdout,
        paraphrase=paraphrase,
        leakage_options=opts if holdout else None,
        by=by,
    )


def _finish_validation(report: Any, *, train: Path, fail_on: FailOn, as_json: bool, out: Path | None) -> None:
    """Write and print the report; exit 1 on blocking findings, 2 when the file held no record at all."""
    from harness.files import write_atomic, write_json
    from harness.report.validation import print_summary, render_markdown

    doc = report.to_document()
    doc["fail_on"] = fail_on.value
    if out is not None:
        write_json(out / "validation.json", doc)
        write_atomic(out / "validation.md", render_markdown(report, fail_on=fail_on.value))
    if as_json:
        emit_json(doc)
    else:
        print_summary(report, stdout, fail_on=fail_on.value)
        if out is not None:
            note(f"Reports written to {out}/validation.json and validation.md")
    if report.n_records == 0:  # nothing could be read as a record: bad input, not a finding about data
        what = f"none of its {report.n_rows} row(s) is a valid record" if report.n_rows else "it holds no rows"
        raise InputError(f"not a training file: {what} (see the findings)", file=train)
    raise typer.Exit(1 if report.blocking(fail_on.value) else 0)


@app.command()
def agreement(
    ratings: Annotated[Path, typer.Argument(help="Ratings: long form (item_id, rater_id, score, ...) or --wide.")],
    level: Annotated[
        str | None,
        typer.Option(
            "--level",
            help="Required: nominal, ordinal, interval or ratio (it decides what the numbers mean).",
        ),
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="'criterion': one group per criterion.")] = None,
    scale: Annotated[
        str | None,
        typer.Option(
            help="Declared scale: a range like 1-5 or ordered labels like low,mid,high [default: the observed values].",
        ),
    ] = None,
    min_alpha: Annotated[
        float, typer.Option(help="Floor for Krippendorff's alpha (0.667: tentative conclusions).")
    ] = DEFAULT_MIN_ALPHA,
    bootstrap: Annotated[int, typer.Option(help="Item resamples for the intervals; 0 skips them.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    wide: Annotated[bool, typer.Option("--wide", help="Wide form: an item_id column and a column per rater.")] = False,
    format: Annotated[
        DataFormat | None, typer.Option("--format", help="Force the file format [default: detected from content].")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.agreement/v1 document on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write agreement.json and agreement.md here.")] = None,
) -> None:
    """Inter-rater agreement with intervals and rater/item diagnostics; exit 0 pass, 1 fail, 3 inconclusive."""
    from harness.errors import InputError
    from harness.files import write_atomic, write_json
    from harness.gcpause import paused_gc

    if level is None:
        raise InputError("--level is required: nominal, ordinal, interval or ratio", field="level")
    with paused_gc():  # numpy's import and a document of one entry per item: long-lived, acyclic objects
        from harness.agreement import agreement_report

        doc = agreement_report(
            ratings,
            level=level,
            by=by,
            bootstrap=bootstrap,
            seed=seed,
            scale=scale,
            min_alpha=min_alpha,
            wide=wide,
            format=format.value if format else None,
        )
    if out is not None:
        from harness.report.agreement import render_markdown

        write_json(out / "agreement.json", doc)
        write_atomic(out / "agreement.md", render_markdown(doc))
    if as_json:
        emit_json(doc)
    else:
        from harness.report.agreement import print_summary

        print_summary(doc, stdout)
        if out is not None:
            note(f"Reports written to {out}/agreement.json and agreement.md")
    # The run is over: the collections Python runs at exit would walk every object left (the
    # document, numpy's modules) for nothing, 0.05 s of a 0.5 s run on 140,000 ratings.
    gc.freeze()
    raise typer.Exit({"pass": 0, "fail": 1, "inconclusive": 3}[doc["verdict"]])


