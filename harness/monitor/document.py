"""The ``harness.monitor/v1`` document: windows, drift tests, quality per window, the verdict."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "MONITOR_SCHEMA",
    "DriftExample",
    "MonitorCriterion",
    "MonitorReport",
    "QualityStat",
    "ShiftTest",
    "WindowReport",
]

MONITOR_SCHEMA: Literal["harness.monitor/v1"] = "harness.monitor/v1"
Status = Literal["reference", "ok", "drift", "degraded", "inconclusive"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _nan_is_none(cls, value: Any) -> Any:
        # No data is not a number: an undefined statistic (e.g. an odds ratio of 0/0) is null in JSON.
        return None if isinstance(value, float) and not math.isfinite(value) else value


class ShiftTest(_Model):
    """One two-sample test of a window against the reference."""

    test: str = Field(description="mmd, length, script, pii, near_training")
    statistic: float | None
    statistic_name: str
    p_value: float | None
    p_adjusted: float | None = Field(default=None, description="Holm-adjusted across the windows of this test")
    effect: float | None
    effect_name: str
    reference: float | None = Field(default=None, description="the reference's value of the summary (mean, rate)")
    window: float | None = Field(default=None, description="the window's value of the summary")
    n_reference: int
    n_window: int
    reason: str | None = None


class QualityStat(_Model):
    """A reference-free quality criterion in one window, tested one-sided against the reference window."""

    criterion: str
    direction: Literal["higher_better", "lower_better"]
    value: float | None
    ci: list[float] | None
    n: int
    reference: float | None
    p_value: float | None = None
    p_adjusted: float | None = None
    degraded: bool = False
    reason: str | None = None
    effect: float | None = Field(default=None, description="window minus reference: rate difference or rank-biserial r")
    effect_name: str | None = None
    counted: bool = Field(
        default=True, description="false: a model-graded criterion not calibrated against people (not tested, no Holm)"
    )
    z: float | None = Field(default=None, description="standardised departure from the reference, positive = worse")
    cusum: float | None = Field(default=None, description="CUSUM statistic after this window (with --cusum-arl)")
    cusum_signal: bool = False


class MonitorCriterion(_Model):
    """A quality criterion of the run: where it came from, whether it counts, or why it was skipped."""

    id: str
    source: Literal["builtin", "rubric"]
    scorer: str | None = Field(default=None, description="the rubric criterion's scorer type")
    kind: Literal["rate", "mean"] | None = None
    status: Literal["counted", "not_counted", "skipped"]
    reason: str | None = None
    n_scored: int = 0
    n_unscored: int = Field(default=0, description="outputs the scorer could not score (left out, listed here)")
    calibration: dict[str, Any] | None = Field(
        default=None, description="judge/reward criteria: agreement with human ratings against the floor"
    )


class DriftExample(_Model):
    """A window prompt far from every reference prompt, beside the nearest reference prompt."""

    prompt: str
    file: str
    line: int
    similarity: float
    nearest_reference: str


class WindowReport(_Model):
    """Everything measured in one window."""

    index: int
    label: str
    start: str | None
    end: str | None
    n: int
    status: Status
    reasons: list[str] = Field(default_factory=list)
    drift: list[ShiftTest] = Field(default_factory=list)
    quality: list[QualityStat] = Field(default_factory=list)
    new_ngrams: list[tuple[str, int]] = Field(default_factory=list)
    examples: list[DriftExample] = Field(default_factory=list)


class MonitorReport(_Model):
    """``harness.monitor/v1``."""

    schema_: Literal["harness.monitor/v1"] = Field(default=MONITOR_SCHEMA, alias="schema")
    verdict: Literal["ok", "drift", "degraded", "inconclusive"]
    exit_code: int
    logs: list[str]
    reference: dict[str, Any] = Field(description="where the drift reference came from and its size")
    window: str
    settings: dict[str, Any]
    multiplicity: str
    windows: list[WindowReport]
    criteria: list[MonitorCriterion] = Field(default_factory=list, description="every quality criterion and its status")
    rubric: dict[str, Any] | None = Field(default=None, description="the rubric scored (name, path, hash), if any")

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_document(self) -> dict[str, Any]:
        """The JSON document (``schema`` first)."""
        return self.model_dump(mode="json", by_alias=True)
