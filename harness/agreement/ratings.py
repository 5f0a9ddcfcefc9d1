"""Ratings files for ``harness agreement``: long and wide form, scales, groups.

Long form (the ``rating`` record of :mod:`harness.records`): one row per rating with
``item_id, rater_id, score`` and optional ``criterion``, ``gold``, ``timestamp`` and, for pairwise
preference ratings (``score`` in A / B / tie), ``shown_order`` (``AB`` or ``BA``: which response
was shown first; ``A`` or ``B`` name the first one alone).

Wide form (``--wide``): one row per item with an ``item_id`` (or ``id``) column, optional
``criterion``, ``gold``, ``timestamp`` columns, and one column per rater; an empty cell is a
missing rating.

Bad input raises :class:`~harness.errors.InputError` naming file, line and field: a rater who
rates an item twice with different values, a score off the declared scale, a non-numeric score at
an ordered level, a single rater.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

import numpy as np

from harness.agreement.reading import Rating, RatingColumns, Ratings, load_ratings
from harness.columns import CodedColumn
from harness.errors import InputError

__all__ = ["Group", "Rating", "Ratings", "Scale", "build_groups", "load_ratings", "parse_scale"]

PAIRWISE = ("A", "B", "tie")


class Scale(NamedTuple):
    """A declared rating scale: ordered categories, numeric or text."""

    categories: tuple[Any, ...]
    numeric: bool
    text: str

    def describe(self) -> str:
        """How the scale reads in messages."""
        return self.text


class Group(NamedTuple):
    """The ratings of one group (criterion) as an items x raters matrix, ready for the coefficients."""

    criterion: str | None
    item_ids: list[str]
    rater_ids: list[str]
    data: np.ndarray  # values (numeric scales) or category indices (text labels); NaN missing
    categories: list[Any]  # the category set in order (scale, else observed values)
    labels: np.ndarray  # numeric code of each category, aligned with ``categories``
    numeric: bool  # True when data holds the scores themselves
    pairwise: bool
    gold: np.ndarray  # per item, coded like data; NaN when none
    timestamps: list[list[str | None]]  # per item, per rater
    shown_first: np.ndarray  # per item x rater: 0 A shown first, 1 B first, -1 unknown
    lines: np.ndarray  # per item x rater: the file line of the rating (0 when none)
    duplicates_ignored: int
    file: str | None = None


# ---------------------------------------------------------------------------- scales and scores
_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:-|\.\.|:)\s*(-?\d+)\s*$")


def parse_scale(text: str) -> Scale:
    """Parse ``--scale``: an integer range ``1-5`` (or ``1..5``) or an ordered list ``a,b,c``.

    Example:
        >>> parse_scale("1-5").categories
        (1.0, 2.0, 3.0, 4.0, 5.0)
        >>> parse_scale("low, mid, high").categories
        ('low', 'mid', 'high')
    """
    if m := _RANGE.match(text):
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi <= lo:
            raise InputError(f"--scale {text!r}: the range must go up (e.g. 1-5)", field="scale")
        if hi - lo > 1000:
            raise InputError(f"--scale {text!r}: more than 1000 points", field="scale")
        return Scale(tuple(float(v) for v in range(lo, hi + 1)), True, text.strip())
    parts = [p.strip() for p in text.split(",")]
    if len(parts) < 2 or any(not p for p in parts):
        raise InputError(
            f"--scale {text!r}: give a range like 1-5 or two or more comma-separated labels", field="scale"
        )
    if len(set(parts)) != len(parts):
        raise InputError(f"--scale {text!r}: a label is repeated", field="scale")
    nums = [_as_number(p) for p in parts]
    if all(v is not None for v in nums):
        values = [float(v) for v in nums if v is not None]
        if values != sorted(values):
            raise InputError(f"--scale {text!r}: numeric points must be in increasing order", field="scale")
        return Scale(tuple(values), True, text.strip())
    return Scale(tuple(parts), False, text.strip())


def _as_number(v: Any) -> float | None:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return float(v) if math.isfinite(v) else None
    try:
        out = float(str(v).strip())
    except ValueError:
        return None
    return out if math.isfinite(out) else None


def _is_pairwise(scores: list[Any]) -> bool:
    return all(isinstance(s, str) and s.strip().lower() in ("a", "b", "tie") for s in scores)


class _Coder:
    """Turns raw scores (and gold values) into the numbers the coefficients read."""

    def __init__(
        self, scores: list[Any], first_lines: list[int], level: str, scale: Scale | None, file: str | None
    ) -> None:
        """``scores``: the distinct scores in order of first use; ``first_lines``: the line of each one's first use."""
        self.file = file
        self.level = level
        declared = None if scale is None else {str(c).lower() for c in scale.categories}
        self.pairwise = _is_pairwise(scores) and declared in (None, {"a", "b", "tie"})
        if self.pairwise:
            if level != "nominal":
                raise InputError(
                    f"pairwise preference ratings (A / B / tie) are nominal; got --level {level}", field="level"
                )
            scale = Scale(PAIRWISE, False, "A,B,tie")
        self.scale = scale
        if scale is not None:
            self.numeric = scale.numeric
            self.categories: list[Any] = list(scale.categories)
        else:
            numbers = [_as_number(s) for s in scores]
            self.numeric = all(v is not None for v in numbers)
            if not self.numeric:
                k = next(k for k, v in enumerate(numbers) if v is None)
                if level != "nominal":
                    raise InputError(
                        f"score {scores[k]!r} is not a number; the {level} level needs numeric scores "
                        "(or an ordered --scale of labels for the ordinal level)",
                        file=file,
                        line=first_lines[k] or None,
                        field="score",
                    )
                self.categories = sorted({str(s).strip() for s in scores})
            else:
                self.categories = sorted({v for v in numbers if v is not None})
        if not self.numeric and level in ("interval", "ratio"):
            raise InputError(
                f"the {level} level needs a numeric scale; got labels {self.categories[:5]}", field="scale"
            )
        self._index = {self._key(c): i for i, c in enumerate(self.categories)}
        if not self.numeric and self.pairwise:
            self._index = {c.lower(): i for i, c in enumerate(self.categories)}

    def _key(self, c: Any) -> Any:
        return float(c) if self.numeric else str(c).strip()

    def code(self, value: Any, *, line: int, field: str) -> float:
        """The number for one score: its value (numeric scales) or its category index."""
        memo = self.__dict__.setdefault("_memo", {})
        key = (type(value), value)
        if key not in memo:
            memo[key] = self._code(value, line=line, field=field)
        return memo[key]

    def _code(self, value: Any, *, line: int, field: str) -> float:
        if self.numeric:
            v = _as_number(value)
            if v is None:
                raise InputError(
                    f"{field} {value!r} is not a number (scale {self.describe()})",
                    file=self.file,
                    line=line or None,
                    field=field,
                )
            if self.scale is not None and v not in self._index:
                raise InputError(
                    f"{field} {value!r} is off the declared scale {self.describe()}",
                    file=self.file,
                    line=line or None,
                    field=field,
                )
            return v
        key = str(value).strip()
        if self.pairwise:
            key = key.lower()
        if key not in self._index:
            raise InputError(
                f"{field} {value!r} is off the declared scale {self.describe()}",
                file=self.file,
                line=line or None,
                field=field,
            )
        return float(self._index[key])

    def describe(self) -> str:
        if self.scale is not None:
            return self.scale.describe()
        return "of observed values"

    def labels(self) -> np.ndarray:
        if self.numeric:
            return np.asarray(self.categories, dtype=float)
        return np.arange(len(self.categories), dtype=float)


