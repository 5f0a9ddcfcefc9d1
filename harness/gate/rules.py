"""One rule of a policy on one criterion's paired statistics: its statistic, test and verdict.

Each rule is judged on its statistic's interval (:func:`harness.gate.policy.decide`); a rule on
an uncalibrated judge does not count. Rules by slice are :mod:`harness.gate.slices`'s; the whole
policy is applied by :mod:`harness.gate.judge`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.compare.calibration import Calibration
from harness.compare.criteria import DEFAULT_CALIBRATION_FLOOR, OVERALL, CriterionInfo
from harness.compare.models import LeakageInfo
from harness.compare.paired import PairedCriterion, PairedRuns
from harness.compare.slices import item_fields, slice_groups
from harness.errors import ConfigError, InputError, did_you_mean
from harness.eval.run import Run
from harness.gate.policy import Policy, Rule, decide, policy_from_gate
from harness.gate.verdict import RuleResult, Statistic, Verdict
from harness.stats.paired import binomial_test, transitions

__all__ = ["boundary_test", "calibration_doc", "check_rules", "leakage_rule", "policy_of", "rule_result"]


def policy_of(run: Run) -> Policy:
    """The policy in a run's recorded suite ``gate`` block (empty when there is none)."""
    src = str(run.suite.path or "")
    source = (src if src.endswith((".yaml", ".yml")) else f"{src}/suite.yaml") if src else None
    return policy_from_gate(run.suite.gate, source=source)


def boundary_test(
    rule: Rule, pc: PairedCriterion, policy: Policy
) -> tuple[list[float] | None, float | None, str | None]:
    """The interval of the rule's statistic and the p-value of the test at its boundary."""
    stats, y = pc.stats, pc.candidate_values
    null = rule.null
    assert null is not None
    if rule.require == "at_least":
        mean = pc.candidate
        if mean is None or stats.n < 2:
            return None, None, None
        if stats.binary:
            return mean.ci, binomial_test(int(y.sum()), stats.n, null), "binomial_exact"
        assert mean.bootstrap is not None
        return mean.ci, mean.bootstrap.p_value(null), f"bootstrap_{policy.method}"
    if pc.diff is None:
        return None, None, None
    ci = stats.ci
    if stats.binary and null == 0.0:
        return ci, stats.p_value, "mcnemar_exact"
    return ci, pc.diff.p_value(null), f"bootstrap_{policy.method}"


def rule_result(
    rule: Rule, pc: PairedCriterion, policy: Policy, suite: str, calibration: dict[str, Any] | None, counted: bool
) -> RuleResult:
    x, y, stats = pc.base_values, pc.candidate_values, pc.stats
    n = stats.n
    thr = rule.threshold if rule.threshold is not None else policy.pass_threshold
    counts = transitions(x, y, threshold=thr)._asdict() if n else {}
    counts["unscored"] = stats.n_unscored
    p: float | None = None
    how: str | None = None
    estimate: float | None
    statistic: Statistic
    ci: list[float] | None
    if rule.require == "no_new_failures":
        statistic, estimate, ci = "new_failures", float(counts.get("broken", 0)) if n else None, None
        decision = decide(rule, n=n, low=None, high=None, new_failures=counts.get("broken") if n else None)
    else:
        statistic = "candidate_mean" if rule.require == "at_least" else "mean_difference"
        estimate = stats.candidate_mean if rule.require == "at_least" else stats.delta
        ci, p, how = boundary_test(rule, pc, policy)
        decision = decide(rule, n=n, low=ci[0] if ci else None, high=ci[1] if ci else None)
    verdict: Verdict = decision.verdict
    reason = decision.reason
    extra: dict[str, Any] = {"decision": verdict, "decision_reason": reason}
    if not counted:
        verdict = "inconclusive"
        reason = f"{reason}; does not count: {calibration['reason'] if calibration else 'judge not calibrated'}"
    return RuleResult(
        suite=suite,
        criterion=rule.criterion,
        require=rule.require,
        label=rule.label,
        margin=rule.margin if rule.require == "no_regression" else None,
        value=rule.value,
        max=(rule.max or 0) if rule.require == "no_new_failures" else None,
        statistic=statistic,
        estimate=estimate,
        delta=stats.delta,
        ci=ci,
        delta_ci=stats.ci,
        confidence=policy.confidence,
        n=n,
        p_value=p,
        p_method=how,
        counts=counts,
        counted=counted,
        calibration=calibration,
        verdict=verdict,
        reason=reason,
        **extra,
    )


def _judge_scope(crit: str, infos: Mapping[str, CriterionInfo]) -> list[str]:
    """The judge criteria a rule on ``crit`` rests on (``overall`` rests on every weighted judge)."""
    if crit == OVERALL:
        return [c for c, i in infos.items() if i.judge and i.weight > 0]
    info = infos.get(crit)
    return [crit] if info is not None and info.judge else []


def calibration_doc(
    rule: Rule, merged: Mapping[str, CriterionInfo], calibration: Mapping[str, Calibration]
) -> tuple[dict[str, Any] | None, bool]:
    """What the rule's judges' calibration says, and whether the rule counts."""
    judges = _judge_scope(rule.criterion, merged)
    cals = [calibration[j] for j in judges if j in calibration]
    bad = [c for c in cals if not c.counts] + [
        Calibration(criterion=j, status="no_ratings", floor=DEFAULT_CALIBRATION_FLOOR, reason="not calibrated")
        for j in judges if j not in calibration
    ]
    if not judges:
        return None, True
    doc = {
        "judges": judges,
        "reason": "; ".join(f"{c.criterion}: {c.summary()}" for c in (bad or cals)),
        "calibrations": [c.model_dump(mode="json") for c in cals],
    }
    return doc, not bad


def check_rules(policy: Policy, runs: PairedRuns) -> list[str]:
    """Check the rules' criteria and slicing fields against the runs; the fields to slice by."""
    criteria = runs.criteria
    for i, rule in enumerate(policy.rules):
        if rule.criterion not in criteria:
            raise ConfigError(
                f"criterion {rule.criterion!r} is not scored in both runs; scored: {criteria}."
                f"{did_you_mean(rule.criterion, criteria)}",
                file=policy.source,
                field=f"rules[{i}].criterion",
            )
    wanted = [(fld, "slices") for fld in policy.slices] + [
        (r.by, f"rules[{i}].by") for i, r in enumerate(policy.rules) if r.by
    ]
    fields = [item_fields(p) for p in runs.pairs]
    for fld, where in wanted:
        try:
            slice_groups(fields, fld, where=where)
        except InputError as exc:
            raise ConfigError(exc.message, file=policy.source, field=where) from exc
    return list(dict.fromkeys(fld for fld, _ in wanted))


def leakage_rule(suite: str, n_leaked: int, leakage: LeakageInfo, confidence: float) -> RuleResult:
    verdict: Verdict
    if n_leaked == 0:
        verdict, reason = "pass", "no suite item found in the candidate's training data"
    elif leakage.allowed:
        verdict = "pass"
        reason = f"{n_leaked} leaked items left out of the comparison (allowed by --allow-leakage)"
    else:
        verdict = "fail"
        reason = f"{n_leaked} suite items found in the candidate's training data (use --allow-leakage to gate anyway)"
    return RuleResult(
        suite=suite, criterion="leakage", require="no_leakage", label="no leakage into training data",
        statistic="leaked_items", estimate=float(n_leaked), delta=None, ci=None, confidence=confidence,
        n=n_leaked, p_value=None, counts={"leaked": n_leaked}, counted=True, verdict=verdict, reason=reason,
    )
