"""The ``human`` scorer: the consensus of imported human ratings for an item and criterion.

Ratings are long-form rating records (:mod:`harness.records`: ``item_id, rater_id, score`` plus
optional ``criterion``) in the file a suite names under ``human_ratings``. Consensus: the majority
for binary criteria (a tie is unscored), the median level for level scales, the mean for
continuous ones. The ratings are of whatever output the raters saw; evaluate that output (e.g.
with ``outputs:<file>``) when the human scores are compared with a judge.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import InputError
from harness.eval.items import Item
from harness.eval.rubric import Scale
from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, scorer


class HumanOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    criterion: str | None = Field(
        default=None, description="the ratings' criterion name (default: this criterion's id)"
    )
    aggregate: Literal["auto", "majority", "median", "mean"] = "auto"
    min_raters: int = Field(default=1, ge=1)


def consensus(values: list[float], scale: Scale, aggregate: str = "auto") -> tuple[float | None, str]:
    """The consensus rating on the scale's own units (None with a reason when there is none).

    >>> from harness.eval.rubric import Scale
    >>> consensus([1, 1, 0], Scale(type="binary"))
    (1.0, 'majority 2/3')
    """
    return scale.consensus(values, aggregate)


@scorer("human")
class Human(BaseScorer[HumanOptions]):
    """The consensus of the suite's human ratings for the item (the output is not looked at)."""

    Options = HumanOptions

    def __init__(self, options: HumanOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        if ctx.human_ratings is None:
            raise InputError(
                f"criterion {ctx.criterion.id!r} uses the human scorer, but the suite names no human_ratings file",
                field="human_ratings",
            )
        self.ratings = ctx.human_ratings

    def describe(self) -> dict[str, object]:
        """The ratings file and its hash."""
        return {"human_ratings": str(self.ratings.path), "human_ratings_hash": self.ratings.content_hash}

    def score(self, output: str, item: Item | None) -> RawScore:
        """Look up and combine the ratings."""
        assert item is not None
        crit = self.ctx.criterion
        name = self.options.criterion or crit.id
        values = self.ratings.scores(item.id, name)
        if len(values) < self.options.min_raters:
            return RawScore(None, f"{len(values)} rating(s) for item {item.id!r}, criterion {name!r}")
        if crit.scale.binary and any(v not in (0.0, 1.0) for v in values):
            return RawScore(None, f"binary criterion {name!r} needs ratings 0/1 (yes/no), got {values}")
        value, how = consensus(values, crit.scale, self.options.aggregate)
        if value is None:
            return RawScore(None, how)
        scale = crit.scale
        if scale.type == "levels":
            lo, hi = scale.levels[0].value, scale.levels[-1].value
            if not lo <= value <= hi:
                return RawScore(None, f"consensus {value:g} is outside the levels {lo:g}..{hi:g}")
            frac = scale.level_fraction(value)
            return RawScore(frac, f"{how}: {value:g}", scale.nearest_level(frac).name)
        if not 0.0 <= value <= 1.0:
            return RawScore(None, f"consensus {value:g} is outside [0, 1] for a {scale.type} criterion")
        return RawScore(value, f"{how}: {value:g}")
