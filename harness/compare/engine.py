"""Compare a base run with a candidate run under a policy: pair, measure, decide.

Reads runs only; never loads a model. Items are paired by id (an item whose prompt differs
between the runs is not paired); per criterion the paired difference gets a bootstrap interval,
binary criteria also McNemar's exact test; each rule of the policy gets a verdict, a p-value at
its boundary, and Holm's adjustment across the gate's counted tests.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np

from harness.compare.calibration import Calibration, calibrate_runs
from harness.compare.criteria import DEFAULT_CALIBRATION_FLOOR, OVERALL, CriterionInfo, criteria_info
from harness.compare.models import (
    Change,
    Comparison,
    CriterionStats,
    Excluded,
    GateManifest,
    GateResult,
    LeakageInfo,
    RuleResult,
    Side,
    Statistic,
    Verdict,
    combine_verdicts,
)
from harness.compare.pairing import PairedValues, pair_items, prompt_text
from harness.compare.repeats import MODEL_GRADED, VarianceSplit, variance_split
from harness.errors import ConfigError, InputError, did_you_mean
from harness.eval.run import ItemResult, Run
from harness.gate.policy import Policy, Rule, decide, policy_from_gate
from harness.stats.paired import (
    Bootstrap,
    binomial_test,
    bootstrap_mean,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    stable_seed,
    transitions,
)

__all__ = ["compare_runs", "gate_result", "policy_of"]

_MAX_CHANGES = 500


def _suite_name(run: Run) -> str:
    return run.suite.name or "suite"


def policy_of(run: Run) -> Policy:
    """The policy in a run's recorded suite ``gate`` block (empty when there is none)."""
    src = run.suite.path
    return policy_from_gate(run.suite.gate, source=f"{src}/suite.yaml" if src else None)


def _mean(a: np.ndarray) -> float | None:
    return float(a.mean()) if a.size else None


def _ci(b: Bootstrap | None, confidence: float) -> list[float] | None:
    return list(b.interval(confidence)) if b is not None else None


def _criterion_stats(
    crit: str, values: PairedValues, policy: Policy, suite: str, binary_declared: bool, judge: bool
) -> tuple[CriterionStats, Bootstrap | None, Bootstrap | None]:
    x, y, _ = values.by[crit]
    n = int(x.size)
    conf = policy.confidence
    binary = binary_declared and n > 0 and bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    counts = transitions(x, y, threshold=policy.pass_threshold)._asdict() if n else {}
    counts["unscored"] = values.unscored[crit]
    common: dict[str, Any] = {
        "criterion": crit, "binary": binary, "judge": judge, "n": n, "n_unscored": values.unscored[crit],
        "confidence": conf, "counts": counts,
    }
    if n < 2:
        reason = "no item scored in both runs" if n == 0 else "one item scored in both runs: no interval"
        return (
            CriterionStats(
                **common, base_mean=_mean(x), candidate_mean=_mean(y), base_ci=None, candidate_ci=None,
                delta=_mean(y - x), ci=None, p_value=None, reason=reason,
            ),
            None,
            None,
        )
    kw: dict[str, Any] = {"resamples": policy.resamples, "method": policy.method, "bounds": (0.0, 1.0)}
    diff = paired_bootstrap(x, y, seed=stable_seed(policy.seed, suite, crit, "delta"), **kw)
    cb = bootstrap_mean(y, seed=stable_seed(policy.seed, suite, crit, "candidate"), **kw)
    bb = bootstrap_mean(x, seed=stable_seed(policy.seed, suite, crit, "base"), **kw)
    mc = None
    if binary:
        r = mcnemar_exact(x, y)
        mc = r._asdict()
        p, how = r.p_value, "mcnemar_exact"
    else:
        p, how = diff.p_value(0.0), f"bootstrap_{policy.method}"
    stats = CriterionStats(
        **common,
        base_mean=bb.estimate,
        candidate_mean=cb.estimate,
        base_ci=_ci(bb, conf),
        candidate_ci=_ci(cb, conf),
        delta=diff.estimate,
        ci=_ci(diff, conf),
        p_value=p,
        p_method=how,
        mcnemar=mc,
        degenerate=diff.degenerate,
        reason="all paired differences are equal: exact interval from the score range" if diff.degenerate else None,
    )
    return stats, diff, cb


