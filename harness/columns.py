"""Whole CSV files read into columns of text at C speed, each row's 1-based line kept.

The fast path of the readers (ratings for ``harness agreement``): pyarrow's CSV reader for a file
without quote characters (every row one physical line, so lines are counted from the bytes), the
csv module otherwise. :func:`read_csv_columns` returns None whenever the file is anything but
plain, and the caller falls back to the careful row-by-row reader of :mod:`harness.rows`,
whose problems name file, line and field. Reading is bounded like the careful reader's: no line
over :data:`harness.rows.MAX_RECORD_BYTES`, and files over 256 MiB are streamed.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.rows import MAX_RECORD_BYTES, _check_path, bounded_lines

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CodedColumn", "CodedTable", "CsvTable", "code_column", "read_csv_coded", "read_csv_columns"]


class CsvTable(NamedTuple):
    """A whole CSV file as columns of text: the header, the cells per column, each row's line."""

    header: list[str]
    columns: dict[str, list[str]]
    lines: list[int]


class CodedColumn(NamedTuple):
    """A column as integer codes into its distinct values, numbered in order of first appearance.

    ``values[codes[k]]`` is row ``k``'s cell; every value appears in some row.
    """

    codes: np.ndarray
    values: list[Any]


class CodedTable(NamedTuple):
    """A whole CSV file as coded columns of text (no Python object per cell) and each row's line."""

    header: list[str]
    columns: dict[str, CodedColumn]
    lines: np.ndarray


def code_column(cells: list[Any]) -> CodedColumn:
    """Code a column of Python values (equal values share a code), in order of first appearance.

    Example:
        >>> c = code_column(["b", "a", "b"])
        >>> c.codes.tolist(), c.values
        ([0, 1, 0], ['b', 'a'])
    """
    import numpy as np

    index = {v: k for k, v in enumerate(dict.fromkeys(cells))}  # dict order: first appearance, found in C
    return CodedColumn(np.fromiter(map(index.__getitem__, cells), dtype=np.intp, count=len(cells)), list(index))


_ARROW_MAX_BYTES = 256 * 2**20  # larger files go through the streaming reader (bounded memory)
# Up to this size read_csv_coded codes columns with numpy alone (pyarrow's import costs more than
# the reading); larger files go through pyarrow, whose hash-based coding beats numpy's sort.
_NUMPY_MAX_BYTES = 16 * 2**20


