"""The view model of a gate report, built from the ``harness.comparison/v1`` document.

The Markdown, HTML and JUnit renderings read this one view, so they say the same things. It is
built from the JSON document (a dict), not from the pydantic models, so a report can be rendered
from a ``comparison.json`` on disk and survives a change of the models; a new section of the
document (per-slice results, say) is a new field here and a new block in the templates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.report.charts import Chart, delta_chart, delta_span, means_chart
from harness.report.formatting import fmt, fmt_ci, fmt_p

__all__ = ["ICON", "GateView", "SuiteView", "as_document", "gate_view"]

Doc = Mapping[str, Any]
ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}
STATISTIC = {"mean_difference": "Δ mean", "candidate_mean": "candidate mean", "new_failures": "new failures",
             "leaked_items": "leaked items"}
_VERDICT_ORDER = {"fail": 0, "inconclusive": 1, "pass": 2}


@dataclass
class RuleView:
    """One rule, its figures formatted once for every rendering."""

    suite: str | None
    label: str
    verdict: str
    statistic: str
    estimate: str
    ci: str
    p: str
    p_holm: str
    n: int
    reason: str
    counted: bool
    calibration: str
    raw: Doc = field(repr=False)


@dataclass
class CriterionView:
    """Base vs candidate on one criterion, with its two plots."""

    name: str
    kind: str
    n: int
    n_unscored: int
    base: str
    candidate: str
    delta: str
    ci: str
    p: str
    fixed: int
    broken: int
    unchanged: int
    means: Chart
    difference: Chart


@dataclass
class ChangeView:
    """An item some criterion fixed or broke."""

    id: str
    kind: str
    fixed: list[str]
    broken: list[str]
    leaked: bool
    prompt: str
    reference: str | None
    base_output: str
    candidate_output: str


@dataclass
class SuiteView:
    """One suite's comparison."""

    anchor: str
    suite: str
    verdict: str
    n_paired: int
    confidence: str
    method: str
    pass_threshold: str
    rules: list[RuleView]
    criteria: list[CriterionView]
    changes: list[ChangeView]
    leakage: dict[str, Any]
    calibration: list[dict[str, Any]]
    repeats: list[dict[str, Any]]
    excluded: list[dict[str, Any]]
    notes: list[str]

    @property
    def rule_counts(self) -> dict[str, int]:
        """Rules per verdict, failing first."""
        return {v: sum(r.verdict == v for r in self.rules) for v in ("fail", "inconclusive", "pass")}

    @property
    def not_passing(self) -> list[RuleView]:
        """The rules that failed or were inconclusive, failures first."""
        return sorted((r for r in self.rules if r.verdict != "pass"), key=lambda r: _VERDICT_ORDER[r.verdict])

    def changed(self, kind: str) -> list[ChangeView]:
        """The items ``kind`` ('broken' or 'fixed') on some criterion."""
        return [ch for ch in self.changes if getattr(ch, kind)]

    @property
    def excluded_by_reason(self) -> dict[str, list[str]]:
        """Excluded item ids grouped by reason (in words)."""
        out: dict[str, list[str]] = {}
        for e in self.excluded:
            out.setdefault(e["reason"], []).append(e["id"])
        return out


@dataclass
class GateView:
    """The whole gate: verdict, models, one view per suite, the manifest."""

    verdict: str
    base: str
    candidate: str
    suites: list[SuiteView]
    rules: list[RuleView]
    manifest: dict[str, Any]

    @property
    def title(self) -> str:
        """``Gate: FAIL`` and so on."""
        return f"Gate: {self.verdict.upper()}"

    @property
    def icon(self) -> str:
        """The verdict's emoji."""
        return ICON[self.verdict]

    @property
    def summary(self) -> list[SuiteView]:
        """Every suite, failing first, then inconclusive, then passing (document order within each)."""
        return sorted(self.suites, key=lambda s: _VERDICT_ORDER[s.verdict])

    @property
    def rule_counts(self) -> dict[str, int]:
        """Rules per verdict over all suites."""
        return {v: sum(r.verdict == v for r in self.rules) for v in ("pass", "fail", "inconclusive")}


def _estimate(r: Doc) -> str:
    return fmt(r["estimate"]) if r["statistic"] in ("mean_difference", "candidate_mean") else fmt(r["estimate"], 0)


def _rule(r: Doc) -> RuleView:
    return RuleView(
        suite=r.get("suite"), label=r["label"], verdict=r["verdict"], statistic=STATISTIC[r["statistic"]],
        estimate=_estimate(r), ci=fmt_ci(r["ci"]), p=fmt_p(r["p_value"]), p_holm=fmt_p(r.get("p_value_holm")),
        n=r["n"], reason=r["reason"], counted=r["counted"],
        calibration=str((r.get("calibration") or {}).get("reason", "")), raw=r,
    )