# ---------------------------------------------------------------------------- groups
def _shown_first(value: str | None, *, file: str | None, line: int) -> int:
    if value is None:
        return -1
    letters = re.sub(r"[^A-Za-z]", "", value).upper()
    if letters in ("AB", "A"):
        return 0
    if letters in ("BA", "B"):
        return 1
    raise InputError(
        f"shown_order {value!r} is not AB or BA (the order the two responses were shown)",
        file=file,
        line=line or None,
        field="shown_order",
    )


def build_groups(ratings: Ratings, *, level: str, scale: Scale | None = None, by: str | None = None) -> list[Group]:
    """Check the ratings and arrange them per group as items x raters matrices.

    Args:
        ratings: the loaded ratings.
        level: the level of measurement (decides whether scores must be numeric).
        scale: the declared scale (scores off it are errors); default: observed values.
        by: ``"criterion"`` for one group per criterion; None pools all ratings (an error when
            the file has more than one criterion).

    Raises:
        InputError: a duplicate rating with a different value, a score off the scale, a
            conflicting gold value, a group with a single rater, several criteria without ``by``.
    """
    cols = ratings.columns
    file = ratings.file
    crit = cols.criterion
    criteria = sorted(v for v in crit.values if v is not None) if crit is not None else []
    if by is None and len(criteria) > 1:
        raise InputError(
            f"the file holds {len(criteria)} criteria ({', '.join(criteria[:5])}): pass --by criterion "
            "to measure agreement per criterion",
            file=file,
            field="criterion",
        )
    first = _first_rows(cols.score.codes, len(cols.score.values))
    coder = _Coder(cols.score.values, cols.line[first].tolist(), level, scale, file)
    if by != "criterion" or crit is None:
        return [_group(None, cols, None, coder, file)]
    groups = []
    names = crit.values
    for code in sorted(range(len(names)), key=lambda k: (names[k] is not None, names[k] or "")):
        groups.append(_group(names[code], cols, np.flatnonzero(crit.codes == code), coder, file))
    return groups


