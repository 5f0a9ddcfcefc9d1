"""Training records read in batches with pyarrow, row by row only where a batch has a problem.

:func:`iter_record_batches` yields exactly what the row-by-row reader
(``iter_records(..., batched=False)``) yields, the same records and the same problems in the same
order, faster: it reads a JSONL file in chunks of whole lines (a few MiB, so memory stays bounded
whatever the file size) parsed by ``pyarrow.json``, and a Parquet file in the row reader's
batches, and builds the records of a clean batch from its columns
(:func:`harness.record_columns.build_records`). A chunk that holds anything the columns might
not reproduce exactly is read by the row path instead: bytes that are not UTF-8, a NUL, a
``\\u0000`` escape, a JSON ``null`` (pyarrow cannot tell it from an absent key), a carriage
return not followed by a line feed, a line that does not start with ``{`` and end with ``}``,
a line over the record limit, anything pyarrow rejects (invalid JSON, a lone surrogate, a
repeated key, a type that changes between rows), another count of rows than of lines, and every
check of :func:`~harness.record_columns.build_records`. CSV files are read row by row.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from harness.errors import check_choice
from harness.gcpause import paused_gc
from harness.records import Kind, Record, RowProblem, RowRecords
from harness.rows import (
    FORMATS,
    MAX_RECORD_BYTES,
    PARQUET_BATCH,
    Row,
    _check_path,
    csv_records,
    csv_row,
    detect_format,
    jsonl_row,
    line_too_long,
    open_parquet,
    parquet_row,
)

__all__ = ["iter_record_batches"]

CHUNK_BYTES = 2 * 2**20
"""Bytes of JSONL read per chunk (whole lines: a chunk ends at the last line feed)."""

_BOM = b"\xef\xbb\xbf"
# A \u0000 escape (NUL: the row path reports it) or a JSON null token (pyarrow cannot tell
# ``"k": null`` from an absent key, and drops a leading null of a list). False hits only cost speed.
_NULL = re.compile(rb"null\b")
_BEFORE_VALUE = frozenset(b"[,:")


def _risky(body: bytes) -> bool:
    if b"\\u0000" in body:
        return True
    for m in _NULL.finditer(body):  # "null" is rare enough in text to look at each one
        before = body[max(m.start() - 64, 0) : m.start()].rstrip(b" \t\r\n")
        if not before or before[-1] in _BEFORE_VALUE:
            return True
    return False


def iter_record_batches(
    path: str | Path, *, format: str | None = None, kind: Kind | None = None
) -> Iterator[Record | RowProblem]:
    """Stream the records of a file as :func:`harness.records.iter_records` does, batch by batch.

    Args:
        path: a JSONL, CSV or Parquet file.
        format: force a format; detected from content if None.
        kind: force a record kind; taken from the first well-formed row if None.

    Raises:
        InputFileError: the path is missing or a directory.
        InputError: the file is empty, a line is longer than the record limit, Parquet unreadable.
    """
    path = Path(path)
    _check_path(path)
    fmt = detect_format(path) if format is None else check_choice(format, FORMATS, param="format", func="read_rows")
    maker = RowRecords(kind)
    if fmt == "jsonl":
        yield from _jsonl(path, maker)
    elif fmt == "parquet":
        yield from _parquet(path, maker)
    else:
        yield from _csv(path, maker)


# ---------------------------------------------------------------------------- JSONL
def _chunks(path: Path, fh: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """``(first line, bytes)`` of whole lines, about :data:`CHUNK_BYTES` each; the last may lack a line feed."""
    carry = b""
    line = 1
    while block := fh.read(CHUNK_BYTES):
        data = carry + block if carry else block
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry = data
        else:
            yield line, data[:cut]
            line += data.count(b"\n", 0, cut)
            carry = data[cut:]
        if len(carry) > MAX_RECORD_BYTES:  # no line feed yet: the line is too long whatever follows
            raise line_too_long(path, line)
    if carry:
        yield line, carry


def _jsonl(path: Path, maker: RowRecords) -> Iterator[Record | RowProblem]:
    with path.open("rb") as fh:
        for first, chunk in _chunks(path, fh):
            built = None if maker.kind == "rating" else _jsonl_batch(chunk, first, maker)
            if built is None:
                yield from _jsonl_rows(path, chunk, first, maker)
            else:
                yield from built


def _jsonl_rows(path: Path, chunk: bytes, first: int, maker: RowRecords) -> Iterator[Record | RowProblem]:
    """A chunk read by the row path, line by line (the fallback)."""
    lines = chunk.split(b"\n")
    ended = chunk.endswith(b"\n")
    if ended:
        lines.pop()
    last = len(lines) - 1
    for k, raw in enumerate(lines):
        lineno = first + k
        if k < last or ended:
            raw += b"\n"  # as readline gives it: a problem quotes the line with its end
        if len(raw) > MAX_RECORD_BYTES:
            raise line_too_long(path, lineno)
        if lineno == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        row = jsonl_row(lineno, raw)
        if row is not None:
            yield from maker.items(row)


def _line_numbers(body: bytes, first: int) -> list[int] | None:
    """The line of each non-blank line of a chunk, or None unless each is one ``{...}`` (an optional CR)."""
    import numpy as np

    arr = np.frombuffer(body, dtype=np.uint8)
    feeds = np.flatnonzero(arr == 10)
    starts = np.concatenate(([0], feeds + 1))
    stops = np.concatenate((feeds, [len(body)]))
    if body.endswith(b"\n"):
        starts, stops = starts[:-1], stops[:-1]
    if len(starts) and int((stops - starts).max()) + 1 > MAX_RECORD_BYTES - 3:
        return None  # the row path names the line (or reads one just under the limit)
    cr = np.zeros(len(starts), dtype=bool)
    filled = stops > starts
    cr[filled] = arr[stops[filled] - 1] == 13
    ends = stops - cr
    text = ends > starts
    if not (np.all(arr[starts[text]] == ord("{")) and np.all(arr[ends[text] - 1] == ord("}"))):
        return None
    return (np.flatnonzero(text) + first).tolist()


def _read_json(body: bytes, schema: Any = None) -> Any:
    import pyarrow as pa
    import pyarrow.json as pajson

    return pajson.read_json(
        pa.BufferReader(body),
        read_options=pajson.ReadOptions(use_threads=False, block_size=len(body) + 1),
        parse_options=pajson.ParseOptions(explicit_schema=schema, newlines_in_values=False),
    )


def _jsonl_batch(chunk: bytes, first: int, maker: RowRecords) -> list[Record] | None:
    """The records of a clean chunk, or None when it must be read row by row."""
    import pyarrow as pa

    body = chunk[3:] if first == 1 and chunk.startswith(_BOM) else chunk
    if b"\x00" in body or body.count(b"\r") != body.count(b"\r\n") or _risky(body):
        return None
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    lines = _line_numbers(body, first)
    if lines is None:
        return None
    if not lines:
        return []
    try:
        table = _read_json(body)
        # pyarrow reads text that looks like a date as a timestamp: read those columns as text
        stamps = [f.name for f in table.schema if pa.types.is_timestamp(f.type)]
        if stamps:
            table = _read_json(body, pa.schema([(name, pa.string()) for name in stamps]))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != len(lines):
        return None
    return _build(table, lines, maker, jsonl=True, key_order=lambda names: _key_order(body, names))


def _key_order(body: bytes, names: list[str]) -> list[list[int]] | None:
    """Each row's order of the top-level keys ``names``, from where they stand in its line; None if unsure.

    A key is found as its JSON text (as ``json.dumps`` writes it, non-ASCII as is or escaped) after ``{``,
    ``,`` or a space and before ``:``, which in valid JSON can only be an object key; the caller
    has made sure no nested object has a key of that name. Each row must show each key exactly
    once (a key written with other escapes shows zero times: the row path reads the chunk).
    """
    import numpy as np

    arr = np.frombuffer(body, dtype=np.uint8)
    starts = np.concatenate(([0], np.flatnonzero(arr == 10) + 1))
    filled = np.flatnonzero(arr[np.minimum(starts, len(arr) - 1)] == ord("{")) if len(arr) else starts[:0]
    filled = filled[starts[filled] < len(arr)]
    where = np.full(len(starts), -1)
    where[filled] = np.arange(len(filled))
    positions = np.empty((len(filled), len(names)), dtype=np.int64)
    for j, name in enumerate(names):
        forms = {json.dumps(name, ensure_ascii=False).encode("utf-8"), json.dumps(name).encode("ascii")}
        token = b"(?:" + b"|".join(re.escape(f) for f in forms) + b")"
        found = np.array([m.start() for m in re.finditer(rb"(?<=[{,\s])" + token + rb"\s*:", body)], dtype=np.int64)
        rows = where[np.searchsorted(starts, found, side="right") - 1]
        if len(found) != len(filled) or (rows < 0).any() or not np.array_equal(rows, np.arange(len(filled))):
            return None
        positions[:, j] = found
    return np.argsort(positions, axis=1).tolist()


def _build(batch: Any, lines: Any, maker: RowRecords, *, jsonl: bool, key_order: Any = None) -> list[Record] | None:
    from harness.record_columns import build_records

    kind = maker.kind
    # Only new, live objects are made here: a collection pass over them would find nothing, and
    # the passes their allocation triggers take as long as building them.
    with paused_gc():
        try:
            return build_records(batch, lines, maker, jsonl=jsonl, key_order=key_order)
        except Exception:  # any surprise in a batch: the row path reads it and says what is wrong
            maker.kind = kind
            return None


# ---------------------------------------------------------------------------- Parquet
def _parquet(path: Path, maker: RowRecords) -> Iterator[Record | RowProblem]:
    pf = open_parquet(path)
    row = 0
    # the same batches as the row path, so a file that fails mid-way fails at the same row
    for batch in pf.iter_batches(batch_size=PARQUET_BATCH):
        n = batch.num_rows
        built = None if maker.kind == "rating" else _build(batch, range(row + 1, row + n + 1), maker, jsonl=False)
        if built is None:
            for obj in batch.to_pylist():
                row += 1
                yield from maker.items(parquet_row(row, obj))
        else:
            row += n
            yield from built


# ---------------------------------------------------------------------------- CSV
CSV_BATCH = 4096
"""CSV records per batch."""


def _csv(path: Path, maker: RowRecords) -> Iterator[Record | RowProblem]:
    """The csv module parses (its quoting rules are the row path's); runs of good records become batches."""
    pending: list[tuple[int, list[str]]] = []
    header: list[str] = []
    for item in csv_records(path):
        if isinstance(item, Row):
            yield from _csv_batch(pending, header, maker)
            pending = []
            yield from maker.items(item)
            continue
        line, header, cells = item
        pending.append((line, cells))
        if len(pending) >= CSV_BATCH:
            yield from _csv_batch(pending, header, maker)
            pending = []
    yield from _csv_batch(pending, header, maker)


def _csv_batch(
    pending: list[tuple[int, list[str]]], header: list[str], maker: RowRecords
) -> Iterator[Record | RowProblem]:
    import pyarrow as pa

    if not pending:
        return
    names = [h for h in header if h]
    built = None
    if maker.kind != "rating" and len(set(names)) == len(names):
        lines = [line for line, _ in pending]
        table = pa.table(
            {h: pa.array([cells[j] for _, cells in pending], pa.string()) for j, h in enumerate(header) if h}
        )
        built = _build(table, lines, maker, jsonl=False)
    if built is None:
        for line, cells in pending:
            yield from maker.items(csv_row(line, header, cells))
    else:
        yield from built