def _criteria(c: Doc) -> list[CriterionView]:
    stats = list(c["criteria"].items())
    margins = {name: [r["margin"] for r in c["rules"] if r["criterion"] == name and r.get("margin")]
               for name, _ in stats}
    values = [v for _, s in stats for v in [*(s["ci"] or []), *([s["delta"]] if s["delta"] is not None else [])]]
    span = delta_span(values, [m for ms in margins.values() for m in ms])
    out = []
    for name, s in stats:
        cnt = s["counts"]
        out.append(CriterionView(
            name=name, kind="binary" if s["binary"] else ("judge" if s.get("judge") else ""), n=s["n"],
            n_unscored=s["n_unscored"], base=fmt(s["base_mean"]), candidate=fmt(s["candidate_mean"]),
            delta=fmt(s["delta"]), ci=fmt_ci(s["ci"]), p=fmt_p(s["p_value"]), fixed=cnt.get("fixed", 0),
            broken=cnt.get("broken", 0), unchanged=cnt.get("unchanged", 0),
            means=means_chart(s["base_mean"], s["base_ci"], s["candidate_mean"], s["candidate_ci"],
                              base_title=f"base {fmt(s['base_mean'])} {fmt_ci(s['base_ci'])}",
                              cand_title=f"candidate {fmt(s['candidate_mean'])} {fmt_ci(s['candidate_ci'])}"),
            difference=delta_chart(s["delta"], s["ci"], span, margins[name],
                                   title=f"delta {fmt(s['delta'])} {fmt_ci(s['ci'])}"),
        ))
    return out


def _change(ch: Doc) -> ChangeView:
    ref = ch.get("reference")
    return ChangeView(
        id=ch["id"], kind="broken" if ch["broken"] else "fixed", fixed=list(ch["fixed"]), broken=list(ch["broken"]),
        leaked=bool(ch.get("leaked")), prompt=ch["prompt"],
        reference=None if ref is None else ref if isinstance(ref, str) else json.dumps(ref, ensure_ascii=False),
        base_output=ch["base_output"], candidate_output=ch["candidate_output"],
    )


def _leakage(c: Doc) -> dict[str, Any]:
    lk = dict(c.get("leakage") or {})
    lk.setdefault("checked", False)
    findings = [
        {"check": str(f.get("check", "")), "suite_items": ", ".join(map(str, f.get("holdout_ids") or [])),
         "train_examples": ", ".join(map(str, list(f.get("ids") or [])[:5])), "evidence": str(f.get("message", ""))}
        for f in (lk.get("findings") or [])[:50]
    ]
    wl = c.get("with_leaked")
    with_leaked = None if not wl else {
        "n_paired": wl.get("n_paired"),
        "rules": [{"label": r["label"], "estimate": fmt(r["estimate"]), "ci": fmt_ci(r["ci"]), "verdict": r["verdict"]}
                  for r in wl.get("rules", [])],
    }
    return {"checked": lk["checked"], "train_data": list(lk.get("train_data") or []),
            "leaked_ids": list(lk.get("leaked_ids") or []), "allowed": bool(lk.get("allowed")),
            "note": lk.get("note"), "findings": findings, "with_leaked": with_leaked}


def _calibration(c: Doc) -> list[dict[str, Any]]:
    return [
        {"criterion": cid, "status": cal["status"], "counts": cal.get("counts", cal["status"] == "calibrated"),
         "alpha": fmt(cal.get("alpha")), "alpha_level": cal.get("alpha_level"), "kappa": fmt(cal.get("kappa")),
         "n_items": cal.get("n_items", 0), "floor": f"{cal['floor']:g}", "rated": cal.get("rated"),
         "reason": cal.get("reason")}
        for cid, cal in (c.get("calibration") or {}).items()
    ]


def _repeats(c: Doc) -> list[dict[str, Any]]:
    return [
        {"side": side, "criterion": crit, "attempts_per_item": f"{v['attempts_per_item']:.1f}",
         "between_items": fmt(v.get("between_items"), 4), "within_item": fmt(v.get("within_item"), 4),
         "generation": fmt(v.get("generation"), 4), "grading": fmt(v.get("grading"), 4),
         "note": v.get("reason") or (f"grading from {v['grading_from']}" if v.get("grading_from") else "")}
        for side, splits in (c.get("repeats") or {}).items() for crit, v in splits.items()
    ]


def _suite(i: int, c: Doc) -> SuiteView:
    pol = c["policy"]
    return SuiteView(
        anchor=f"suite-{i + 1}", suite=c["suite"], verdict=c["verdict"], n_paired=c["n_paired"],
        confidence=f"{pol['confidence']:.0%}",
        method=f"{pol['method']}, {pol['resamples']:,} resamples, seed {pol['seed']}",
        pass_threshold=f"{pol['pass_threshold']:g}",
        rules=[_rule(r) for r in c["rules"]], criteria=_criteria(c), changes=[_change(ch) for ch in c["changes"]],
        leakage=_leakage(c), calibration=_calibration(c), repeats=_repeats(c),
        excluded=[{"id": e["id"], "reason": e["reason"].replace("_", " "), "detail": e.get("detail", "")}
                  for e in c["excluded"]],
        notes=list(c.get("notes") or []),
    )


def _manifest(doc: Doc) -> dict[str, Any]:
    keys = ("suite", "suite_info", "base", "candidate", "policy")
    return {"gate": doc.get("manifest") or {},
            "runs": [{k: c.get(k, {}) for k in keys} for c in doc["comparisons"]]}


def gate_view(doc: Doc) -> GateView:
    """The view of a ``harness.comparison/v1`` document (``GateResult.to_document()`` or a loaded file)."""
    comparisons = doc["comparisons"]
    first = comparisons[0] if comparisons else None
    return GateView(
        verdict=doc["verdict"],
        base=str(first["base"]["model"].get("spec", "?")) if first else "?",
        candidate=str(first["candidate"]["model"].get("spec", "?")) if first else "?",
        suites=[_suite(i, c) for i, c in enumerate(comparisons)],
        rules=[_rule(r) for c in comparisons for r in c["rules"]],
        manifest=_manifest(doc),
    )


def as_document(result: Any) -> Doc:
    """The comparison document of a ``GateResult`` (anything with ``to_document``) or a document itself."""
    return result.to_document() if hasattr(result, "to_document") else result