def _rule_result(
    rule: Rule,
    stats: CriterionStats,
    diff: Bootstrap | None,
    cand: Bootstrap | None,
    values: PairedValues,
    policy: Policy,
    suite: str,
    calibration: dict[str, Any] | None,
    counted: bool,
) -> RuleResult:
    x, y, _ = values.by[rule.criterion]
    n = stats.n
    conf = policy.confidence
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
        boot = cand if rule.require == "at_least" else diff
        statistic = "candidate_mean" if rule.require == "at_least" else "mean_difference"
        estimate = stats.candidate_mean if rule.require == "at_least" else stats.delta
        ci = _ci(boot, conf)
        null = rule.null
        assert null is not None
        if boot is not None:
            if rule.require == "at_least" and stats.binary:
                p, how = binomial_test(int(y.sum()), n, null), "binomial_exact"
            elif rule.require != "at_least" and stats.binary and null == 0.0:
                p, how = stats.p_value, "mcnemar_exact"
            else:
                p, how = boot.p_value(null), f"bootstrap_{policy.method}"
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
        confidence=conf,
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


def _analyse(
    pairs: list[tuple[ItemResult, ItemResult]],
    criteria: list[str],
    infos: dict[str, dict[str, CriterionInfo]],
    policy: Policy,
    suite: str,
    calibration: Mapping[str, Calibration],
) -> tuple[dict[str, CriterionStats], list[RuleResult], PairedValues]:
    values = PairedValues(pairs, criteria, infos)
    merged = {**infos["base"], **infos["candidate"]}
    stats: dict[str, CriterionStats] = {}
    boots: dict[str, tuple[Bootstrap | None, Bootstrap | None]] = {}
    for crit in criteria:
        info = merged.get(crit)
        declared = info.binary if info is not None else False
        if info is None or crit == OVERALL:
            declared = False
        s, d, cb = _criterion_stats(crit, values, policy, suite, declared, bool(info and info.judge))
        stats[crit], boots[crit] = s, (d, cb)
    rules: list[RuleResult] = []
    for rule in policy.rules:
        judges = _judge_scope(rule.criterion, merged)
        cals = [calibration[j] for j in judges if j in calibration]
        bad = [c for c in cals if not c.counts] + [
            Calibration(criterion=j, status="no_ratings", floor=DEFAULT_CALIBRATION_FLOOR, reason="not calibrated")
            for j in judges if j not in calibration
        ]
        cal_doc = None
        if judges:
            cal_doc = {
                "judges": judges,
                "reason": "; ".join(f"{c.criterion}: {c.summary()}" for c in (bad or cals)),
                "calibrations": [c.model_dump(mode="json") for c in cals],
            }
        d, cb = boots[rule.criterion]
        rules.append(
            _rule_result(rule, stats[rule.criterion], d, cb, values, policy, suite, cal_doc, counted=not bad)
        )
    _apply_holm(rules, policy.confidence)
    return stats, rules, values


def _changes(
    pairs: list[tuple[ItemResult, ItemResult]], values: PairedValues, criteria: list[str], leaked: set[str], thr: float
) -> list[Change]:
    by_id: dict[str, Change] = {}
    for crit in criteria:
        x, y, keep = values.by[crit]
        for xv, yv, k in zip(x, y, keep, strict=True):
            moved = "fixed" if xv < thr <= yv else "broken" if yv < thr <= xv else None
            if moved is None:
                continue
            b, c = pairs[k]
            ch = by_id.get(b.id)
            if ch is None:
                ch = by_id[b.id] = Change(
                    id=b.id, prompt=prompt_text(b), reference=b.reference, base_output=b.output,
                    candidate_output=c.output, leaked=b.id in leaked,
                    base_scores={n: s.value for n, s in b.scores.items()},
                    candidate_scores={n: s.value for n, s in c.scores.items()},
                )
            getattr(ch, moved).append(crit)
    changes = sorted(by_id.values(), key=lambda ch: (-len(ch.broken), -len(ch.fixed), ch.id))
    return changes[:_MAX_CHANGES]


def _repeats(run: Run, ids: Collection[str], criteria: list[str], infos: Mapping[str, CriterionInfo]) -> dict:
    items = [i for i in run.items if i.id in ids]
    if not any(len(i.attempts) > 1 for i in items):
        return {}
    out: dict[str, VarianceSplit] = {}
    for crit in criteria:
        per_item = []
        for it in items:
            per_item.append(
                [(a.output, v) for a in it.attempts if crit in a.scores and (v := a.scores[crit].value) is not None]
            )
        info = infos.get(crit)
        deterministic = info is not None and info.scorer is not None and info.scorer not in MODEL_GRADED
        if crit == OVERALL:
            deterministic = all(i.scorer is not None and i.scorer not in MODEL_GRADED for i in infos.values())
        out[crit] = variance_split(per_item, deterministic=deterministic)
    return out


