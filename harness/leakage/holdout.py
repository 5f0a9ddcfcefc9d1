"""Holdout items to scan training data against: a JSONL (CSV, Parquet) file of items or a suite folder.

An item is ``{"id", "prompt" or "messages", "reference", ...}``. Every text field an evaluation
shows a model or scores it against is scanned: ``prompt`` (a string or chat messages),
``messages``, ``reference`` (a string or a list of acceptable strings) and ``completion``.

A suite folder holds ``suite.yaml``; its ``items`` key names the items file relative to the suite
file (default ``items.jsonl``). Only that key is read here.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "items.jsonl").write_text('{"id": "q1", "prompt": "Capital of France?", "reference": "Paris"}\\n')
    >>> _ = (d / "suite.yaml").write_text("name: geo\\n")
    >>> [(i.id, sorted(i.texts)) for i in load_holdout(d)]
    [('q1', ['prompt', 'reference'])]
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from harness.configfile import load_yaml, validate_config, yaml_mapping
from harness.datasources import SourceSpec, mapped_rows
from harness.errors import ConfigError, InputError, InputFileError, SchemaError
from harness.records import read_rows

__all__ = ["HOLDOUT_FIELDS", "HoldoutItem", "items_file", "load_holdout"]

HOLDOUT_FIELDS = ("prompt", "messages", "reference", "completion", "text")  # text: perplexity documents
SUITE_FILES = ("suite.yaml", "suite.yml")


class HoldoutItem(BaseModel):
    """One holdout item: its id, its text fields by name, the file and line it came from."""

    model_config = ConfigDict(frozen=True)
    id: str
    texts: dict[str, str]
    source: Path
    line: int


def items_file(path: str | Path) -> Path:
    """The items file of a holdout: the path itself, or the ``items`` file a suite names.

    Raises:
        InputFileError: the path, the suite file or the items file does not exist.
        ConfigError: ``suite.yaml`` is not a mapping or its ``items`` key is not a file name.
    """
    from harness.bundled import resolve_suite, suites_hint

    path = resolve_suite(path)  # a bundled suite by name, unless a path of that name exists
    if not path.exists():
        raise InputFileError("no such holdout file or suite folder" + suites_hint(path), file=path)
    suite_file: Path | None = None
    if path.is_dir():
        suite_file = next((path / n for n in SUITE_FILES if (path / n).is_file()), None)
        if suite_file is None:
            raise InputFileError(
                "holdout folder has no suite.yaml; pass a suite folder or a JSONL file of items", file=path
            )
    elif path.suffix in (".yaml", ".yml"):
        suite_file = path
    if suite_file is None:
        return path
    data = yaml_mapping(load_yaml(suite_file), file=suite_file)
    items = data.get("items", "items.jsonl")
    if not isinstance(items, str) or not items.strip():
        raise ConfigError(
            f"'items' must name the items file relative to the suite file, got {items!r}",
            file=suite_file,
            field="items",
        )
    resolved = suite_file.parent / items
    if not resolved.is_file():
        raise InputFileError(f"items file named by {suite_file} (key 'items') does not exist", file=resolved)
    return resolved


def _texts_of(value: Any, name: str, file: Path, line: int) -> dict[str, str]:
    """Text fields of one value: a string, a list of strings, or chat messages.

    Structured values (a JSON object such as an expected extraction, a number, a boolean) are
    labels, not prose: many different items share the same small answer, so matching them would
    flag every training example with that answer. They are not scanned; the item's prompt is.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {}
    if isinstance(value, dict | bool | int | float):
        return {}
    if isinstance(value, str):
        return {name: value}
    if isinstance(value, list):
        out = {}
        for i, part in enumerate(value):
            if isinstance(part, str):
                out[f"{name}[{i}]"] = part
            elif isinstance(part, dict) and isinstance(part.get("content"), str):
                out[f"{name}[{i}]"] = part["content"]
            else:
                raise SchemaError(
                    f"expected a string or a message with string 'content', got {type(part).__name__}",
                    file=file,
                    line=line,
                    field=f"{name}[{i}]",
                )
        return out
    raise SchemaError(
        f"expected a string, a list of strings or chat messages, got {type(value).__name__}",
        file=file,
        line=line,
        field=name,
    )


def _source_suite(path: Path) -> tuple[SourceSpec, Path] | None:
    """The ``source`` block of a suite whose items come from a dataset source (None otherwise)."""
    if path.is_dir():
        suite_file = next((path / n for n in SUITE_FILES if (path / n).is_file()), None)
    else:
        suite_file = path if path.suffix in (".yaml", ".yml") and path.is_file() else None
    if suite_file is None:
        return None
    data = yaml_mapping(load_yaml(suite_file), file=suite_file)
    if "source" not in data:
        return None
    return validate_config(SourceSpec, data["source"], file=suite_file, prefix="source"), suite_file


def _rows(path: str | Path) -> Iterator[tuple[Path, int, dict[str, Any]]]:
    """``(file, line, data)`` of each holdout item: an items file, or a suite's mapped dataset source."""
    src = _source_suite(Path(path))
    if src is not None:
        spec, suite_file = src
        for r in mapped_rows(spec, base=suite_file.parent, file=str(suite_file)):
            yield Path(r.file), r.line, r.data
        return
    source = items_file(path)
    if source.is_dir():
        raise InputFileError("is a directory, expected a file of holdout items", file=source)
    for row in read_rows(source):
        if row.problem is not None:
            raise SchemaError(row.problem.message, file=source, line=row.line, field=row.problem.field)
        assert row.data is not None
        yield source, row.line, row.data


def load_holdout(path: str | Path) -> list[HoldoutItem]:
    """Read the items of a holdout (a JSONL, CSV or Parquet file of items, or a suite folder).

    An item's id is its ``id`` field, else ``L<line>``. Ids must be unique within a holdout.

    Raises:
        InputFileError: the path does not exist, or a suite folder without ``suite.yaml``.
        ConfigError: a malformed ``suite.yaml``.
        SchemaError: a row that is not valid JSON, has no text field, a field of the wrong type,
            or a duplicate id (file, line and field in the message).
    """
    items: list[HoldoutItem] = []
    seen: dict[str, int] = {}
    source = Path(path)
    for source, line, data in _rows(path):
        raw_id = data.get("id")
        missing_id = raw_id is None or raw_id == "" or (isinstance(raw_id, float) and math.isnan(raw_id))
        item_id = f"L{line}" if missing_id else str(raw_id)
        if item_id in seen:
            raise SchemaError(
                f"id '{item_id}' is used again (first at line {seen[item_id]}); holdout ids must be unique",
                file=source,
                line=line,
                field="id",
            )
        seen[item_id] = line
        texts: dict[str, str] = {}
        for name in HOLDOUT_FIELDS:
            if name in data:
                texts.update(_texts_of(data[name], name, source, line))
        if not texts:
            raise SchemaError(
                f"item has no text to scan: expected one of the fields {', '.join(HOLDOUT_FIELDS)}",
                file=source,
                line=line,
                field="prompt",
            )
        items.append(HoldoutItem(id=item_id, texts=texts, source=source, line=line))
    if not items:
        raise InputError("holdout has no items", file=source)
    return items
