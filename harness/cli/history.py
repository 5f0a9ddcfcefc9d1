"""``harness history`` and ``harness store ...``: what the results store recorded, imports, export.

The store options (``--store``, ``--no-store``) shared by the verbs that record live here too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from harness.cli.app import app, console, emit_json
from harness.errors import InputError

if TYPE_CHECKING:
    from harness.store import Store

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Results store: sqlite:///FILE, postgresql://USER@HOST/DB or a file path "
        "(default $HARNESS_STORE, else $HARNESS_HOME/store.sqlite; 'none' records nothing).",
    ),
]
NoStoreOpt = Annotated[bool, typer.Option("--no-store", help="Record nothing in the results store.")]

store_app = typer.Typer(help="The results store: import documents, export to MLflow.", no_args_is_help=True)
app.add_typer(store_app, name="store")


def _date(value: str | None, option: str, *, end: bool = False) -> datetime | None:
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"{option} must be a date (YYYY-MM-DD) or an ISO time; got {value!r}", field=option) from exc
    if end and len(value) == 10:  # a whole day: up to its end
        dt = dt.replace(hour=23, minute=59, second=59, microsecond=999999)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def _open(store: str | None) -> Store:
    from harness.store import Store, resolve_store_url

    url = resolve_store_url(store)
    if url is None:
        raise InputError("no store: --store or $HARNESS_STORE says 'none'", field="store")
    return Store.open(url)


@app.command()
def history(
    suite: Annotated[str | None, typer.Option(help="Only this suite.")] = None,
    model: Annotated[str | None, typer.Option(help="Only models whose spec contains this (or whose hash starts so).")]
    = None,
    criterion: Annotated[str | None, typer.Option(help="Only this criterion.")] = None,
    since: Annotated[str | None, typer.Option(help="From this date (YYYY-MM-DD or ISO time, UTC).")] = None,
    until: Annotated[str | None, typer.Option(help="Up to this date (inclusive).")] = None,
    kind: Annotated[str | None, typer.Option(help="Only run, comparison or leaderboard records.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.history/v1 document on stdout.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write a self-contained page with trend plots.")] = None,
    store: StoreOpt = None,
) -> None:
    """List recorded runs and gate decisions (filter by suite, model, criterion, date)."""
    from harness.files import write_atomic
    from harness.store.history import Filters, history_document, trend_points

    if kind is not None and kind not in ("run", "comparison", "leaderboard"):
        raise InputError(f"--kind must be run, comparison or leaderboard; got {kind!r}", field="kind")
    filters = Filters(suite=suite, model=model, criterion=criterion, since=_date(since, "--since"),
                      until=_date(until, "--until", end=True), kind=kind)  # fmt: skip
    st = _open(store)
    try:
        doc = history_document(st, filters)
        if html is not None:
            from harness.report.history import render_history_html

            write_atomic(html, render_history_html(doc, trend_points(st, filters)))
    finally:
        st.close()
    if as_json:
        emit_json(doc)
        return
    _print_history(doc)
    if html is not None:
        console.print(f"History page written to {html}")


def _print_history(doc: dict) -> None:
    from rich.markup import escape
    from rich.table import Table

    from harness.report.comparison import STYLE, fmt

    table = Table(title=f"history · {escape(doc['store'])}", header_style="bold")
    for col in ("record", "when (UTC)", "kind", "suite", "models", "verdict", "criteria"):
        table.add_column(col, overflow="fold")
    for e in doc["entries"]:
        crits = "; ".join(
            f"{c} {fmt(v.get('mean', v.get('candidate_mean')))}"
            + (f" Δ{fmt(v['delta'])}" if v.get("delta") is not None else "")
            for c, v in sorted(e["criteria"].items())
        )
        verdict = e.get("verdict") or ""
        table.add_row(f"#{e['record']}", e["created_at"].replace("+00:00", ""), e["kind"], escape(e["suite"]),
                      escape(", ".join(f"{k}: {v}" for k, v in e["models"].items())),
                      f"[{STYLE[verdict]}]{verdict}[/]" if verdict in STYLE else verdict, escape(crits))  # fmt: skip
    console.print(table)
    if not doc["entries"]:
        console.print("nothing recorded matches")


@store_app.command("import")
def store_import(
    files: Annotated[list[Path], typer.Argument(help="run.json, comparison.json, leaderboard.json or folders.")],
    store: StoreOpt = None,
) -> None:
    """Import existing documents into the store (a file already there is skipped)."""
    from harness.store.store import read_document

    for f in files:  # every file is checked before anything is written
        read_document(f)
    st = _open(store)
    try:
        for f in files:
            rec = st.import_file(f)
            what = "imported as" if rec.new else "already in the store as"
            console.print(f"{f}: {rec.kind} {what} #{rec.id}", highlight=False, soft_wrap=True)
    finally:
        st.close()


@store_app.command("export-mlflow")
def store_export_mlflow(
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking URI (file:./mlruns, http://host:5000 ...).")],
    experiment: Annotated[str, typer.Option(help="MLflow experiment name.")] = "harness",
    store: StoreOpt = None,
) -> None:
    """Export every recorded run and decision to MLflow (records already exported are skipped)."""
    from harness.store.mlflow_export import export_to_mlflow

    st = _open(store)
    try:
        done = export_to_mlflow(st, tracking_uri, experiment=experiment)
    finally:
        st.close()
    console.print(f"exported {len(done.exported)} records to {tracking_uri} (experiment {experiment!r}, "
                  f"id {done.experiment_id}); {len(done.skipped)} were already there")  # fmt: skip


def record_document(doc: dict[str, Any], store: str | None, no_store: bool) -> None:
    """Keep a report (monitor, red-team) in the results store, when one is configured; say where."""
    from harness.store.recording import open_recorder

    recorder = open_recorder(store, no_store=no_store)
    try:
        recorder.record(doc)
    finally:
        recorder.close()
    if (stored := recorder.note()) is not None:
        console.print(stored, highlight=False, soft_wrap=True)
