"""Raw rows of data files: format detection, bounded streaming readers for JSONL, CSV and Parquet.

A row is a line (JSONL), a record (CSV) or a row (Parquet) before any schema is checked:
:func:`read_rows` yields one :class:`Row` at a time whatever the file size, each either holding its
data or a :class:`RowProblem` naming line and field, so a caller can collect every problem of a
file. :mod:`harness.records` turns rows into typed records.
"""

from __future__ import annotations

import csv
import json
import re
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from harness.errors import InputError, InputFileError, check_choice

FORMATS = ("jsonl", "csv", "parquet")
Format = Literal["jsonl", "csv", "parquet"]
Kind = Literal["sft", "chat", "preference", "rating", "ranking"]

MAX_RECORD_BYTES = 32 * 2**20
"""The longest line (JSONL) or record (CSV) read: 32 MiB. Longer is an error naming file and line,
so that ``/dev/zero``, a sparse file or a binary blob cannot be read as one endless line."""

# csv's default field limit (128 KiB) would reject a legitimate long completion; a field may be
# as long as a record.
csv.field_size_limit(MAX_RECORD_BYTES)


@dataclass(frozen=True)
class Row:
    """A raw row of a file, before schema validation."""

    line: int
    data: dict[str, Any] | None
    problem: RowProblem | None = None


@dataclass(frozen=True)
class RowProblem:
    """Why a row is not a valid record: check name, message, file line and field."""

    check: str
    message: str
    line: int
    field: str | None = None
    id: str | None = None


# ---------------------------------------------------------------------------- format detection
def _check_path(path: Path) -> None:
    if not path.exists():
        raise InputFileError("no such file", file=path)
    if path.is_dir():
        raise InputFileError("is a directory, expected a data file", file=path)
    mode = path.stat().st_mode
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISSOCK(mode):
        raise InputFileError("is a device or socket, expected a data file", file=path)


def detect_format(path: str | Path) -> Format:
    """Detect the file format from its content (not its name).

    Parquet files start with ``PAR1``; a first non-blank character ``{`` or ``[`` means JSON
    lines; anything else is read as CSV.
    """
    path = Path(path)
    _check_path(path)
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head[:4] == b"PAR1":
        return "parquet"
    if b"\x00" in head:
        raise InputError(
            "binary data (NUL bytes) in the first 4 KiB: expected UTF-8 JSONL or CSV text, or Parquet", file=path
        )
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise InputError("file is empty: no records to read", file=path)
    if text[:1] in (b"{", b"["):
        return "jsonl"
    return "csv"


def detect_kind(data: dict[str, Any]) -> Kind | None:
    """Guess the record kind from a row's keys; None when no kind fits."""
    keys = set(data)
    if "responses" in keys and "ranks" in keys:
        return "ranking"
    if "messages" in keys:
        return "chat"
    if {"chosen", "rejected"} & keys:
        return "preference"
    if {"item_id", "rater_id"} & keys:
        return "rating"
    if {"prompt", "completion"} & keys:
        return "sft"
    return None


_EMPTY_SCORES = ("", "nan", "na", "n/a", "null", "none")


# ---------------------------------------------------------------------------- text checked as text
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: Any, field: str = "") -> tuple[str, str] | None:
    """The first lone UTF-16 surrogate or NUL in a row's text (keys too): ``(field, message)``, or None.

    JSON allows ``"\\ud800"`` and ``"\\u0000"`` escapes, but neither is text: a lone surrogate
    cannot be written as UTF-8 and a NUL ends strings in C tokenizers and terminals.

    >>> text_problem({"prompt": "ok", "messages": [{"content": "a\\ud800"}]})
    ('messages[0].content', 'lone UTF-16 surrogate U+D800 at character 2: not valid Unicode text')
    >>> text_problem({"prompt": "fine"}) is None
    True
    """
    if isinstance(value, str):
        m = _BAD_TEXT.search(value)
        if m is None:
            return None
        ch = m.group()
        what = "NUL character (U+0000)" if ch == "\x00" else f"lone UTF-16 surrogate U+{ord(ch):04X}"
        return field or "?", f"{what} at character {m.start() + 1}: not valid Unicode text"
    if isinstance(value, dict):
        for k, v in value.items():
            name = f"{field}.{k}" if field else str(k)
            if (bad := text_problem(str(k), name)) is not None:
                return name, "field name: " + bad[1]
            if (bad := text_problem(v, name)) is not None:
                return bad
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if (bad := text_problem(v, f"{field}[{i}]")) is not None:
                return bad
    return None


def _text_row(lineno: int, obj: dict[str, Any]) -> Row:
    bad = text_problem(obj)
    if bad is None:
        return Row(lineno, obj)
    return Row(lineno, None, RowProblem("schema.invalid_text", bad[1], lineno, bad[0]))


# ---------------------------------------------------------------------------- raw row readers
def bounded_lines(path: Path, fh: Any) -> Iterator[bytes]:
    """Physical lines of a binary file, none longer than :data:`MAX_RECORD_BYTES` (else an error)."""
    lineno = 0
    while raw := fh.readline(MAX_RECORD_BYTES + 1):
        lineno += 1
        if len(raw) > MAX_RECORD_BYTES:
            raise line_too_long(path, lineno)
        yield raw


def line_too_long(path: Path, lineno: int) -> InputError:
    """The error for a line over :data:`MAX_RECORD_BYTES` (the readers raise it, the batch reader too)."""
    return InputError(
        f"line longer than {MAX_RECORD_BYTES // 2**20} MiB (the limit of one record): "
        "not a JSONL or CSV file, or a record far too long",
        file=path,
        line=lineno,
    )


