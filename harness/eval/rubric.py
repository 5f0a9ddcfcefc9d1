"""Rubrics: the criteria a suite's outputs are scored on.

A rubric is YAML with ``name`` and ``criteria``; each criterion has an ``id``, a ``description``,
a ``weight`` (into ``overall``), a ``scale`` and a ``scorer`` (``type`` + options)::

    name: tickets
    criteria:
      - id: json_ok
        description: The reply is one JSON object.
        scale: binary                      # value 1 when the scorer's value >= threshold (1.0)
        scorer: {type: json_valid}
      - id: helpful
        description: How helpful the reply is.
        weight: 2
        scale:
          levels:                          # mapped to [0, 1]: (value - min) / (max - min)
            - {value: 1, anchor: Ignores the request.}
            - {value: 3, anchor: Partly answers it.}
            - {value: 5, anchor: Answers it fully.}
        scorer: {type: judge, model: smollm2-135m}
        calibration_floor: 0.667           # judge criteria: minimum Krippendorff alpha vs humans

Scales: ``binary`` (optionally ``{type: binary, threshold: t}``), ``continuous`` (the scorer's
value in [0, 1] as is) and ``levels`` (a list of ``{value, anchor, label?}`` or a mapping
``value: anchor``). This module holds the data; :func:`harness.eval.suite.load_rubric` loads a
rubric file and checks every scorer's options against the scorer registry.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from harness.documents.agreement import DEFAULT_MIN_ALPHA

OVERALL = "overall"
DEFAULT_CALIBRATION_FLOOR = DEFAULT_MIN_ALPHA


class Level(BaseModel):
    """One level of a levels scale."""

    model_config = ConfigDict(extra="forbid")
    value: float
    anchor: str = Field(min_length=1, description="what an output at this level looks like")
    label: str | None = None

    @property
    def name(self) -> str:
        """The label, else the value written without a trailing ``.0``."""
        if self.label:
            return self.label
        return str(int(self.value)) if float(self.value).is_integer() else str(self.value)


class Scale(BaseModel):
    """How a criterion's scores read: binary, continuous in [0, 1], or levels with anchors."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["binary", "continuous", "levels"]
    threshold: float = Field(default=1.0, ge=0.0, le=1.0, description="binary: pass when the value >= this")
    levels: list[Level] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"type": data}
        if isinstance(data, dict) and "type" not in data and "levels" in data:
            data = {**data, "type": "levels"}
        if isinstance(data, dict) and isinstance(data.get("levels"), dict):
            data = {**data, "levels": [{"value": k, "anchor": v} for k, v in data["levels"].items()]}
        return data

    @model_validator(mode="after")
    def _check(self) -> Scale:
        if self.type == "levels":
            if len(self.levels) < 2:
                raise ValueError("a levels scale needs at least two levels")
            values = [lv.value for lv in self.levels]
            if len(set(values)) != len(values):
                raise ValueError("level values must be distinct")
            names = [lv.name for lv in self.levels]
            if len(set(names)) != len(names):
                raise ValueError("level labels must be distinct")
            self.levels = sorted(self.levels, key=lambda lv: lv.value)
        elif self.levels:
            raise ValueError(f"'levels' is only for a levels scale, not {self.type}")
        return self

    @property
    def binary(self) -> bool:
        """Whether the scale is binary."""
        return self.type == "binary"

    def level_fraction(self, value: float) -> float:
        """Map a level value to [0, 1]: ``(value - min) / (max - min)``.

        >>> Scale.model_validate({"levels": {1: "bad", 5: "good"}}).level_fraction(4)
        0.75
        """
        lo, hi = self.levels[0].value, self.levels[-1].value
        return (value - lo) / (hi - lo)

    def nearest_level(self, fraction: float) -> Level:
        """The level whose mapped value is closest to ``fraction``."""
        return min(self.levels, key=lambda lv: abs(self.level_fraction(lv.value) - fraction))

    def consensus(self, values: list[float], aggregate: str = "auto") -> tuple[float | None, str]:
        """The consensus of several ratings on the scale's own units (None with a reason when there is none).

        The majority for binary scales (a tie is no consensus), the median for levels, the mean
        for continuous scores; ``aggregate`` forces ``majority``, ``median`` or ``mean``. The
        ``human`` scorer and judge calibration both use it.

        >>> Scale(type="binary").consensus([1, 1, 0])
        (1.0, 'majority 2/3')
        """
        how = aggregate if aggregate != "auto" else {"binary": "majority", "levels": "median"}.get(self.type, "mean")
        if how == "majority":
            pos = sum(v >= 0.5 for v in values)
            if pos * 2 == len(values):
                return None, f"raters tied {pos}/{len(values)}"
            return (1.0 if pos * 2 > len(values) else 0.0), f"majority {max(pos, len(values) - pos)}/{len(values)}"
        if how == "median":
            return float(statistics.median(values)), f"median of {len(values)}"
        return float(statistics.fmean(values)), f"mean of {len(values)}"


class ScorerSpec(BaseModel):
    """A scorer's registered name (``type``) and its options (the other keys)."""

    model_config = ConfigDict(extra="allow")
    type: str

    @property
    def options(self) -> dict[str, Any]:
        """The options, without ``type``."""
        return dict(self.model_extra or {})


class Criterion(BaseModel):
    """One thing outputs are scored on."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    weight: float = Field(default=1.0, ge=0.0, description="weight in 'overall'; 0 leaves it out")
    scale: Scale = Field(default_factory=lambda: Scale(type="continuous"))
    scorer: ScorerSpec
    calibration_floor: float | None = Field(
        default=None, ge=-1.0, le=1.0, description="judge criteria: minimum Krippendorff alpha with human consensus"
    )

    @field_validator("id")
    @classmethod
    def _not_overall(cls, v: str) -> str:
        if v == OVERALL:
            raise ValueError("'overall' is reserved for the rubric's weighted score")
        return v

    @model_validator(mode="after")
    def _floor(self) -> Criterion:
        if self.scorer.type == "judge":
            if self.calibration_floor is None:
                self.calibration_floor = DEFAULT_CALIBRATION_FLOOR
        elif self.calibration_floor is not None:
            raise ValueError("calibration_floor is only for criteria with a judge scorer")
        return self


class Rubric(BaseModel):
    """A named list of criteria; ``overall`` is their weighted mean per item."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    criteria: list[Criterion] = Field(min_length=1)
    path: str | None = Field(default=None, description="the file it was loaded from")

    @model_validator(mode="after")
    def _unique(self) -> Rubric:
        seen: set[str] = set()
        for c in self.criteria:
            if c.id in seen:
                raise ValueError(f"criterion id {c.id!r} is used twice")
            seen.add(c.id)
        if not any(c.weight > 0 for c in self.criteria):
            raise ValueError("at least one criterion needs a weight above 0 (for 'overall')")
        return self

    def criterion(self, cid: str) -> Criterion:
        """The criterion with this id."""
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)

    @property
    def ids(self) -> list[str]:
        """Criterion ids in rubric order."""
        return [c.id for c in self.criteria]

    def to_record(self) -> dict[str, Any]:
        """The full rubric as JSON data (what a run records)."""
        return self.model_dump(mode="json")

    def content_hash(self) -> str:
        """BLAKE2b-128 of the rubric's canonical JSON (path excluded)."""
        data = self.model_dump(mode="json", exclude={"path"})
        return hashlib.blake2b(json.dumps(data, sort_keys=True).encode(), digest_size=16).hexdigest()
