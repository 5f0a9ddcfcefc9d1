"""The rules of a policy applied to a comparison's paired statistics: a verdict per rule and per suite.

:func:`compare_runs` pairs two runs and measures them (:mod:`harness.compare`), then judges each
rule of the policy on its statistic's interval (:func:`harness.gate.policy.decide`), makes a rule
on an uncalibrated judge not count, adjusts the p-values at the rules' boundaries with Holm's
method across the suite's counted tests, and adds the leakage rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from harness.compare.calibration import Calibration
from harness.compare.criteria import OVERALL, CriterionInfo
from harness.compare.models import LeakageInfo, Side
from harness.compare.paired import Analysis, PairedCriterion, pair_runs, paired_comparison
from harness.errors import ConfigError, did_you_mean
from harness.eval.run import Run
from harness.gate.policy import Policy, Rule, decide, policy_from_gate
from harness.gate.verdict import Comparison, RuleResult, Statistic, Verdict, combine_verdicts
from harness.stats.paired import binomial_test, holm, transitions

__all__ = ["compare_runs", "judge_rules", "policy_of"]


def policy_of(run: Run) -> Policy:
    """The policy in a run's recorded suite ``gate`` block (empty when there is none)."""
    src = str(run.suite.get("path") or "")
    source = (src if src.endswith((".yaml", ".yml")) else f"{src}/suite.yaml") if src else None
    return policy_from_gate(run.suite.get("gate"), source=source)