def _row_spans(body: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Each non-blank physical line of a file without quotes: start and end offsets (a final CR
    left out) and 1-based line number; None when a line is longer than the record limit."""
    import numpy as np

    buf = np.frombuffer(body, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10)
    starts = np.concatenate(([0], ends + 1))
    stops = np.concatenate((ends, [len(body)]))
    del ends
    if len(body) and body.endswith(b"\n"):
        starts, stops = starts[:-1], stops[:-1]
    if starts.size and int((stops - starts).max()) > MAX_RECORD_BYTES:
        return None  # the streaming reader names the line
    stops = stops - ((stops > starts) & (buf[np.maximum(stops - 1, 0)] == 13))  # CRLF: the CR is no text
    filled = np.flatnonzero(stops > starts)
    return starts[filled], stops[filled], filled + 1


def _header(body: bytes, start: int, stop: int) -> list[str] | None:
    """The header's column names; None when one is repeated."""
    header = [c.strip() for c in body[start:stop].decode("utf-8", errors="replace").split(",")]
    return header if len(set(header)) == len(header) else None


def _csv_table_arrow(raw: bytes) -> tuple[list[str], Any, np.ndarray] | None:
    """pyarrow's CSV reader for a file without quotes (every row is one physical line).

    Returns the header, the pyarrow table (every column text) and each row's 1-based line.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    spans = _row_spans(body)
    if spans is None or spans[0].size == 0:
        return None
    starts, stops, filled = spans
    header = _header(body, int(starts[0]), int(stops[0]))
    if header is None:
        return None
    try:
        table = pacsv.read_csv(
            pa.py_buffer(body),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=int(filled[0]), use_threads=False),
            parse_options=pacsv.ParseOptions(quote_char=False, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    lines = filled[1:]
    if table.num_rows != lines.size:
        return None
    return header, table, lines


def _csv_columns_arrow(raw: bytes) -> CsvTable | None:
    read = _csv_table_arrow(raw)
    if read is None:
        return None
    header, table, lines = read
    return CsvTable(header, {h: table.column(h).to_pylist() for h in header}, lines.tolist())


def _coded_arrow(raw: bytes) -> CodedTable | None:
    """pyarrow's reader, each column dictionary-encoded by pyarrow (hashing: codes in order of first use)."""
    import numpy as np
    import pyarrow as pa
    from pyarrow._compute import call_function

    read = _csv_table_arrow(raw)
    del raw
    if read is None:
        return None
    header, table, lines = read
    columns = {}
    for h in header:
        # pyarrow._compute's kernel call: Array.dictionary_encode imports pyarrow.compute (0.1 s of wrappers)
        encoded = call_function("dictionary_encode", [table.column(h).combine_chunks()])
        idx = encoded.indices  # no nulls (strings_can_be_null=False); read from its buffer: to_numpy imports pandas
        codes = np.frombuffer(idx.buffers()[1], dtype=idx.type.to_pandas_dtype(), count=len(idx), offset=idx.offset)
        columns[h] = CodedColumn(codes.astype(np.intp), encoded.dictionary.to_pylist())
        del encoded
    del table, read
    pa.default_memory_pool().release_unused()  # its allocator keeps freed pages (0.4 GB on 10 million rows)
    return CodedTable(header, columns, lines)


def _coded_numpy(raw: bytes) -> CodedTable | None:
    """Code a file without quotes with array operations alone (every row one physical line).

    The cells of a column are gathered into a fixed-width byte matrix and coded by sorting it; no
    Python object per cell, and no pyarrow (whose import costs more than reading 140,000 rows).
    None when a row has another number of cells than the header or the bytes are not UTF-8.
    """
    import numpy as np

    body = raw[3:] if raw.startswith(b"\xef\xbb\xbf") else raw
    spans = _row_spans(body)
    if spans is None or spans[0].size == 0:
        return None
    starts, stops, lines = spans
    buf = np.frombuffer(body, dtype=np.uint8)
    if not bool((buf < 128).all()):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError:
            return None
    header = _header(body, int(starts[0]), int(stops[0]))
    if header is None:
        return None
    starts, stops, lines = starts[1:], stops[1:], lines[1:]
    commas = np.flatnonzero(buf == 44)
    first = np.searchsorted(commas, starts)  # each row's first comma
    if not bool((np.searchsorted(commas, stops) - first == len(header) - 1).all()):
        return None  # a row with another number of cells
    cell_spans: list[tuple[np.ndarray, np.ndarray]] = []
    for k in range(len(header)):
        a = starts if k == 0 else commas[first + (k - 1)] + 1
        b = stops if k == len(header) - 1 else commas[first + k]
        if len(a) and len(a) * int((b - a).max()) > 8 * len(body) + 2**20:
            return _coded_arrow(raw)  # a long cell would make the column's byte matrix huge
        cell_spans.append((a, b))
    columns = {name: _code_spans(buf, a, b) for name, (a, b) in zip(header, cell_spans, strict=True)}
    return CodedTable(header, columns, lines)


def _code_spans(buf: np.ndarray, a: np.ndarray, b: np.ndarray) -> CodedColumn:
    """Code the byte strings ``buf[a[k]:b[k]]`` (UTF-8, no NUL) in order of first appearance."""
    import numpy as np

    n = len(a)
    widths = b - a
    width = int(widths.max()) if n else 0
    padded = max(8, -(-width // 8) * 8)
    cells = np.zeros((n, padded), dtype=np.uint8)  # NUL-padded: no cell holds a NUL
    last = len(buf) - 1
    for j in range(width):
        cells[:, j] = np.where(widths > j, buf[np.minimum(a + j, last)], 0)
    keys = cells.view(np.uint64).reshape(n) if padded == 8 else cells.view(f"S{padded}").reshape(n)
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # distinct values in order of first appearance
    rank = np.empty(len(order), dtype=np.intp)
    rank[order] = np.arange(len(order))
    distinct = cells[first[order]].view(f"S{padded}").reshape(len(order))  # bytes, NUL padding dropped
    values = list(map(bytes.decode, distinct.tolist()))
    return CodedColumn(rank[inverse.reshape(n)], values)


class _NulError(Exception):
    """A NUL byte in a line: not text, so the careful reader must report it."""


def _no_nul(raw: bytes) -> bytes:
    if b"\x00" in raw:
        raise _NulError
    return raw


def _csv_columns_python(path: Path) -> CsvTable | None:
    """The csv module's reader (quoted cells may span lines): each row's first line kept."""
    try:
        with path.open("rb") as fh:
            lines_text = (
                _no_nul(raw).decode("utf-8-sig" if k == 0 else "utf-8") for k, raw in enumerate(bounded_lines(path, fh))
            )
            reader = csv.reader(lines_text)
            header: list[str] | None = None
            rows: list[list[str]] = []
            lines: list[int] = []
            start = 1
            for cells in reader:
                line, start = start, reader.line_num + 1
                if not cells or all(not c.strip() for c in cells):
                    continue
                if header is None:
                    header = [c.strip() for c in cells]
                    continue
                if len(cells) != len(header):
                    return None
                rows.append(cells)
                lines.append(line)
    except (UnicodeDecodeError, csv.Error, _NulError):
        return None
    if header is None or len(set(header)) != len(header):
        return None
    columns = dict(zip(header, map(list, zip(*rows, strict=True)), strict=True)) if rows else {h: [] for h in header}
    return CsvTable(header, columns, lines)


def _route(path: str | Path) -> tuple[Path, bytes | None, bool]:
    """Which reader a file needs: ``(path, raw, decline)``.

    ``raw`` holds the bytes when pyarrow may read them (no quote, no lone CR, at most 256 MiB);
    ``decline`` is True when the fast path must leave the file to the careful reader (a NUL byte);
    otherwise (``raw`` None) the csv module reads it.
    """
    path = Path(path)
    _check_path(path)
    if path.stat().st_size > _ARROW_MAX_BYTES or not path.is_file():
        return path, None, False
    with path.open("rb") as fh:
        if b"\x00" in fh.read(4096):
            return path, None, True
    raw = path.read_bytes()
    if b"\x00" in raw:  # NUL is not text: the careful reader names its line and field
        return path, None, True
    if b'"' in raw or (b"\r" in raw and b"\r" in raw.replace(b"\r\n", b"")):
        return path, None, False
    return path, raw, False


def read_csv_columns(path: str | Path) -> CsvTable | None:
    """Read a well-formed CSV file at C speed into columns of text, keeping each row's 1-based line.

    The fast path of the readers: it returns None (and the caller uses the careful row-by-row
    reader, whose problems name file, line and field) when the file is anything but plain: bytes
    that are not UTF-8, a row with another number of cells than the header, a CSV syntax error,
    a repeated column name. Blank rows are skipped as :func:`read_rows` skips them. A file
    without quote characters goes through pyarrow's CSV reader (every row one line); one with
    quotes through the csv module.
    """
    path, raw, decline = _route(path)
    if decline:
        return None
    return _csv_columns_python(path) if raw is None else _csv_columns_arrow(raw)


def read_csv_coded(path: str | Path) -> CodedTable | None:
    """:func:`read_csv_columns` with each column coded into its distinct values (:class:`CodedColumn`).

    No Python object per cell for a file without quotes: up to 16 MiB array operations alone
    (:func:`_coded_numpy`, not even pyarrow's import), above that pyarrow's reader and dictionary
    encoding; on the csv module's path (quotes) the cells read are coded.
    """
    path, raw, decline = _route(path)
    if decline:
        return None
    if raw is not None:
        return _coded_numpy(raw) if len(raw) <= _NUMPY_MAX_BYTES else _coded_arrow(raw)
    table = _csv_columns_python(path)
    if table is None:
        return None
    import numpy as np

    columns = {h: code_column(cells) for h, cells in table.columns.items()}
    return CodedTable(table.header, columns, np.asarray(table.lines, dtype=np.int64))
