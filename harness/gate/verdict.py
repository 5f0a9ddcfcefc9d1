"""The verdict: rules' results, one suite's comparison, the whole gate (``harness.comparison/v1``).

A comparison's paired statistics come from :mod:`harness.compare`; the rules that judge them
(:mod:`harness.gate.rules`) give each a verdict, and :func:`combine_verdicts` turns many verdicts
into one: fail if any fails, else inconclusive if any is, else pass. :data:`EXIT_CODES` maps the
verdict to the process's exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from harness.compare.calibration import Calibration
from harness.compare.models import Change, CriterionStats, Excluded, LeakageInfo, Side
from harness.compare.repeats import VarianceSplit
from harness.compare.slices import SliceTable
from harness.documents.base import Record
from harness.gate.policy import Policy, Verdict
from harness.provenance import Provenance
from harness.stats.paired import holm

__all__ = [
    "COMPARISON_SCHEMA",
    "EXIT_CODES",
    "Comparison",
    "ComparisonDocument",
    "GateManifest",
    "GateResult",
    "RuleResult",
    "SliceTest",
    "Statistic",
    "Verdict",
    "apply_holm",
    "combine_verdicts",
    "gate_result",
]

COMPARISON_SCHEMA = "harness.comparison/v1"
Statistic = Literal["mean_difference", "candidate_mean", "new_failures", "leaked_items", "slice_gap"]
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


class SliceTest(BaseModel):
    """A rule with ``by`` judged in one slice."""

    value: str = Field(description="the slice: the field's value, or '(missing)'")
    n: int
    estimate: float | None
    ci: list[float] | None
    p_value: float | None
    p_method: str | None = None
    p_value_holm: float | None = None
    counts: dict[str, int] = Field(default_factory=dict)
    decision: Verdict = Field(description="the verdict from the interval (or count) alone")
    decision_reason: str
    verdict: Verdict = Field(description="after the multiplicity correction")
    reason: str


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
    by: str | None = Field(default=None, description="the item field the rule is judged by, slice by slice")
    max_gap: float | None = None
    slices: list[SliceTest] = Field(default_factory=list, description="the rule in each slice (rules with `by`)")
    decision: Verdict | None = Field(default=None, description="the verdict before calibration and multiplicity")
    decision_reason: str | None = None


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
    slices: list[SliceTable] = Field(
        default_factory=list, description="per field (the policy's slices and the rules' `by`), per criterion"
    )
    multiplicity: dict[str, Any] | None = Field(default=None, description="how the rules' p-values were adjusted")


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
    multiplicity: dict[str, Any] | None = Field(default=None, description="how the rules' p-values were adjusted")

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
            slices=[{"suite": c.suite, **t.model_dump(mode="json")} for c in self.comparisons for t in c.slices],
            multiplicity=self.multiplicity,
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
    slices: list[dict[str, Any]] = Field(default_factory=list, description="per-slice results of every suite")
    multiplicity: dict[str, Any] | None = None
    comparisons: list[Comparison]
    manifest: GateManifest

    model_config = {"populate_by_name": True}

    def result(self) -> GateResult:
        """The :class:`GateResult` this document was written from."""
        return GateResult(verdict=self.verdict, comparisons=self.comparisons, manifest=self.manifest,
                          multiplicity=self.multiplicity)  # fmt: skip


def _family(rules: list[RuleResult]) -> list[RuleResult | SliceTest]:
    """The counted tests with a p-value: each slice of a rule with ``by``, else the rule itself."""
    out: list[RuleResult | SliceTest] = []
    for r in rules:
        if not r.counted:
            continue
        if r.by and r.require != "max_gap":
            out.extend(t for t in r.slices if t.p_value is not None)
        elif r.p_value is not None:
            out.append(r)
    return out


def _slices_verdict(rule: RuleResult) -> None:
    """A rule with ``by`` holds only where it holds in every slice; it fails where it fails in one."""
    verdict = combine_verdicts([t.verdict for t in rule.slices])
    bad = [t.value for t in rule.slices if t.verdict == verdict] if verdict != "pass" else []
    k = len(rule.slices)
    if verdict == "pass":
        reason = f"holds in all {k} slices by {rule.by}"
    else:
        reason = f"{verdict} in {len(bad)} of {k} slices by {rule.by}: {', '.join(bad)}"
    rule.decision, rule.decision_reason = verdict, reason
    if rule.counted:
        rule.verdict, rule.reason = verdict, reason


def apply_holm(rules: list[RuleResult], *, scope: str) -> dict[str, Any]:
    """Holm's step-down adjustment across every counted test of ``rules`` (all suites of one gate run).

    A test decided by its interval (pass or fail) stays decided only when its Holm-adjusted p-value
    is below 1 − its confidence; otherwise it is inconclusive. Each slice of a rule with ``by`` is
    one test; the rule is then judged from its slices. Idempotent: verdicts are recomputed from
    each test's ``decision``, so a wider family (the whole gate run) can be applied after a
    narrower one (one suite).

    Returns:
        The statement of the method for the report: ``method``, ``family`` (number of tests), ``scope``.
    """
    family = _family(rules)
    adjusted: list[float] = holm([t.p_value for t in family if t.p_value is not None]).tolist() if family else []
    m = len(family)
    for t, padj in zip(family, adjusted, strict=True):
        t.p_value_holm = float(padj)
        alpha = 1.0 - (t.confidence if isinstance(t, RuleResult) else _confidence_of(rules, t))
        t.verdict, t.reason = t.decision or t.verdict, t.decision_reason or t.reason
        if t.decision in ("pass", "fail") and padj >= alpha:
            where = f"Holm-adjusted over {m} tests of {scope}: {padj:.3g}" if m > 1 else f"p = {padj:.3g}"
            t.reason = f"{t.reason}, but the test at the boundary is not significant ({where} >= {alpha:.3g})"
            t.verdict = "inconclusive"
    for r in rules:
        if r.by and r.require != "max_gap" and r.slices:
            _slices_verdict(r)
    return {"method": "holm", "family": m, "scope": scope,
            "statement": f"Holm's step-down adjustment over the {m} counted tests of {scope}; "
                         "each slice of a rule with 'by' is one test"}


def _confidence_of(rules: list[RuleResult], test: SliceTest) -> float:
    return next(r.confidence for r in rules if any(t is test for t in r.slices))


def gate_result(comparisons: list[Comparison], *, manifest: dict[str, Any] | None = None) -> GateResult:
    """Combine per-suite comparisons into one gate verdict (fail > inconclusive > pass).

    The rules of all suites form one family for Holm's adjustment (:func:`apply_holm`), so a gate
    of several suites controls its error rate across them; each suite's verdict is recomputed.
    """
    rules = [r for c in comparisons for r in c.rules]
    scope = f"the gate run ({len(comparisons)} suites)" if len(comparisons) > 1 else "the suite"
    multiplicity = apply_holm(rules, scope=scope)
    for c in comparisons:
        c.multiplicity = multiplicity
        c.verdict = combine_verdicts([r.verdict for r in c.rules] + ([] if c.policy.rules else ["inconclusive"]))
    verdict = combine_verdicts([c.verdict for c in comparisons])
    return GateResult(
        verdict=verdict,
        comparisons=comparisons,
        manifest=GateManifest.model_validate(manifest or {}),
        multiplicity=multiplicity,
    )
