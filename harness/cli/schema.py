"""``harness schema KIND``: the JSON Schema of a document, generated from its pydantic model."""

from __future__ import annotations

from typing import Annotated

import typer

from harness.cli.app import app, emit_json


@app.command()
def schema(
    kind: Annotated[
        str,
        typer.Argument(help="validation, agreement, train, run, eval or comparison (or a schema id: harness.run/v1)."),
    ],
) -> None:
    """Print the JSON Schema of a document kind (draft 2020-12), generated from its model."""
    from harness.documents import json_schema

    emit_json(json_schema(kind))
