"""The paired statistics a comparison produces (parts of ``harness.comparison/v1``): pydantic models.

The verdict-bearing parts of the document (rules, the comparison, the gate result) are
:mod:`harness.gate.verdict`'s.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.eval.run import ModelIdentity, RunManifest

__all__ = ["Change", "CriterionStats", "Excluded", "LeakageInfo", "Side"]


class Excluded(BaseModel):
    """An item left out of the comparison, and why."""

    suite: str | None = None
    id: str
    reason: Literal["only_in_base", "only_in_candidate", "prompt_differs", "leaked"]
    detail: str = ""


class CriterionStats(BaseModel):
    """Base vs candidate on one criterion over the paired items both runs scored."""

    criterion: str
    binary: bool = Field(description="scores are 0/1 in both runs (McNemar applies)")
    judge: bool = False
    n: int = Field(description="paired items scored in both runs")
    n_unscored: int = Field(description="paired items unscored in either run")
    base_mean: float | None
    candidate_mean: float | None
    base_ci: list[float] | None
    candidate_ci: list[float] | None
    delta: float | None = Field(description="mean of candidate − base")
    ci: list[float] | None = Field(description="paired bootstrap interval of delta")
    confidence: float
    p_value: float | None = Field(description="two-sided p-value of delta = 0")
    p_method: str | None = None
    mcnemar: dict[str, Any] | None = None
    counts: dict[str, int]
    degenerate: bool = Field(default=False, description="all paired differences are equal")
    reason: str | None = None


class Change(BaseModel):
    """A paired item that some criterion fixed or broke, with both outputs."""

    id: str
    prompt: str
    reference: Any = None
    base_output: str
    candidate_output: str
    fixed: list[str] = Field(default_factory=list)
    broken: list[str] = Field(default_factory=list)
    base_scores: dict[str, float | None] = Field(default_factory=dict)
    candidate_scores: dict[str, float | None] = Field(default_factory=dict)
    leaked: bool = False


class LeakageInfo(BaseModel):
    """What the leakage check of the candidate's training data found in this suite."""

    checked: bool = False
    train_data: list[str] = Field(default_factory=list)
    leaked_ids: list[str] = Field(default_factory=list)
    findings: list[dict[str, Any]] = Field(default_factory=list)
    allowed: bool = False
    note: str | None = None


class Side(BaseModel):
    """One side of the comparison: the run's model and manifest."""

    model: ModelIdentity
    manifest: RunManifest
    n_items: int
    path: str | None = None
