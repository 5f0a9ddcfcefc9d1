"""Results per slice: the items that share a value of a field (``category``, ``language``, a tag).

A field with a scalar value puts an item in one slice; a list of values (tags) puts it in the slice
of each; an item without the field (or with ``null``, or an empty list) is in the slice
``(missing)``, which is reported with its size like any other. Per slice and criterion the
comparison gives base and candidate means with intervals, Δ with its paired bootstrap interval,
n and the fixed and broken items; a slice of fewer than 2 items has no interval and is marked
(``too_small``), never dropped.

A field with a different value for every item cannot slice (every slice has one item): that is an
:class:`~harness.errors.InputError` suggesting the fields that do group items.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from harness.compare.models import CriterionStats
from harness.errors import InputError, did_you_mean
from harness.eval.run import ItemResult
from harness.slicing import MISSING, item_slices

__all__ = [
    "MISSING",
    "SliceAnalysis",
    "SliceStats",
    "SliceTable",
    "item_fields",
    "item_slices",
    "positions",
    "slice_groups",
]

class SliceStats(CriterionStats):
    """One slice's statistics (those of a criterion, over the slice's paired items)."""

    value: str = Field(description="the field's value shared by the slice's items, or '(missing)'")
    too_small: bool = Field(default=False, description="fewer than 2 paired items: no interval")


class SliceTable(BaseModel):
    """One criterion by one field: a row per slice."""

    field: str
    criterion: str
    n_missing: int = Field(description="paired items without the field (the '(missing)' slice)")
    slices: list[SliceStats]


def item_fields(pair: tuple[ItemResult, ItemResult]) -> dict[str, Any]:
    """A paired item's fields (the base run's, completed by the candidate's)."""
    base, cand = pair
    return {**cand.fields, **base.fields}


def _field_counts(items: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Per field any item has: how many distinct values it takes."""
    seen: dict[str, set[str]] = {}
    for fields in items:
        for key in fields:
            seen.setdefault(key, set()).update(item_slices(fields, key))
    return {k: len(v) for k, v in seen.items()}


ID_LIKE_MIN = 20


def slice_groups(items: Sequence[Mapping[str, Any]], field: str, *, where: str = "by") -> dict[str, list[int]]:
    """Positions of ``items`` (each item's fields) in each slice of ``field``, in order of first appearance.

    Raises:
        InputError: no item has the field, or every item is a slice of its own (a value per item).
    """
    groups: dict[str, list[int]] = {}
    for k, fields in enumerate(items):
        for value in item_slices(fields, field):
            groups.setdefault(value, []).append(k)
    counts = _field_counts(items)
    if field not in counts:
        known = sorted(counts)
        raise InputError(
            f"no item has the field {field!r}; the items' fields are {known}.{did_you_mean(field, known)}", field=where
        )
    # With few items (a --limit run, a small suite) every slice may hold one item by chance: those
    # slices are marked too small. Only among ID_LIKE_MIN items or more is a value per item taken
    # for an id-like field.
    if len(items) >= ID_LIKE_MIN and all(len(v) == 1 for v in groups.values()):
        better = sorted(k for k, c in counts.items() if 1 < c < len(items))
        hint = f"; slice by a field that groups items, e.g. {better}" if better else ""
        raise InputError(
            f"slicing by {field!r} gives {len(groups)} slices of one item each (a value per item): no slice could "
            f"have an interval{hint}",
            field=where,
        )
    return groups


@dataclass
class SliceAnalysis:
    """One criterion by one field: the measured slices (each a :class:`~harness.compare.paired.PairedCriterion`)."""

    field: str
    criterion: str
    n_missing: int
    slices: dict[str, Any]

    def table(self) -> SliceTable:
        """The JSON-ready table."""
        rows = [
            SliceStats(**pc.stats.model_dump(), value=value, too_small=pc.stats.n < 2)
            for value, pc in self.slices.items()
        ]
        return SliceTable(field=self.field, criterion=self.criterion, n_missing=self.n_missing, slices=rows)


def positions(keep: Collection[int], members: Collection[int]) -> np.ndarray:
    """Indices into a criterion's value arrays (``keep`` lists the pair of each) of the pairs in ``members``."""
    wanted = set(members)
    return np.array([j for j, k in enumerate(keep) if k in wanted], dtype=int)