def _boundary_test(
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


def _rule_result(
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
        ci, p, how = _boundary_test(rule, pc, policy)
        decision = decide(rule, n=n, low=ci[0] if ci else None, high=ci[1] if ci else None)
    verdict: Verdict = decision.verdict
    reason = decision.reason
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
    )


def _apply_holm(rules: list[RuleResult], confidence: float) -> None:
    """Holm across the counted tests of one gate: a decided rule also needs adjusted p < 1 − confidence."""
    family = [r for r in rules if r.counted and r.p_value is not None]
    if not family:
        return
    adjusted = holm([r.p_value for r in family if r.p_value is not None])
    alpha = 1.0 - confidence
    m = len(family)
    for r, padj in zip(family, adjusted, strict=True):
        r.p_value_holm = float(padj)
        if r.verdict in ("pass", "fail") and padj >= alpha:
            scope = f"Holm-adjusted over {m} rules: {padj:.3g}" if m > 1 else f"p = {padj:.3g}"
            r.reason = f"{r.reason}, but the test at the boundary is not significant ({scope} >= {alpha:.3g})"
            r.verdict = "inconclusive"


def _judge_scope(crit: str, infos: Mapping[str, CriterionInfo]) -> list[str]:
    """The judge criteria a rule on ``crit`` rests on (``overall`` rests on every weighted judge)."""
    if crit == OVERALL:
        return [c for c, i in infos.items() if i.judge and i.weight > 0]
    info = infos.get(crit)
    return [crit] if info is not None and info.judge else []


def _calibration_doc(
    rule: Rule, merged: Mapping[str, CriterionInfo], calibration: Mapping[str, Calibration]
) -> tuple[dict[str, Any] | None, bool]:
    """What the rule's judges' calibration says, and whether the rule counts."""
    judges = _judge_scope(rule.criterion, merged)
    cals = [calibration[j] for j in judges if j in calibration]
    bad = [c for c in cals if not c.counts] + [
        Calibration(criterion=j, status="no_ratings", floor=0.667, reason="not calibrated")
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


def judge_rules(
    analysis: Analysis,
    policy: Policy,
    suite: str,
    merged: Mapping[str, CriterionInfo],
    calibration: Mapping[str, Calibration],
) -> list[RuleResult]:
    """Every rule of ``policy`` on ``analysis``, Holm-adjusted across the suite's counted tests."""
    rules: list[RuleResult] = []
    for rule in policy.rules:
        cal_doc, counted = _calibration_doc(rule, merged, calibration)
        rules.append(_rule_result(rule, analysis.criteria[rule.criterion], policy, suite, cal_doc, counted))
    _apply_holm(rules, policy.confidence)
    return rules


def _check_rules(policy: Policy, criteria: list[str]) -> None:
    for i, rule in enumerate(policy.rules):
        if rule.criterion not in criteria:
            raise ConfigError(
                f"criterion {rule.criterion!r} is not scored in both runs; scored: {criteria}."
                f"{did_you_mean(rule.criterion, criteria)}",
                file=policy.source,
                field=f"rules[{i}].criterion",
            )


def _leakage_rule(suite: str, n_leaked: int, leakage: LeakageInfo, confidence: float) -> RuleResult:
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


def compare_runs(
    base: Run,
    candidate: Run,
    policy: Policy | None = None,
    *,
    leakage: LeakageInfo | None = None,
    calibration: Mapping[str, Calibration] | None = None,
    ratings_path: str | None = None,
    base_path: str | None = None,
    candidate_path: str | None = None,
) -> Comparison:
    """Compare two runs of the same suite under a policy: paired statistics, then each rule's verdict.

    Args:
        base: the base model's run.
        candidate: the candidate's run.
        policy: the rules (default: the suite's ``gate`` block recorded in the candidate run).
        leakage: the leakage check's result; leaked items are left out of the verdict, and the
            comparison is also given with them kept in (``with_leaked``).
        calibration: judge calibrations, computed from the suite's human ratings when not given.
        ratings_path: a human ratings file to calibrate judges with (default: the suite's).
        base_path: where the base run was read from (for the report).
        candidate_path: where the candidate run was read from (for the report).

    Returns:
        A :class:`~harness.gate.verdict.Comparison`.

    Raises:
        InputError: when the runs are of different suites or a run repeats an item id.
        ConfigError: when a rule names a criterion the runs do not score.

    Example:
        >>> from harness.eval.run import Run, ItemResult, Score
        >>> def run(vals):
        ...     items = [ItemResult(id=str(i), prompt=f"q{i}", output="", scores={"ok": Score(value=v)})
        ...              for i, v in enumerate(vals)]
        ...     return Run(suite={"name": "s"}, model={}, manifest={}, items=items, summary={})
        >>> p = policy_from_gate([{"criterion": "ok", "require": "no_regression", "margin": 0.1}])
        >>> c = compare_runs(run([1, 0] * 20), run([1, 1] * 20), p)
        >>> c.verdict, c.criteria["ok"].delta
        ('pass', 0.5)
    """
    runs = pair_runs(base, candidate)
    if policy is None:
        policy = policy_of(candidate)
    _check_rules(policy, runs.criteria)
    paired = paired_comparison(runs, policy, leakage=leakage, calibration=calibration, ratings_path=ratings_path)
    suite, merged, leakage = runs.suite, runs.merged, paired.leakage
    rules = judge_rules(paired.clean, policy, suite, merged, paired.calibration)
    with_leaked = None
    if paired.with_leaked is not None:
        r2 = judge_rules(paired.with_leaked, policy, suite, merged, paired.calibration)
        with_leaked = {
            "n_paired": len(runs.pairs),
            "verdict": combine_verdicts([r.verdict for r in r2]) if r2 else None,
            "criteria": {k: v.model_dump(mode="json") for k, v in paired.with_leaked.stats().items()},
            "rules": [r.model_dump(mode="json") for r in r2],
        }
    notes = list(runs.notes)
    if leakage.checked:
        n_leaked = len(set(leakage.leaked_ids) & {b.id for b, _ in runs.pairs})
        rules.append(_leakage_rule(suite, n_leaked, leakage, policy.confidence))
    verdicts = [r.verdict for r in rules]
    if not policy.rules:
        # Without a rule nothing was shown to hold: never a pass.
        verdicts.append("inconclusive")
        notes.append("the policy has no rules: the verdict is inconclusive")
    return Comparison(
        suite=suite,
        suite_info={k: v for k, v in candidate.suite.items() if k not in ("rubric", "gate")},
        base=Side(model=base.model, manifest=base.manifest, n_items=len(base.items), path=base_path),
        candidate=Side(model=candidate.model, manifest=candidate.manifest, n_items=len(candidate.items),
                       path=candidate_path),
        policy=policy,
        n_paired=paired.n_paired,
        criteria=paired.clean.stats(),
        rules=rules,
        verdict=combine_verdicts(verdicts),
        excluded=paired.excluded,
        changes=paired.changes,
        calibration=paired.calibration,
        repeats=paired.repeats,
        leakage=leakage,
        with_leaked=with_leaked,
        notes=notes,
    )
