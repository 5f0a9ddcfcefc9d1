"""The verdict: rules' results, one suite's comparison, the whole gate (``harness.comparison/v1``).

A comparison's paired statistics come from :mod:`harness.compare`; the rules that judge them
(:mod:`harness.gate.rules`) give each a verdict, and :func:`combine_verdicts` turns many verdicts
into one: fail if any fails, else inconclusive if any is, else pass. :data:`EXIT_CODES` maps the
verdict to the process's exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.compare.calibration import Calibration
from harness.compare.models import Change, CriterionStats, Excluded, LeakageInfo, Side
from harness.compare.repeats import VarianceSplit
from harness.gate.policy import Policy, Verdict

__all__ = [
    "COMPARISON_SCHEMA",
    "EXIT_CODES",
    "Comparison",
    "GateResult",
    "RuleResult",
    "Statistic",
    "Verdict",
    "combine_verdicts",
    "gate_result",
]

COMPARISON_SCHEMA = "harness.comparison/v1"
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


class GateResult(BaseModel):
    """The whole gate: one comparison per suite, one verdict (the ``harness.comparison/v1`` document)."""

    verdict: Verdict
    comparisons: list[Comparison]
    manifest: dict[str, Any] = Field(default_factory=dict)

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
        return {
            "schema": COMPARISON_SCHEMA,
            "verdict": self.verdict,
            "exit_code": self.exit_code,
            "rules": [r.model_dump(mode="json") for r in self.rules],
            "excluded": [e.model_dump(mode="json") for e in self.excluded],
            "comparisons": [c.model_dump(mode="json") for c in self.comparisons],
            "manifest": self.manifest,
        }


def gate_result(comparisons: list[Comparison], *, manifest: dict[str, Any] | None = None) -> GateResult:
    """Combine per-suite comparisons into one gate verdict (fail > inconclusive > pass)."""
    verdict = combine_verdicts([c.verdict for c in comparisons])
    return GateResult(verdict=verdict, comparisons=comparisons, manifest=manifest or {})
