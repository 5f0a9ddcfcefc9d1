"""The data a comparison produces (``harness.comparison/v1``): pydantic models, JSON-ready.

:class:`ComparisonDocument` is the document itself (also listed in :mod:`harness.documents`);
:class:`GateResult` is what ``compare``/``gate`` return and turn into it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from harness.compare.calibration import Calibration
from harness.compare.repeats import VarianceSplit
from harness.documents.base import Record
from harness.documents.run import ModelIdentity, RunManifest
from harness.gate.policy import Policy
from harness.provenance import Provenance

__all__ = [
    "COMPARISON_SCHEMA",
    "EXIT_CODES",
    "Change",
    "Comparison",
    "ComparisonDocument",
    "CriterionStats",
    "Excluded",
    "GateManifest",
    "GateResult",
    "LeakageInfo",
    "RuleResult",
    "Side",
    "Statistic",
    "Verdict",
    "combine_verdicts",
]

COMPARISON_SCHEMA = "harness.comparison/v1"
Verdict = Literal["pass", "fail", "inconclusive"]
Statistic = Literal["mean_difference", "candidate_mean", "new_failures", "leaked_items"]
EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "inconclusive": 3}


def combine_verdicts(verdicts: Sequence[str]) -> Verdict:
    """Fail if any fails, else inconclusive if any is, else pass; no verdicts at all is inconclusive.

    >>> combine_verdicts(["pass", "inconclusive", "pass"])
    'inconclusive'
    """
    if not verdicts:
        return "inconclusive"
    if "fail" in verdicts:
        return "fail"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "pass"


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


class RuleResult(BaseModel):
    """One rule of the gate, its statistic and verdict."""

    suite: str | None = None
    criterion: str
    require: str
    label: str
    margin: float | None = None
    value: float | None = None
    max: int | None = None
    statistic: Statistic
    estimate: float | None
    delta: float | None
    ci: list[float] | None = Field(description="interval of the rule's statistic at `confidence`")
    delta_ci: list[float] | None = None
    confidence: float
    n: int
    p_value: float | None = Field(description="two-sided p-value at the rule's boundary")
    p_method: str | None = None
    p_value_holm: float | None = Field(default=None, description="Holm-adjusted across the gate's counted tests")
    counts: dict[str, int]
    counted: bool = Field(description="False when an uncalibrated judge makes the rule not count")
    calibration: dict[str, Any] | None = None
    verdict: Verdict
    reason: str


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


class Comparison(BaseModel):
    """Base vs candidate on one suite under one policy."""

    suite: str
    suite_info: dict[str, Any] = Field(default_factory=dict)
    base: Side
    candidate: Side
    policy: Policy
    n_paired: int
    criteria: dict[str, CriterionStats]
    rules: list[RuleResult]
    verdict: Verdict
    excluded: list[Excluded]
    changes: list[Change]
    calibration: dict[str, Calibration] = Field(default_factory=dict)
    repeats: dict[str, dict[str, VarianceSplit]] = Field(
        default_factory=dict, description="per side ('base', 'candidate'), per criterion"
    )
    leakage: LeakageInfo = Field(default_factory=LeakageInfo)
    with_leaked: dict[str, Any] | None = Field(
        default=None, description="criteria and rules computed with the leaked items kept in"
    )
    notes: list[str] = Field(default_factory=list)


class GateManifest(Record, Provenance):
    """How the comparison was made: provenance (git, versions, platform), command line, inputs.

    Comparisons written before provenance had one shape recorded ``harness``, ``python``,
    ``numpy`` and ``scipy`` versions as top-level keys; they load into ``versions``.
    """

    command: list[str] | None = None
    created: str | None = None
    base: str | None = Field(default=None, description="gate: the base model spec")
    candidate: str | None = Field(default=None, description="gate: the candidate model spec")
    suites: list[str] | None = None
    train_data: list[str] | None = None
    allow_leakage: bool | None = None
    repeats: int | None = None
    limit: int | None = None
    cache: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _old_version_keys(cls, data: Any) -> Any:
        old = ("harness", "python", "numpy", "scipy")
        if not isinstance(data, dict) or "versions" in data or not any(k in data for k in old):
            return data
        data = dict(data)
        data["versions"] = {k: data.pop(k) for k in old if k in data}
        return data


class GateResult(BaseModel):
    """The whole gate: one comparison per suite, one verdict (the ``harness.comparison/v1`` document)."""

    verdict: Verdict
    comparisons: list[Comparison]
    manifest: GateManifest = Field(default_factory=GateManifest)

    @property
    def exit_code(self) -> int:
        """0 pass · 1 fail · 3 inconclusive."""
        return EXIT_CODES[self.verdict]

    @property
    def rules(self) -> list[RuleResult]:
        """Every rule of every suite."""
        return [r for c in self.comparisons for r in c.rules]

    @property
    def excluded(self) -> list[Excluded]:
        """Every excluded item of every suite."""
        return [e for c in self.comparisons for e in c.excluded]

    def to_document(self) -> dict[str, Any]:
        """The ``harness.comparison/v1`` JSON document (``schema`` first)."""
        doc = ComparisonDocument(
            verdict=self.verdict,
            exit_code=self.exit_code,
            rules=self.rules,
            excluded=self.excluded,
            comparisons=self.comparisons,
            manifest=self.manifest,
        )
        return doc.model_dump(mode="json", by_alias=True)


class ComparisonDocument(BaseModel):
    """The ``harness.comparison/v1`` document: the verdict, every rule, every excluded item, each suite's comparison."""

    schema_: Literal["harness.comparison/v1"] = Field(default="harness.comparison/v1", alias="schema")
    verdict: Verdict
    exit_code: int = Field(description="0 pass · 1 fail · 3 inconclusive")
    rules: list[RuleResult] = Field(description="every rule of every suite")
    excluded: list[Excluded] = Field(description="every item left out of the comparison, and why")
    comparisons: list[Comparison]
    manifest: GateManifest

    model_config = {"populate_by_name": True}

    def result(self) -> GateResult:
        """The :class:`GateResult` this document was written from."""
        return GateResult(verdict=self.verdict, comparisons=self.comparisons, manifest=self.manifest)
