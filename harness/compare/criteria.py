"""What a comparison needs to know about each criterion, read from the runs alone.

A run records its rubric (``Run.suite["rubric"]``: criteria with ``scale``, ``scorer``, ``weight``,
``calibration_floor``); when it does not, the run's summary and scores say what they can.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from harness.eval.run import Run

__all__ = ["DEFAULT_CALIBRATION_FLOOR", "OVERALL", "CriterionInfo", "criteria_info"]

OVERALL = "overall"
DEFAULT_CALIBRATION_FLOOR = 0.667
# Model-graded scorers whose rules count in a gate only once human ratings calibrate them.
CALIBRATED_SCORERS = ("judge", "reward")


class CriterionInfo(BaseModel):
    """A criterion's scale, scorer type, weight and (for judges) calibration floor."""

    id: str
    scale: str = "continuous"  # binary | levels | continuous
    levels: list[dict[str, Any]] = []
    scorer: str | None = None
    weight: float = 1.0
    calibration_floor: float | None = None

    @property
    def judge(self) -> bool:
        """Whether a model grades this criterion."""
        return self.scorer in CALIBRATED_SCORERS

    @property
    def binary(self) -> bool:
        """Whether the rubric declares the criterion binary."""
        return self.scale == "binary"


def _scale_of(raw: Any) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(raw, str):
        return raw, []
    if isinstance(raw, dict):
        levels = raw.get("levels") or []
        if isinstance(levels, dict):
            levels = [{"value": k, "anchor": v} for k, v in levels.items()]
        kind = raw.get("type") or ("levels" if levels else "continuous")
        return str(kind), [lv for lv in levels if isinstance(lv, dict)]
    return "continuous", []


def criteria_info(run: Run) -> dict[str, CriterionInfo]:
    """Criterion facts from a run's recorded rubric, falling back on its summary and scores.

    Example:
        >>> from harness.eval.run import Run
        >>> run = Run(suite={"name": "s", "rubric": {"criteria": [
        ...     {"id": "ok", "scale": {"type": "binary"}, "scorer": {"type": "exact"}, "weight": 1}]}},
        ...     model={}, manifest={}, items=[], summary={})
        >>> criteria_info(run)["ok"].binary
        True
    """
    out: dict[str, CriterionInfo] = {}
    rubric = run.suite.get("rubric")
    criteria = rubric.get("criteria") if isinstance(rubric, dict) else None
    for c in criteria or []:
        if not isinstance(c, dict) or "id" not in c:
            continue
        scale, levels = _scale_of(c.get("scale", "continuous"))
        scorer = c.get("scorer")
        stype = scorer.get("type") if isinstance(scorer, dict) else (scorer if isinstance(scorer, str) else None)
        floor = c.get("calibration_floor")
        if stype in CALIBRATED_SCORERS and floor is None:
            floor = DEFAULT_CALIBRATION_FLOOR
        out[str(c["id"])] = CriterionInfo(
            id=str(c["id"]),
            scale=scale,
            levels=levels,
            scorer=stype,
            weight=float(c.get("weight", 1.0)),
            calibration_floor=floor,
        )
    # Criteria the rubric does not describe: what the summary and the scores say.
    for name, summary in run.summary.items():
        if name not in out and name != OVERALL:
            out[name] = CriterionInfo(id=name, scale="binary" if summary.binary else "continuous")
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
                if stype in CALIBRATED_SCORERS and info.calibration_floor is None:
                    info.calibration_floor = DEFAULT_CALIBRATION_FLOOR
    return out
