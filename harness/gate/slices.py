"""Rules judged slice by slice (``by: FIELD``) and the spread between slices (``require: max_gap``).

A rule with ``by`` is judged in every slice of the items (:mod:`harness.compare.slices`) with the
same statistic and test as on the whole suite; it holds only if it holds in every slice and fails
if it fails in one. Each slice's test joins the gate run's family for Holm's adjustment. A slice
too small for an interval is inconclusive, so it keeps the rule from passing: no slice is hidden.

``max_gap`` bounds the spread of Δ between the best and the worst slice (slices of at least 2
items), with a stratified bootstrap interval (:func:`harness.stats.bootstrap.slice_gap`).
"""

from __future__ import annotations

from typing import Any

from harness.compare.paired import Analysis, PairedCriterion
from harness.compare.slices import SliceAnalysis
from harness.gate.policy import Decision, Policy, Rule, decide
from harness.gate.rules import boundary_test
from harness.gate.verdict import RuleResult, SliceTest, Statistic, Verdict
from harness.stats.bootstrap import slice_gap, stable_seed
from harness.stats.paired import transitions

__all__ = ["gap_rule", "sliced_rule"]


def _slice_test(rule: Rule, value: str, pc: PairedCriterion, policy: Policy) -> SliceTest:
    stats = pc.stats
    n = stats.n
    thr = rule.threshold if rule.threshold is not None else policy.pass_threshold
    counts = transitions(pc.base_values, pc.candidate_values, threshold=thr)._asdict() if n else {}
    p = how = None
    if rule.require == "no_new_failures":
        estimate, ci = float(counts.get("broken", 0)) if n else None, None
        decision = decide(rule, n=n, low=None, high=None, new_failures=counts.get("broken") if n else None)
    else:
        estimate = stats.candidate_mean if rule.require == "at_least" else stats.delta
        ci, p, how = boundary_test(rule, pc, policy)
        decision = decide(rule, n=n, low=ci[0] if ci else None, high=ci[1] if ci else None)
    return SliceTest(
        value=value, n=n, estimate=estimate, ci=ci, p_value=p, p_method=how, counts=counts,
        decision=decision.verdict, decision_reason=decision.reason, verdict=decision.verdict, reason=decision.reason,
    )


def _result(
    rule: Rule,
    policy: Policy,
    suite: str,
    calibration: dict[str, Any] | None,
    counted: bool,
    decision: Decision,
    **fields: Any,
) -> RuleResult:
    verdict: Verdict = decision.verdict
    reason = decision.reason
    if not counted:
        verdict = "inconclusive"
        reason = f"{reason}; does not count: {calibration['reason'] if calibration else 'judge not calibrated'}"
    return RuleResult(
        suite=suite, criterion=rule.criterion, require=rule.require, label=rule.label,
        margin=rule.margin if rule.require == "no_regression" else None, value=rule.value,
        max=(rule.max or 0) if rule.require == "no_new_failures" else None, confidence=policy.confidence,
        counted=counted, calibration=calibration, verdict=verdict, reason=reason, by=rule.by,
        decision=decision.verdict, decision_reason=decision.reason, **fields,
    )


def sliced_rule(
    rule: Rule, analysis: Analysis, policy: Policy, suite: str, calibration: dict[str, Any] | None, counted: bool
) -> RuleResult:
    """A rule with ``by``: one test per slice; the rule's figures are those of its worst slice."""
    assert rule.by is not None
    sa: SliceAnalysis = analysis.slices[rule.by][rule.criterion]
    tests = [_slice_test(rule, value, pc, policy) for value, pc in sa.slices.items()]
    whole = analysis.criteria[rule.criterion].stats
    statistic: Statistic = {"at_least": "candidate_mean", "no_new_failures": "new_failures"}.get(
        rule.require, "mean_difference"
    )  # type: ignore[assignment]
    scored = [t for t in tests if t.estimate is not None]
    worse = max if rule.require == "no_new_failures" else min
    worst = worse(scored, key=lambda t: t.estimate or 0.0) if scored else None
    verdicts = [t.decision for t in tests]
    verdict: Verdict = "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"
    decision = Decision(verdict, f"judged in {len(tests)} slices by {rule.by}")
    return _result(
        rule, policy, suite, calibration, counted, decision,
        statistic=statistic, estimate=worst.estimate if worst else None, delta=whole.delta,
        ci=worst.ci if worst else None, delta_ci=whole.ci, n=whole.n, p_value=None,
        counts={"slices": len(tests), "n_missing": sa.n_missing}, slices=tests,
    )


def gap_rule(
    rule: Rule, analysis: Analysis, policy: Policy, suite: str, calibration: dict[str, Any] | None, counted: bool
) -> RuleResult:
    """``max_gap``: the spread of Δ between the best and the worst slice, with its bootstrap interval."""
    assert rule.by is not None and rule.max_gap is not None
    sa: SliceAnalysis = analysis.slices[rule.by][rule.criterion]
    usable = {v: pc for v, pc in sa.slices.items() if pc.stats.n >= 2}
    small = [v for v, pc in sa.slices.items() if pc.stats.n < 2]
    whole = analysis.criteria[rule.criterion].stats
    common: dict[str, Any] = {
        "statistic": "slice_gap", "delta": whole.delta, "delta_ci": whole.ci, "n": whole.n,
        "max_gap": rule.max_gap,
        "counts": {"slices": len(sa.slices), "slices_in_gap": len(usable), "n_missing": sa.n_missing},
    }
    if len(usable) < 2:
        decision = Decision("inconclusive", f"fewer than 2 slices by {rule.by} have 2 or more items")
        return _result(rule, policy, suite, calibration, counted, decision, estimate=None, ci=None,
                       p_value=None, **common)
    diffs = [pc.candidate_values - pc.base_values for pc in usable.values()]
    boot = slice_gap(diffs, resamples=policy.resamples, seed=stable_seed(policy.seed, suite, rule.criterion,
                                                                          "gap", rule.by))
    lo, hi = boot.interval(policy.confidence)
    decision = decide(rule, n=whole.n, low=lo, high=hi)
    deltas = {v: float(d.mean()) for v, d in zip(usable, diffs, strict=True)}
    best, worst = max(deltas, key=deltas.__getitem__), min(deltas, key=deltas.__getitem__)
    note = f"; best {best} ({deltas[best]:+.3g}), worst {worst} ({deltas[worst]:+.3g})"
    if small:
        note += f"; left out (fewer than 2 items): {', '.join(small)}"
    decision = Decision(decision.verdict, decision.reason + note)
    return _result(
        rule, policy, suite, calibration, counted, decision, estimate=boot.estimate, ci=[lo, hi],
        p_value=boot.p_value(rule.max_gap), p_method="bootstrap_percentile_stratified", **common,
    )