def _iter_lines(path: Path) -> Iterator[tuple[int, str | None, bytes]]:
    """Yield ``(line, text or None if undecodable, raw)`` per physical line, streaming, bounded."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(bounded_lines(path, fh), start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                yield lineno, None, raw
                continue
            yield lineno, text.rstrip("\r\n"), raw


def _read_jsonl(path: Path) -> Iterator[Row]:
    with path.open("rb") as fh:
        for lineno, raw in enumerate(bounded_lines(path, fh), start=1):
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            row = jsonl_row(lineno, raw)
            if row is not None:
                yield row


def jsonl_row(lineno: int, raw: bytes) -> Row | None:
    """One physical JSONL line (its bytes, a first line's BOM removed) as a :class:`Row`; None if blank."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        bad = raw.decode("utf-8", errors="backslashreplace")[:60]
        return Row(lineno, None, RowProblem("schema.encoding", f"not valid UTF-8: {bad!r}", lineno))
    if not text.strip():
        return None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Row(
            lineno,
            None,
            RowProblem("schema.invalid_json", f"invalid JSON at column {exc.colno}: {exc.msg}", lineno),
        )
    if not isinstance(obj, dict):
        return Row(
            lineno,
            None,
            RowProblem(
                "schema.wrong_type",
                f"expected a JSON object per line, got {type(obj).__name__}",
                lineno,
            ),
        )
    # a surrogate or NUL can only come from a \\u escape (raw control characters are invalid JSON)
    return _text_row(lineno, obj) if "\\u" in text else Row(lineno, obj)


def _maybe_json(value: str) -> Any:
    """CSV cells holding messages are JSON arrays; decode those, leave other text alone."""
    stripped = value.strip()
    if stripped.startswith("[") and stripped.endswith("]"):
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def _read_csv(path: Path) -> Iterator[Row]:
    for item in csv_records(path):
        yield item if isinstance(item, Row) else csv_row(*item)


def csv_row(line: int, header: list[str], cells: list[str]) -> Row:
    """One CSV record (as many cells as the header) as a :class:`Row`: JSON-array cells decoded, text checked."""
    return _text_row(line, {k: _maybe_json(v) for k, v in zip(header, cells, strict=True) if k})


def csv_records(path: Path) -> Iterator[Row | tuple[int, list[str], list[str]]]:
    """The records of a CSV file in order: ``(line, header, cells)`` for each record of the header's
    width, a :class:`Row` holding the problem for each that is not (encoding, syntax, width)."""
    problems: list[RowProblem] = []

    def decoded() -> Iterator[str]:
        for lineno, text, raw in _iter_lines(path):
            if text is None:
                bad = raw.decode("utf-8", errors="backslashreplace")[:60]
                problems.append(RowProblem("schema.encoding", f"not valid UTF-8: {bad!r}", lineno))
                yield ""
                continue
            yield text + "\n"

    reader = csv.reader(decoded())
    header: list[str] | None = None
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            yield Row(reader.line_num, None, RowProblem("schema.invalid_csv", str(exc), reader.line_num))
            break
        while problems:
            p = problems.pop(0)
            yield Row(p.line, None, p)
        line = start
        start = reader.line_num + 1
        if not cells or all(not c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            yield Row(
                line,
                None,
                RowProblem(
                    "schema.invalid_csv",
                    f"expected {len(header)} columns as in the header, got {len(cells)}",
                    line,
                ),
            )
            continue
        yield line, header, cells
    while problems:
        p = problems.pop(0)
        yield Row(p.line, None, p)


def _read_parquet(path: Path) -> Iterator[Row]:
    pf = open_parquet(path)
    row = 0
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH):
        for obj in batch.to_pylist():
            row += 1
            yield parquet_row(row, obj)


PARQUET_BATCH = 4096
"""Rows per batch read from a Parquet file (the batch reader reads the same batches)."""


def parquet_row(row: int, obj: dict[str, Any]) -> Row:
    """One Parquet row (a dict from ``to_pylist``) as a :class:`Row`: JSON-array text decoded, text checked."""
    return _text_row(row, {k: _maybe_json(v) if isinstance(v, str) else v for k, v in obj.items()})


def open_parquet(path: Path) -> Any:
    """A ``pyarrow.parquet.ParquetFile``; an :class:`InputError` naming the file when it cannot be read."""
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputError(f"cannot read Parquet: {exc}", file=path) from exc


def read_rows(path: str | Path, *, format: str | None = None) -> Iterator[Row]:
    """Stream the raw rows of a data file.

    Args:
        path: a JSONL, CSV or Parquet file.
        format: force a format (``jsonl``, ``csv``, ``parquet``); detected from content if None.

    Raises:
        InputFileError: the path is missing or a directory.
        InputError: the file is empty or ``format`` is unknown.
    """
    path = Path(path)
    _check_path(path)
    fmt = detect_format(path) if format is None else check_choice(format, FORMATS, param="format", func="read_rows")
    reader = {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}[fmt]
    return reader(path)


def read_table(path: str | Path, *, format: str | None = None) -> list[dict[str, Any]]:
    """Read every well-formed row of a small file into memory (ratings, suite items)."""
    out = []
    for row in read_rows(path, format=format):
        if row.problem is not None:
            p = row.problem
            raise InputError(p.message, file=path, line=p.line, field=p.field)
        assert row.data is not None
        out.append({**row.data, "_line": row.line})
    return out