def _check_rules(policy: Policy, criteria: list[str]) -> None:
    for i, rule in enumerate(policy.rules):
        if rule.criterion not in criteria:
            raise ConfigError(
                f"criterion {rule.criterion!r} is not scored in both runs; scored: {criteria}."
                f"{did_you_mean(rule.criterion, criteria)}",
                file=policy.source,
                field=f"rules[{i}].criterion",
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
    """Compare two runs of the same suite under a policy.

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
        A :class:`~harness.compare.models.Comparison`.

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
    suite = _suite_name(candidate)
    if _suite_name(base) != suite:
        raise InputError(f"the base run is of suite {_suite_name(base)!r}, the candidate run of {suite!r}")
    if policy is None:
        policy = policy_of(candidate)
    infos = {"base": criteria_info(base), "candidate": criteria_info(candidate)}
    pairs, excluded = pair_items(base, candidate, suite)
    seen_b = {n for b, _ in pairs for n in b.scores}
    seen_c = {n for _, c in pairs for n in c.scores}
    criteria = sorted(seen_b & seen_c - {OVERALL})
    notes = [f"criterion {n!r} is scored in one run only" for n in sorted((seen_b ^ seen_c) - {OVERALL})]
    has_overall = (OVERALL in seen_b and OVERALL in seen_c) or any(
        i.weight > 0 for i in infos["candidate"].values() if i.id in criteria
    )
    if has_overall and criteria:
        criteria.append(OVERALL)
    _check_rules(policy, criteria)

    merged = {**infos["base"], **infos["candidate"]}
    judges = {c: i for c, i in merged.items() if i.judge and c in criteria}
    if calibration is None:
        calibration = calibrate_runs(base, candidate, judges, ratings_path=ratings_path) if judges else {}
    leakage = leakage or LeakageInfo()
    leaked = set(leakage.leaked_ids)
    clean = [p for p in pairs if p[0].id not in leaked]
    excluded += [
        Excluded(suite=suite, id=b.id, reason="leaked", detail="found in the candidate's training data")
        for b, _ in pairs if b.id in leaked
    ]
    stats, rules, values = _analyse(clean, criteria, infos, policy, suite, calibration)
    with_leaked = None
    if leaked & {b.id for b, _ in pairs}:
        s2, r2, _ = _analyse(pairs, criteria, infos, policy, suite, calibration)
        with_leaked = {
            "n_paired": len(pairs),
            "verdict": combine_verdicts([r.verdict for r in r2]) if r2 else None,
            "criteria": {k: v.model_dump(mode="json") for k, v in s2.items()},
            "rules": [r.model_dump(mode="json") for r in r2],
        }
    if leakage.checked:
        rules.append(_leakage_rule(suite, len(leaked & {b.id for b, _ in pairs}), leakage, policy.confidence))
    verdicts = [r.verdict for r in rules]
    if not policy.rules:
        # Without a rule nothing was shown to hold: never a pass.
        verdicts.append("inconclusive")
        notes.append("the policy has no rules: the verdict is inconclusive")
    verdict = combine_verdicts(verdicts)
    ids = {b.id for b, _ in clean}
    return Comparison(
        suite=suite,
        suite_info=candidate.suite.model_dump(mode="json", exclude={"rubric", "gate"}),
        base=Side(model=base.model, manifest=base.manifest, n_items=len(base.items), path=base_path),
        candidate=Side(model=candidate.model, manifest=candidate.manifest, n_items=len(candidate.items),
                       path=candidate_path),
        policy=policy,
        n_paired=len(clean),
        criteria=stats,
        rules=rules,
        verdict=verdict,
        excluded=excluded,
        changes=_changes(clean, values, criteria, leaked, policy.pass_threshold),
        calibration=dict(calibration),
        repeats={
            side: split
            for side, run in (("base", base), ("candidate", candidate))
            if (split := _repeats(run, ids, criteria, infos[side]))
        },
        leakage=leakage,
        with_leaked=with_leaked,
        notes=notes,
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


def gate_result(comparisons: list[Comparison], *, manifest: dict[str, Any] | None = None) -> GateResult:
    """Combine per-suite comparisons into one gate verdict (fail > inconclusive > pass)."""
    verdict = combine_verdicts([c.verdict for c in comparisons])
    return GateResult(verdict=verdict, comparisons=comparisons, manifest=GateManifest.model_validate(manifest or {}))
