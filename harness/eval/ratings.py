"""The human ratings a suite imports (``human_ratings``): read by the ``human`` scorer and judge calibration.

Ratings are the long form (``item_id, rater_id, score`` plus optional ``criterion``).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from harness.errors import InputError
from harness.records import RatingRecord, RowProblem, iter_records, rating_number

__all__ = ["HumanRatings"]


class HumanRatings:
    """Long-form ratings grouped by item and criterion.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
        >>> _ = p.write_text("item_id,rater_id,score\\na,r1,4\\na,r2,5\\n")
        >>> HumanRatings(p).scores("a", "helpful")
        [4.0, 5.0]
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._by: dict[tuple[str, str | None], list[str | float]] = defaultdict(list)
        self.criteria: set[str] = set()
        for rec in iter_records(self.path, kind="rating"):
            if isinstance(rec, RowProblem):
                raise InputError(rec.message, file=self.path, line=rec.line, field=rec.field)
            assert isinstance(rec, RatingRecord)
            self._by[(rec.item_id, rec.criterion)].append(rec.score)
            if rec.criterion is not None:
                self.criteria.add(rec.criterion)
        h = hashlib.blake2b(digest_size=16)
        h.update(self.path.read_bytes())
        self.content_hash = h.hexdigest()

    def raw(self, item_id: str, criterion: str) -> list[str | float]:
        """The raw scores for an item under a criterion (rows without a criterion apply to all)."""
        return self._by.get((item_id, criterion), []) + self._by.get((item_id, None), [])

    def scores(self, item_id: str, criterion: str) -> list[float]:
        """The numeric scores for an item and criterion (yes/no, pass/fail read as 1/0)."""
        out = []
        for s in self.raw(item_id, criterion):
            out.append(rating_number(s, file=self.path))
        return out
