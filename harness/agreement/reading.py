"""Reading ratings files for ``harness agreement``: long form (CSV, JSONL, Parquet) and wide form.

Long form (the ``rating`` record of :mod:`harness.records`): one row per rating with
``item_id, rater_id, score`` and optional ``criterion``, ``gold``, ``timestamp`` and
``shown_order``. Wide form (``--wide``): one row per item with an ``item_id`` (or ``id``) column
and one column per rater. CSV and JSONL long-form files go through a fast path (columns at C
speed, each row's line kept); whenever a row is anything but plain the careful row-by-row reader
of :mod:`harness.records` reads the file, so problems name file, line and field the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from harness.columns import CodedColumn, code_column, read_csv_coded
from harness.errors import InputError
from harness.rows import _EMPTY_SCORES, RowProblem, bounded_lines, detect_format, detect_kind, read_table, text_problem

__all__ = ["Rating", "RatingColumns", "Ratings", "load_ratings"]

_MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
_RESERVED_WIDE = ("item_id", "id", "criterion", "gold", "timestamp")


class Rating(NamedTuple):
    """One rating as read from a file (``line`` is 1-based; 0 when built in memory)."""

    item_id: str
    rater_id: str
    score: str | float
    criterion: str | None = None
    gold: str | float | None = None
    timestamp: str | None = None
    shown_order: str | None = None
    line: int = 0


_make_rating = partial(tuple.__new__, Rating)


class RatingColumns(NamedTuple):
    """Ratings as columns, one entry per rating: each field coded into its distinct values.

    A file's ratings stay in this form from the reader to the matrices (no Python object per
    rating). ``criterion``, ``gold``, ``timestamp`` and ``shown_order`` are None when no rating has
    one; an empty cell is the value None.
    """

    item_id: CodedColumn
    rater_id: CodedColumn
    score: CodedColumn
    criterion: CodedColumn | None
    gold: CodedColumn | None
    timestamp: CodedColumn | None
    shown_order: CodedColumn | None
    line: np.ndarray  # 1-based line of each rating (0 when built in memory)


class Ratings:
    """The ratings of one file: a list of :class:`Rating` or, as read from a CSV file, columns.

    ``ratings`` is the list (built from the columns on first use), ``columns`` the columnar form
    (built from the list on first use); ``len()`` is the number of ratings.

    Example:
        >>> r = Ratings([Rating("a", "x", 1.0), Rating("a", "y", 2.0)])
        >>> len(r), r.columns.rater_id.values
        (2, ['x', 'y'])
    """

    __slots__ = ("_columns", "_list", "file", "form")

    def __init__(
        self,
        ratings: Sequence[Rating] | None = None,
        file: str | None = None,
        form: str = "long",
        *,
        columns: RatingColumns | None = None,
    ) -> None:
        if (ratings is None) == (columns is None):
            raise TypeError("Ratings takes either a list of ratings or columns")
        self._list = None if ratings is None else list(ratings)
        self._columns = columns
        self.file, self.form = file, form

    def __len__(self) -> int:
        return len(self._list) if self._list is not None else len(self.columns.line)

    def __repr__(self) -> str:
        return f"Ratings({len(self)} ratings, file={self.file!r}, form={self.form!r})"

    @property
    def ratings(self) -> list[Rating]:
        """One :class:`Rating` per rating, in file order."""
        if self._list is None:
            self._list = _rows_of(self.columns)
        return self._list

    @property
    def columns(self) -> RatingColumns:
        """The ratings as coded columns."""
        if self._columns is None:
            self._columns = _columns_of(self.ratings)
        return self._columns


def _columns_of(rows: list[Rating]) -> RatingColumns:
    """Code a list of ratings into columns (each field gathered in C)."""
    fields = [tuple(map(itemgetter(k), rows)) for k in range(len(Rating._fields))]
    item, rater, score = (code_column(list(f)) for f in fields[:3])
    criterion, gold, timestamp, shown = (None if f.count(None) == len(f) else code_column(list(f)) for f in fields[3:7])
    return RatingColumns(
        item, rater, score, criterion, gold, timestamp, shown, np.fromiter(fields[7], dtype=np.int64, count=len(rows))
    )


def _rows_of(cols: RatingColumns) -> list[Rating]:
    """The list of ratings held by columns."""
    n = len(cols.line)
    nothing = [None] * n

    def cells(c: CodedColumn | None) -> list[Any]:
        return nothing if c is None else list(map(c.values.__getitem__, c.codes.tolist()))

    fields = [cells(c) for c in cols[:7]]
    return list(map(_make_rating, zip(*fields, cols.line.tolist(), strict=True)))


# ---------------------------------------------------------------------------- reading
def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    return isinstance(v, str) and v.strip().lower() in _MISSING


def _text(v: Any) -> str | None:
    if _missing(v):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def load_ratings(path: str | Path, *, wide: bool = False, format: str | None = None) -> Ratings:
    """Read a ratings file in long form (default) or wide form.

    Raises:
        InputError: a malformed row (file, line, field), or no ratings at all.
    """
    form = "wide" if wide else "long"
    if not wide and (format or detect_format(path)) == "csv":
        columns = _load_long_csv(path)
        if columns is not None:
            if not len(columns.line):
                raise InputError("no ratings in file", file=path)
            return Ratings(file=str(path), form=form, columns=columns)
    ratings = _load_wide(path, format) if wide else _load_long(path, format)
    if not ratings:
        raise InputError("no ratings in file", file=path)
    return Ratings(ratings, str(path), form)


def _recode(column: CodedColumn, fn: Any) -> CodedColumn:
    """A coded column with ``fn`` applied to each distinct value (values that become equal merge)."""
    mapped = [fn(v) for v in column.values]
    index = {v: k for k, v in enumerate(dict.fromkeys(mapped))}  # keeps the order of first appearance
    remap = np.fromiter(map(index.__getitem__, mapped), dtype=np.intp, count=len(mapped))
    return CodedColumn(remap[column.codes], list(index))


def _optional(column: CodedColumn | None, fn: Any) -> CodedColumn | None:
    """An optional column with ``fn`` applied to each distinct value; None when every cell is empty."""
    if column is None:
        return None
    out = _recode(column, fn)
    return None if out.values == [None] else out


def _load_long_csv(path: str | Path) -> RatingColumns | None:
    """The fast path for a plain CSV file: coded columns at C speed, no Python object per rating.

    Returns None whenever a row would be a problem (missing column, empty score, a cell holding a
    JSON array), so that the careful reader reports it with file, line and field.
    """
    table = read_csv_coded(path)
    if table is None or detect_kind(dict.fromkeys(table.header)) != "rating":
        return None
    cols = table.columns
    if not all(k in cols for k in ("item_id", "rater_id", "score")):
        return None
    shown_col = "shown_order" if "shown_order" in cols else "position" if "position" in cols else None
    used = [cols[k] for k in ("item_id", "rater_id", "score", "criterion", "gold", "timestamp", shown_col) if k in cols]
    for col in used:  # each distinct value once
        if "[" in "".join(col.values) and any(v[:1] == "[" or v[:2] == " [" for v in col.values):
            return None  # JSON arrays: the careful reader decides
    if any(v.strip().lower() in _EMPTY_SCORES for v in cols["score"].values):
        return None
    return RatingColumns(
        item_id=cols["item_id"],
        rater_id=cols["rater_id"],
        score=cols["score"],
        criterion=_optional(cols.get("criterion"), _text),
        gold=_optional(cols.get("gold"), lambda v: None if _missing(v) else v),
        timestamp=_optional(cols.get("timestamp"), _text),
        shown_order=_optional(cols.get(shown_col) if shown_col else None, _text),
        line=table.lines,
    )


def _id_text(v: Any) -> str | None:
    """An id as the record model makes it: text as is, a number as text; None for anything else."""
    if isinstance(v, str):
        return v
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return f"{v:g}" if isinstance(v, float) else str(v)


def _jsonl_rating(obj: Any, line: int) -> Rating | None:
    """One JSONL object as a rating, or None when the careful reader must look at it."""
    if not isinstance(obj, dict) or detect_kind(obj) != "rating":
        return None
    item, rater, score = _id_text(obj.get("item_id")), _id_text(obj.get("rater_id")), obj.get("score")
    if item is None or rater is None or isinstance(score, bool) or not isinstance(score, str | int | float):
        return None
    if _missing(score) or (isinstance(score, str) and score.strip().lower() in _EMPTY_SCORES):
        return None
    extra = {}
    for key in ("criterion", "timestamp", "shown_order", "position"):
        v = obj.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, str | int | float)):
            return None
        extra[key] = _id_text(v) if isinstance(v, int | float) else v
    gold = obj.get("gold")
    if gold is not None and (isinstance(gold, bool) or not isinstance(gold, str | int | float)):
        return None
    shown = extra["shown_order"] if "shown_order" in obj else extra["position"]
    return Rating(
        item_id=item,
        rater_id=rater,
        score=float(score) if isinstance(score, int) else score,
        criterion=_text(extra["criterion"]),
        gold=None if _missing(gold) else float(gold) if isinstance(gold, int) else gold,
        timestamp=_text(extra["timestamp"]),
        shown_order=_text(shown),
        line=line,
    )


def _load_long_jsonl(path: str | Path) -> list[Rating] | None:
    """The fast path for JSONL ratings: C JSON parsing, no per-row record model; None on any problem."""
    import json

    out: list[Rating] = []
    with Path(path).open("rb") as fh:
        for line, raw in enumerate(bounded_lines(Path(path), fh), start=1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw[3:] if line == 1 and raw.startswith(b"\xef\xbb\xbf") else raw)
            except ValueError:  # invalid JSON or UTF-8
                return None
            if b"\\u" in raw and text_problem(obj) is not None:  # a \\u escape may hide a surrogate or NUL
                return None
            rating = _jsonl_rating(obj, line)
            if rating is None:
                return None
            out.append(rating)
    return out


def _load_long(path: str | Path, format: str | None) -> list[Rating]:
    from harness.records import RatingRecord, iter_records  # the careful reader: pydantic, only when needed

    if (format or detect_format(path)) == "jsonl":
        fast = _load_long_jsonl(path)
        if fast is not None:
            return fast
    out: list[Rating] = []
    problems: list[RowProblem] = []
    for rec in iter_records(path, format=format, kind="rating"):
        if isinstance(rec, RowProblem):
            problems.append(rec)
            continue
        assert isinstance(rec, RatingRecord)
        extra = rec.model_extra or {}
        shown = extra.get("shown_order", extra.get("position"))
        out.append(
            Rating(
                item_id=rec.item_id,
                rater_id=rec.rater_id,
                score=rec.score,
                criterion=_text(rec.criterion),
                gold=None if _missing(rec.gold) else rec.gold,
                timestamp=_text(rec.timestamp),
                shown_order=_text(shown),
                line=rec.line,
            )
        )
    if problems:
        p = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(p.message + more, file=path, line=p.line, field=p.field)
    return out


def _load_wide(path: str | Path, format: str | None) -> list[Rating]:
    rows = read_table(path, format=format)
    if not rows:
        return []
    columns = [c for c in rows[0] if c != "_line"]
    id_col = "item_id" if "item_id" in columns else "id" if "id" in columns else None
    if id_col is None:
        raise InputError("wide form needs an 'item_id' (or 'id') column", file=path, line=1, field="item_id")
    raters = [c for c in columns if c not in _RESERVED_WIDE]
    if not raters:
        raise InputError("wide form needs one column per rater besides item_id", file=path, line=1)
    out: list[Rating] = []
    for row in rows:
        line = int(row["_line"])
        item = _text(row.get(id_col))
        if item is None:
            raise InputError("empty item id", file=path, line=line, field=id_col)
        for rater in raters:
            value = row.get(rater)
            if _missing(value):
                continue
            out.append(
                Rating(
                    item_id=item,
                    rater_id=rater,
                    score=float(value)
                    if isinstance(value, int | float) and not isinstance(value, bool)
                    else str(value),
                    criterion=_text(row.get("criterion")),
                    gold=None if _missing(row.get("gold")) else row.get("gold"),
                    timestamp=_text(row.get("timestamp")),
                    line=line,
                )
            )
    return out
