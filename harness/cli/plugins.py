"""``harness list KIND``: the plug-ins registered in the one registry (:mod:`harness.registry`)."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from harness.cli.app import app, emit_json
from harness.registry import Entry, kinds, registry

PLUGINS_SCHEMA = "harness.plugins/v1"


def _jsonable(value: Any) -> Any:
    """Recorded arguments as JSON data (tuples become lists, anything else its text)."""
    return json.loads(json.dumps(value, default=str))


def _recorded_text(entry: Entry[Any]) -> str:
    parts = []
    for key, value in entry.recorded.items():
        if isinstance(value, (tuple, list)):
            value = ", ".join(map(str, value)) if value else "-"
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _kinds_document() -> dict[str, Any]:
    return {
        "schema": PLUGINS_SCHEMA,
        "kinds": [{"kind": k, "names": registry(k).names()} for k in kinds()],
    }


def _kind_document(kind: str) -> dict[str, Any]:
    reg = registry(kind)
    return {
        "schema": PLUGINS_SCHEMA,
        "kind": reg.kind,
        "plugins": [
            {"name": e.name, "summary": e.summary, "recorded": _jsonable(e.recorded)} for e in reg.entries()
        ],
    }


@app.command("list")
def list_plugins(
    kind: Annotated[
        str | None,
        typer.Argument(help="Plug-in kind: scorers, models, checks, leakage, losses ... (none: every kind)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the harness.plugins/v1 document on stdout.")] = False,
) -> None:
    """List registered plug-ins of one kind (name, summary, recorded arguments), or every kind."""
    doc = _kinds_document() if kind is None else _kind_document(kind)
    if as_json:
        emit_json(doc)
        return
    out = Console(soft_wrap=False)
    if kind is None:
        table = Table("kind", "plug-ins", title="plug-in kinds (harness list KIND)", title_justify="left")
        for row in doc["kinds"]:
            table.add_row(row["kind"], ", ".join(row["names"]))
    else:
        reg = registry(kind)
        table = Table("name", "summary", "recorded", title=f"{reg.kind} ({len(doc['plugins'])})", title_justify="left")
        for entry in reg.entries():
            table.add_row(entry.name, entry.summary, _recorded_text(entry))
    out.print(table)
