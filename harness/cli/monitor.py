"""``harness monitor``: production logs over time — input drift and output quality."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from harness.cli.app import app, console, emit_json
from harness.cli.history import NoStoreOpt, StoreOpt, record_document

ReferenceOpt = Annotated[
    Path | None, typer.Option(help="Training data whose prompts are the drift reference (default: first windows).")
]
EmbedderOpt = Annotated[
    str | None,
    typer.Option(help="minilm (the 'embed' extra) or hashing (lexical, no model). Default: minilm if installed."),
]
QualityOpt = Annotated[
    list[str] | None,
    typer.Option("--quality", help="Criteria: json_valid, refusal, rating (repeatable; default: those that apply)."),
]
RubricOpt = Annotated[
    Path | None,
    typer.Option(help="A rubric whose criteria that need no reference are scored per window (others listed as "
                 "skipped)."),
]
RatingsOpt = Annotated[
    Path | None,
    typer.Option(help="Human ratings of outputs (item_id, rater_id, score, criterion, output[, prompt]) that "
                 "calibrate the rubric's judge and reward criteria."),
]
JudgeOpt = Annotated[
    str | None, typer.Option(help="Judge model spec for every judge criterion (default: the rubric's model).")
]
CusumArlOpt = Annotated[
    float | None,
    typer.Option(help="Also run a CUSUM per criterion, with this in-control average run length in windows "
                 "(any criterion; a signal degrades the window)."),
]
CusumKOpt = Annotated[float, typer.Option(help="CUSUM reference value k in standard errors (tuned to a shift of 2k).")]
PermutationsOpt = Annotated[
    int | None, typer.Option(help="MMD permutations (default: max(1000, 4 × windows / alpha)).")
]


@app.command()
def monitor(
    logs: Annotated[list[Path], typer.Argument(help="Log files (JSONL, CSV, Parquet) or folders of them.")],
    window: Annotated[str, typer.Option(help="Window size: 1d, 1w, 12h, 30m, or a row count such as 500.")] = "1d",
    reference: ReferenceOpt = None,
    reference_windows: Annotated[int, typer.Option(help="Leading windows that form the quality reference.")] = 1,
    embedder: EmbedderOpt = None,
    quality: QualityOpt = None,
    rubric: RubricOpt = None,
    ratings: RatingsOpt = None,
    judge: JudgeOpt = None,
    endpoint: Annotated[str | None, typer.Option(help="Endpoint of an openai:<model> --judge.")] = None,
    cusum_arl: CusumArlOpt = None,
    cusum_k: CusumKOpt = 0.5,
    alpha: Annotated[float, typer.Option(help="Family-wise error rate of the drift and degradation tests.")] = 0.05,
    margin: Annotated[float, typer.Option(help="A quality drop must exceed this to count as degradation.")] = 0.0,
    min_rows: Annotated[int, typer.Option(help="Windows with fewer rows are inconclusive.")] = 30,
    max_rows: Annotated[int, typer.Option(help="Rows sampled per side for the embedding tests.")] = 500,
    permutations: PermutationsOpt = None,
    seed: Annotated[int, typer.Option(help="Seed of sampling and permutations.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.monitor/v1 document on stdout.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write monitor.json, monitor.md and monitor.html here.")] = None,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Watch a deployed model: drift of prompts against training data, quality per window (exit 0 ok · 1 drift or
    degraded · 3 inconclusive)."""
    from harness.leakage.embed import embed_available
    from harness.monitor.api import MonitorSettings, monitor_logs
    from harness.monitor.logs import parse_window

    settings = MonitorSettings(
        window=parse_window(window),
        embedder=embedder or ("minilm" if embed_available() else "hashing"),
        permutations=permutations,
        alpha=alpha,
        min_rows=min_rows,
        max_rows=max_rows,
        reference_windows=reference_windows,
        margin=margin,
        seed=seed,
        quality=list(quality) if quality else None,
        ratings=str(ratings) if ratings is not None else None,
        judge=judge,
        cusum_arl=cusum_arl,
        cusum_k=cusum_k,
    )
    _check_out(out)
    judge_gen = None
    if judge is not None:
        from harness.models.factory import make_generator

        judge_gen = make_generator(judge, endpoint=endpoint)
    report = monitor_logs(logs, settings, reference=reference, rubric=rubric, judge=judge_gen)
    _emit(report, out=out, as_json=as_json, store=store, no_store=no_store)
    raise typer.Exit(report.exit_code)


def _check_out(out: Path | None) -> None:
    """Refuses an ``--out`` that is an existing file before any log is read."""
    if out is not None and out.exists() and not out.is_dir():
        from harness.errors import InputFileError

        raise InputFileError("--out is an existing file, not a folder", file=out)


def _emit(report: Any, *, out: Path | None, as_json: bool, store: str | None, no_store: bool) -> None:
    """Writes the reports, records the run in the store, then prints the document or the summary."""
    from rich.console import Console

    from harness.files import write_atomic, write_json
    from harness.report.monitor import print_monitor, render_html, render_markdown

    doc = report.to_document()
    if out is not None:
        write_json(out / "monitor.json", doc)
        write_atomic(out / "monitor.md", render_markdown(report))
        write_atomic(out / "monitor.html", render_html(report))
    record_document(doc, store, no_store)  # after the reports are on disk: a store outage loses nothing
    if as_json:
        emit_json(doc)
    else:
        print_monitor(report, Console())
        if out is not None:
            console.print(f"Reports written to {out}/monitor.json, monitor.md and monitor.html")
