"""Slices: the items (or training examples) that share a value of a field.

The one definition of which slice a row belongs to, used by ``harness validate`` (group balance of
training data) and by comparisons (results per slice), so both count the same groups.

A scalar value puts a row in one slice; a list of values (tags) in the slice of each; a row
without the field, with ``null`` or with an empty list is in the slice ``(missing)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MISSING", "item_slices"]

MISSING = "(missing)"


def item_slices(fields: Mapping[str, Any], field: str) -> list[str]:
    """The slices a row belongs to by ``field`` (``(missing)`` when it has no value).

    >>> item_slices({"tags": ["en", "vip", "en"]}, "tags"), item_slices({"lang": True}, "lang"), item_slices({}, "x")
    (['en', 'vip'], ['true'], ['(missing)'])
    """
    value = fields.get(field)
    values = value if isinstance(value, list) else [value]
    out: list[str] = []
    for v in values:
        if v is None or isinstance(v, dict | list):
            continue
        text = ("true" if v else "false") if isinstance(v, bool) else str(v)
        if text not in out:
            out.append(text)
    return out or [MISSING]
