"""What a comparison needs to know about each criterion, read from the runs alone.

A run records its rubric (``Run.suite.rubric``: typed criteria with ``scale``, ``scorer``,
``weight`` and ``calibration_floor``); when it does not, the run's summary and scores say what
they can.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from harness.eval.rubric import DEFAULT_CALIBRATION_FLOOR, OVERALL, Criterion, Scale
from harness.eval.run import Run

__all__ = ["DEFAULT_CALIBRATION_FLOOR", "OVERALL", "CriterionInfo", "criteria_info"]


class CriterionInfo(BaseModel):
    """A criterion's scale, scorer type, weight and (for judges) calibration floor."""

    id: str
    scale: Scale = Field(default_factory=lambda: Scale(type="continuous"))
    scorer: str | None = None
    weight: float = 1.0
    calibration_floor: float | None = None

    @classmethod
    def of(cls, criterion: Criterion) -> CriterionInfo:
        """The facts of a rubric's criterion."""
        return cls(
            id=criterion.id,
            scale=criterion.scale,
            scorer=criterion.scorer.type,
            weight=criterion.weight,
            calibration_floor=criterion.calibration_floor,
        )

    @property
    def judge(self) -> bool:
        """Whether a model grades this criterion."""
        return self.scorer == "judge"

    @property
    def binary(self) -> bool:
        """Whether the rubric declares the criterion binary."""
        return self.scale.binary

    @property
    def floor(self) -> float:
        """The calibration floor (the default one when the criterion has none)."""
        return DEFAULT_CALIBRATION_FLOOR if self.calibration_floor is None else self.calibration_floor


def criteria_info(run: Run) -> dict[str, CriterionInfo]:
    """Criterion facts from a run's recorded rubric, falling back on its summary and scores.

    Example:
        >>> from harness.eval.run import Run
        >>> run = Run(suite={"name": "s", "rubric": {"name": "r", "criteria": [
        ...     {"id": "ok", "scale": "binary", "scorer": {"type": "exact"}}]}},
        ...     model={}, manifest={}, items=[], summary={})
        >>> criteria_info(run)["ok"].binary
        True
    """
    rubric = run.suite.rubric
    out = {c.id: CriterionInfo.of(c) for c in rubric.criteria} if rubric is not None else {}
    # Criteria the rubric does not describe: what the summary and the scores say.
    for name, summary in run.summary.items():
        if name not in out and name != OVERALL:
            out[name] = CriterionInfo(id=name, scale=Scale(type="binary" if summary.binary else "continuous"))
    for item in run.items:
        for name, score in item.scores.items():
            if name == OVERALL:
                continue
            info = out.get(name)
            stype = (score.scorer.get("type") or score.scorer.get("name")) if score.scorer else None
            if info is None:
                info = out[name] = CriterionInfo(id=name)
            if info.scorer is None and isinstance(stype, str):
                info.scorer = stype
                if stype == "judge" and info.calibration_floor is None:
                    info.calibration_floor = DEFAULT_CALIBRATION_FLOOR
    return out