def _first_rows(codes: np.ndarray, k: int) -> np.ndarray:
    """The first row of each of ``k`` codes numbered in order of first appearance (each used)."""
    return np.searchsorted(np.maximum.accumulate(codes), np.arange(k)) if len(codes) else np.zeros(0, np.intp)


def _in_order_of_use(codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes renumbered in order of first use in this selection of rows.

    Returns the new codes, the old code of each new one and the row of each one's first use.
    """
    n = len(codes)
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, codes, np.arange(n))
    used = np.flatnonzero(first < n)
    used = used[np.argsort(first[used], kind="stable")]
    remap = np.zeros(k, dtype=np.intp)
    remap[used] = np.arange(len(used))
    return remap[codes], used, first[used]


def _first_ratings(
    cell: np.ndarray, values: np.ndarray, lines: np.ndarray, describe: Any, file: str | None
) -> tuple[np.ndarray, int]:
    """Which rows are a rater's first rating of an item; the number of repeats with the same value.

    Raises:
        InputError: a rater rated an item twice with different values (the first such row in file
            order is named, with the line of the rating it contradicts).
    """
    order = np.argsort(cell, kind="stable")
    sorted_cell = cell[order]
    starts = np.ones(len(cell), dtype=bool)
    starts[1:] = sorted_cell[1:] != sorted_cell[:-1]
    first = order[np.maximum.accumulate(np.where(starts, np.arange(len(cell)), 0))]
    del sorted_cell, starts
    first_of = np.empty(len(cell), dtype=np.int64)
    first_of[order] = first
    del order, first
    keep = first_of == np.arange(len(cell))
    clash = np.flatnonzero(~keep & (values != values[first_of]))
    if clash.size:
        k = int(clash.min())
        raise InputError(
            f"{describe(k)} twice with different scores (also on line {lines[first_of[k]]})",
            file=file,
            line=int(lines[k]) or None,
            field="score",
        )
    return keep, int((~keep).sum())


def _coded_scores(score: CodedColumn, rows: np.ndarray | None, lines: np.ndarray, coder: _Coder) -> np.ndarray:
    """Each score's code, coding every distinct value once in order of first use (errors name its first line)."""
    codes = score.codes if rows is None else score.codes[rows]
    if rows is None:  # all rows: the codes are numbered in order of first use already
        used, first = np.arange(len(score.values)), _first_rows(codes, len(score.values))
    else:
        codes, used, first = _in_order_of_use(codes, len(score.values))
    table = np.empty(len(used))
    for k, (old, row) in enumerate(zip(used.tolist(), first.tolist(), strict=True)):
        table[k] = coder._code(score.values[old], line=int(lines[row]), field="score")
    return table[codes]

def _ids(column: CodedColumn, rows: np.ndarray | None) -> tuple[np.ndarray, list[str]]:
    """Row codes into the group's ids, numbered in order of first use in the group, and the ids."""
    if rows is None:  # all rows: numbered in order of first use already
        return column.codes, column.values
    codes, used, _ = _in_order_of_use(column.codes[rows], len(column.values))
    return codes, [column.values[k] for k in used.tolist()]


def _cells(column: CodedColumn | None, rows: np.ndarray | None) -> tuple[np.ndarray, list[Any]] | None:
    """An optional column's codes for the group's rows and its values; None when it has none."""
    if column is None:
        return None
    return (column.codes if rows is None else column.codes[rows]), column.values


def _group(
    criterion: str | None, cols: RatingColumns, rows: np.ndarray | None, coder: _Coder, file: str | None
) -> Group:
    """One group's matrices from the rows ``rows`` of the columns (None: all rows)."""
    ii, items = _ids(cols.item_id, rows)
    jj, raters = _ids(cols.rater_id, rows)
    where = f" (criterion {criterion!r})" if criterion else ""
    if len(raters) < 2:
        raise InputError(
            f"only one rater ({raters[0]!r}){where}: agreement needs two or more raters",
            file=file,
            field="rater_id",
        )
    lines = cols.line if rows is None else cols.line[rows]
    n = len(lines)
    values = _coded_scores(cols.score, rows, lines, coder)

    def describe(k: int) -> str:
        return f"rater {raters[jj[k]]!r} rated item {items[ii[k]]!r}{where}"

    keep, duplicates = _first_ratings(ii * len(raters) + jj, values, lines, describe, file)
    data = np.full((len(items), len(raters)), np.nan)
    line_of = np.zeros(data.shape, dtype=np.int64 if n and lines.max() >= 2**31 else np.int32)
    ik, jk = ii[keep], jj[keep]
    data[ik, jk] = values[keep]
    line_of[ik, jk] = lines[keep]
    del ik, jk
    gold = np.full(len(items), np.nan)
    gold_line = np.zeros(len(items), dtype=np.int64)
    shown = np.full(data.shape, -1, dtype=np.int8)  # -1 unknown, 0 A first, 1 B first
    golds, stamps_col, orders = (_cells(c, rows) for c in (cols.gold, cols.timestamp, cols.shown_order))
    has_extra = np.zeros(n, dtype=bool)
    for c in (golds, stamps_col, orders):
        if c is not None:
            has_extra |= np.array([v is not None for v in c[1]], dtype=bool)[c[0]]
    if stamps_col is not None:
        stamps: list[list[str | None]] = [[None] * len(raters) for _ in items]
    else:  # no timestamps: one shared row of None, read only
        stamps = [[None] * len(raters)] * len(items)

    def cell(c: tuple[np.ndarray, list[Any]] | None, k: int) -> Any:
        return None if c is None else c[1][c[0][k]]

    for k in np.flatnonzero(has_extra & keep).tolist():  # only rows that carry a gold value, a timestamp or an order
        i, j, line = ii[k], jj[k], int(lines[k])
        stamps[i][j] = cell(stamps_col, k)
        shown[i, j] = _shown_first(cell(orders, k), file=file, line=line)
        g_raw = cell(golds, k)
        if g_raw is not None:
            g = coder.code(g_raw, line=line, field="gold")
            if not np.isnan(gold[i]) and gold[i] != g:
                raise InputError(
                    f"item {items[i]!r}{where} has two different gold values (also on line {gold_line[i]})",
                    file=file,
                    line=line or None,
                    field="gold",
                )
            gold[i], gold_line[i] = g, line
    return Group(
        criterion=criterion,
        item_ids=items,
        rater_ids=raters,
        data=data,
        categories=list(coder.categories),
        labels=coder.labels(),
        numeric=coder.numeric,
        pairwise=coder.pairwise,
        gold=gold,
        timestamps=stamps,
        shown_first=shown,
        lines=line_of,
        duplicates_ignored=duplicates,
        file=file,
    )
