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
from collections import defaultdict
from operator import itemgetter
from typing import Any, NamedTuple

import numpy as np

from harness.agreement.reading import Rating, Ratings, load_ratings
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

    def __init__(self, ratings: list[Rating], level: str, scale: Scale | None, file: str | None) -> None:
        self.file = file
        self.level = level
        scores = list(dict.fromkeys(map(itemgetter(2), ratings)))  # distinct scores, in order of first use
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
                first_bad = next(s for s, v in zip(scores, numbers, strict=True) if v is None)
                bad = next(r for r in ratings if r.score == first_bad and type(r.score) is type(first_bad))
                if level != "nominal":
                    raise InputError(
                        f"score {bad.score!r} is not a number; the {level} level needs numeric scores "
                        "(or an ordered --scale of labels for the ordinal level)",
                        file=file,
                        line=bad.line or None,
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
    rows = ratings.ratings
    file = ratings.file
    criteria = sorted(set(map(itemgetter(3), rows)) - {None})
    if by is None and len(criteria) > 1:
        raise InputError(
            f"the file holds {len(criteria)} criteria ({', '.join(criteria[:5])}): pass --by criterion "
            "to measure agreement per criterion",
            file=file,
            field="criterion",
        )
    coder = _Coder(rows, level, scale, file)
    grouped: dict[str | None, list[Rating]] = defaultdict(list)
    if by == "criterion":
        for r in rows:
            grouped[r.criterion].append(r)
    else:
        grouped[None] = list(rows)
    groups = []
    for crit in sorted(grouped, key=lambda c: (c is not None, c or "")):
        groups.append(_group(crit, grouped[crit], coder, file))
    return groups


def _first_ratings(
    cell: np.ndarray, values: np.ndarray, rows: list[Rating], lines: np.ndarray, where: str, file: str | None
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
    first_of = np.empty(len(cell), dtype=np.int64)
    first_of[order] = first
    keep = first_of == np.arange(len(cell))
    clash = np.flatnonzero(~keep & (values != values[first_of]))
    if clash.size:
        k = int(clash.min())
        r = rows[k]
        raise InputError(
            f"rater {r.rater_id!r} rated item {r.item_id!r}{where} twice with different scores "
            f"(also on line {lines[first_of[k]]})",
            file=file,
            line=r.line or None,
            field="score",
        )
    return keep, int((~keep).sum())


def _coded_scores(scores: tuple[Any, ...], lines: tuple[int, ...], coder: _Coder) -> np.ndarray:
    """Each score's code, coding every distinct value once (errors name the value's first line)."""
    distinct = dict.fromkeys(scores)  # in order of first use, found in C
    if len(distinct) <= 64:  # a rating scale: code each value once, naming its first line
        codes = {v: coder.code(v, line=lines[scores.index(v)], field="score") for v in distinct}
        return np.fromiter(map(codes.__getitem__, scores), dtype=float, count=len(scores))
    table: dict[Any, float] = {}
    for value, line in zip(scores, lines, strict=True):
        if value not in table:
            table[value] = coder.code(value, line=line, field="score")
        if len(table) > 10_000:  # continuous scores: code row by row
            return np.fromiter(
                (coder.code(v, line=ln, field="score") for v, ln in zip(scores, lines, strict=True)), float, len(scores)
            )
    return np.fromiter(map(table.__getitem__, scores), dtype=float, count=len(scores))


def _group(criterion: str | None, rows: list[Rating], coder: _Coder, file: str | None) -> Group:
    # One tuple per field, each gathered in C (2.5x faster than zip(*rows) over 140,000 rows).
    columns = [tuple(map(itemgetter(k), rows)) for k in range(len(Rating._fields))]
    item_col, rater_col, score_col, line_col = columns[0], columns[1], columns[2], columns[7]
    items = list(dict.fromkeys(item_col))
    raters = list(dict.fromkeys(rater_col))
    where = f" (criterion {criterion!r})" if criterion else ""
    if len(raters) < 2:
        raise InputError(
            f"only one rater ({raters[0]!r}){where}: agreement needs two or more raters",
            file=file,
            field="rater_id",
        )
    item_ix = {v: i for i, v in enumerate(items)}
    rater_ix = {v: j for j, v in enumerate(raters)}
    n = len(rows)
    ii = np.fromiter(map(item_ix.__getitem__, item_col), dtype=np.int64, count=n)
    jj = np.fromiter(map(rater_ix.__getitem__, rater_col), dtype=np.int64, count=n)
    lines = np.fromiter(line_col, dtype=np.int64, count=n)
    values = _coded_scores(score_col, line_col, coder)
    keep, duplicates = _first_ratings(ii * len(raters) + jj, values, rows, lines, where, file)
    data = np.full((len(items), len(raters)), np.nan)
    line_of = np.zeros(data.shape, dtype=np.int64 if n and lines.max() >= 2**31 else np.int32)
    data[ii[keep], jj[keep]] = values[keep]
    line_of[ii[keep], jj[keep]] = lines[keep]
    gold = np.full(len(items), np.nan)
    gold_line = np.zeros(len(items), dtype=np.int64)
    shown = np.full(data.shape, -1, dtype=np.int8)  # -1 unknown, 0 A first, 1 B first
    if all(col.count(None) == n for col in columns[4:7]):  # no gold, timestamp or order: counted in C
        extra: list[int] = []
    else:
        extra = [k for k, (g, t, o) in enumerate(zip(columns[4], columns[5], columns[6], strict=True))
                 if g is not None or t is not None or o is not None]
    if any(columns[5][k] is not None for k in extra):
        stamps: list[list[str | None]] = [[None] * len(raters) for _ in items]
    else:  # no timestamps: one shared row of None, read only
        stamps = [[None] * len(raters)] * len(items)
    for k in (k for k in extra if keep[k]):  # only rows that carry a gold value, a timestamp or an order
        r = rows[k]
        i, j = ii[k], jj[k]
        stamps[i][j] = r.timestamp
        shown[i, j] = _shown_first(r.shown_order, file=file, line=r.line)
        if r.gold is not None:
            g = coder.code(r.gold, line=r.line, field="gold")
            if not np.isnan(gold[i]) and gold[i] != g:
                raise InputError(
                    f"item {r.item_id!r}{where} has two different gold values (also on line {gold_line[i]})",
                    file=file,
                    line=r.line or None,
                    field="gold",
                )
            gold[i], gold_line[i] = g, r.line
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
