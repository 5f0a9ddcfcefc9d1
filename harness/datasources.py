"""Dataset sources: a suite's items read from local data with a field mapping and a prompt template.

``source:`` in ``suite.yaml`` (instead of ``items:``); paths resolve relative to the suite file and
nothing is downloaded::

    source:
      path: data/                # a JSONL/CSV/Parquet file, a folder of .jsonl/.parquet files, or a
                                 # Hugging Face `datasets` dataset saved with save_to_disk
      format: auto               # auto | jsonl | csv | parquet | hf_disk
      split: test                # a DatasetDict's split, or the files of a folder named <split>*
      template: "Question: {question}\\nAnswer:"   # the prompt, from the row's fields
      fields:                    # item field: source column (choices may list several columns)
        id: qid
        choices: options
        answer: label            # an index, a digit, a letter (A = 0) or the text of a choice
        category: subject        # any other item field

An error names the data file, the row and the field (a template field the data lacks, a choice
column that is missing, an answer that is not one of the choices).
"""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from harness.errors import ConfigError, InputFileError, SchemaError
from harness.records import read_rows

__all__ = ["SourceRow", "SourceSpec", "map_row", "mapped_rows", "read_source", "render_template"]

_DATA_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")


class SourceSpec(BaseModel):
    """The ``source`` block of a suite."""

    model_config = ConfigDict(extra="forbid")
    path: str
    format: Literal["auto", "jsonl", "csv", "parquet", "hf_disk"] = "auto"
    split: str | None = None
    template: str | None = None
    fields: dict[str, str | list[str]] = {}


class SourceRow(BaseModel):
    """A row of source data: where it came from (file, 1-based row) and its columns."""

    file: str
    line: int
    data: dict[str, Any]


def _is_hf_disk(path: Path) -> bool:
    return path.is_dir() and any((path / n).is_file() for n in ("dataset_info.json", "state.json", "dataset_dict.json"))


def _hf_rows(path: Path, split: str | None, file: str) -> Iterator[SourceRow]:
    try:
        from datasets import DatasetDict, load_from_disk
    except ImportError as exc:  # pragma: no cover - datasets ships with the dev and train extras
        raise ConfigError("a saved Hugging Face dataset needs the 'datasets' package", file=file) from exc
    try:
        ds = load_from_disk(str(path))
    except (FileNotFoundError, ValueError) as exc:
        raise InputFileError(f"not a dataset saved with save_to_disk: {exc}", file=path) from exc
    if isinstance(ds, DatasetDict):
        if split is None or split not in ds:
            raise ConfigError(
                f"the dataset has splits {sorted(ds)}; name one with source.split", file=file, field="source.split"
            )
        ds = ds[split]
    for i, row in enumerate(ds):
        yield SourceRow(file=str(path), line=i + 1, data=dict(row))


def _files(path: Path, split: str | None, file: str) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix in _DATA_SUFFIXES)
    if split is not None:
        found = [p for p in found if p.name.startswith(split)]
    if not found:
        raise ConfigError(
            f"no {'/'.join(_DATA_SUFFIXES)} files{' of split ' + repr(split) if split else ''} in {str(path)!r}",
            file=file,
            field="source.path",
        )
    return found


def read_source(spec: SourceSpec, *, base: Path, file: str, split: str | None = None) -> Iterator[SourceRow]:
    """The raw rows of a source (``split`` overrides the spec's, for few-shot pools)."""
    path = base / spec.path
    split = split if split is not None else spec.split
    if not path.exists():
        raise ConfigError(f"source path {str(path)!r} does not exist", file=file, field="source.path")
    if spec.format == "hf_disk" or (spec.format == "auto" and _is_hf_disk(path)):
        yield from _hf_rows(path, split, file)
        return
    fmt = None if spec.format == "auto" else spec.format
    for f in _files(path, split, file):
        for row in read_rows(f, format=fmt or ("jsonl" if f.suffix in (".jsonl", ".json") else None)):
            if row.problem is not None:
                raise SchemaError(row.problem.message, file=f, line=row.line, field=row.problem.field)
            yield SourceRow(file=str(f), line=row.line, data=dict(row.data or {}))


def render_template(template: str, data: dict[str, Any], *, file: str, line: int) -> str:
    """``template`` with each ``{field}`` replaced by the row's value; a missing field is an error.

    Example:
        >>> render_template("Q: {q}\\nA:", {"q": "2+2?"}, file="f", line=1)
        'Q: 2+2?\\nA:'
    """
    out = []
    for literal, name, spec, conv in string.Formatter().parse(template):
        out.append(literal)
        if name is None:
            continue
        if name not in data:
            have = ", ".join(sorted(data)) or "none"
            raise SchemaError(
                f"the template names field {name!r}, which the data lacks (fields: {have})",
                file=file,
                line=line,
                field=name,
            )
        value = data[name]
        out.append(format(repr(value) if conv == "r" else value, spec or ""))
    return "".join(out)


def _answer_index(value: Any, choices: list[Any], row: SourceRow) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        v = value.strip()
        if v.isdigit():
            return int(v)
        if len(v) == 1 and v.isalpha() and v.isupper() and v not in choices:
            return ord(v) - ord("A")
        if value in choices:
            return choices.index(value)
    raise SchemaError(
        f"answer {value!r} is neither an index, a letter nor one of the choices", file=row.file, line=row.line,
        field="answer",
    )  # fmt: skip


def map_row(spec: SourceSpec, row: SourceRow, n_files: int) -> dict[str, Any]:
    """One source row as item data: the mapped fields, the prompt from the template, the answer's index."""

    def column(name: str, item_field: str) -> Any:
        if name not in row.data:
            have = ", ".join(sorted(row.data)) or "none"
            raise SchemaError(
                f"source.fields.{item_field} names column {name!r}, which the data lacks (columns: {have})",
                file=row.file,
                line=row.line,
                field=name,
            )
        return row.data[name]

    item: dict[str, Any] = {}
    for item_field, col in spec.fields.items():
        item[item_field] = [column(c, item_field) for c in col] if isinstance(col, list) else column(col, item_field)
    for own in ("prompt", "choices", "answer", "reference", "text", "id"):
        if own not in spec.fields and own in row.data and not (own == "prompt" and spec.template):
            item[own] = row.data[own]
    if spec.template is not None:
        item["prompt"] = render_template(spec.template, row.data, file=row.file, line=row.line)
    if "id" not in item:
        item["id"] = f"L{row.line}" if n_files == 1 else f"{Path(row.file).name}:L{row.line}"
    if "answer" in item and isinstance(item.get("choices"), list):
        item["answer"] = _answer_index(item["answer"], item["choices"], row)
    return item


def mapped_rows(spec: SourceSpec, *, base: Path, file: str, split: str | None = None) -> list[SourceRow]:
    """Every row of a source mapped to item data (see :func:`map_row`), with its file and row number."""
    rows = list(read_source(spec, base=base, file=file, split=split))
    n_files = len({r.file for r in rows})
    return [SourceRow(file=r.file, line=r.line, data=map_row(spec, r, n_files)) for r in rows]
