"""A policy applied to two runs: paired statistics (:mod:`harness.compare`), then every rule's verdict.

:func:`compare_runs` pairs two runs and measures them, judges each rule of the policy (per slice
for rules with ``by``), adjusts the p-values at the rules' boundaries with Holm's method across
the suite's counted tests, and adds the leakage rule. :func:`~harness.gate.verdict.gate_result`
then adjusts across all the suites of a gate run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from harness.compare.calibration import Calibration
from harness.compare.criteria import CriterionInfo
from harness.compare.models import LeakageInfo, Side
from harness.compare.paired import Analysis, PairedComparison, pair_runs, paired_comparison
from harness.eval.run import Run
from harness.gate.policy import Policy, Verdict
from harness.gate.rules import calibration_doc, check_rules, leakage_rule, policy_of, rule_result
from harness.gate.slices import gap_rule, sliced_rule
from harness.gate.verdict import Comparison, RuleResult, apply_holm, combine_verdicts

__all__ = ["compare_runs", "judge_rules"]


def judge_rules(
    analysis: Analysis,
    policy: Policy,
    suite: str,
    merged: Mapping[str, CriterionInfo],
    calibration: Mapping[str, Calibration],
) -> list[RuleResult]:
    """Every rule of ``policy`` on ``analysis``, Holm-adjusted across the suite's counted tests.

    (:func:`~harness.gate.verdict.gate_result` adjusts again across all suites of a gate run.)
    """
    rules: list[RuleResult] = []
    for rule in policy.rules:
        cal_doc, counted = calibration_doc(rule, merged, calibration)
        if rule.require == "max_gap":
            result = gap_rule(rule, analysis, policy, suite, cal_doc, counted)
        elif rule.by:
            result = sliced_rule(rule, analysis, policy, suite, cal_doc, counted)
        else:
            result = rule_result(rule, analysis.criteria[rule.criterion], policy, suite, cal_doc, counted)
        rules.append(result)
    apply_holm(rules, scope="the suite")
    return rules


def _with_leaked(paired: PairedComparison, policy: Policy) -> dict[str, Any] | None:
    """The criteria and rules computed with the leaked items kept in (None when none leaked)."""
    if paired.with_leaked is None:
        return None
    runs = paired.runs
    r2 = judge_rules(paired.with_leaked, policy, runs.suite, runs.merged, paired.calibration)
    return {
        "n_paired": len(runs.pairs),
        "verdict": combine_verdicts([r.verdict for r in r2]) if r2 else None,
        "criteria": {k: v.model_dump(mode="json") for k, v in paired.with_leaked.stats().items()},
        "rules": [r.model_dump(mode="json") for r in r2],
    }


def _add_leakage_rule(rules: list[RuleResult], paired: PairedComparison, policy: Policy) -> dict[str, Any]:
    """Append the leakage rule when leakage was checked; Holm-adjust the suite's rules again (its record)."""
    runs, leakage = paired.runs, paired.leakage
    if leakage.checked:
        n_leaked = len(set(leakage.leaked_ids) & {b.id for b, _ in runs.pairs})
        rules.append(leakage_rule(runs.suite, n_leaked, leakage, policy.confidence))
    return apply_holm(rules, scope="the suite")


def _verdict(rules: list[RuleResult], policy: Policy, notes: Sequence[str]) -> tuple[Verdict, list[str]]:
    """The suite's verdict from its rules, and the notes (a policy without rules is never a pass)."""
    verdicts = [r.verdict for r in rules]
    notes = list(notes)
    if not policy.rules:
        # Without a rule nothing was shown to hold: never a pass.
        verdicts.append("inconclusive")
        notes.append("the policy has no rules: the verdict is inconclusive")
    return combine_verdicts(verdicts), notes


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
        >>> from harness.gate.policy import policy_from_gate
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
    fields = check_rules(policy, runs)
    paired = paired_comparison(
        runs, policy, leakage=leakage, calibration=calibration, ratings_path=ratings_path, slices=fields
    )
    rules = judge_rules(paired.clean, policy, runs.suite, runs.merged, paired.calibration)
    with_leaked = _with_leaked(paired, policy)
    multiplicity = _add_leakage_rule(rules, paired, policy)
    verdict, notes = _verdict(rules, policy, runs.notes)
    return Comparison(
        suite=runs.suite,
        suite_info=candidate.suite.model_dump(mode="json", exclude={"rubric", "gate"}),
        base=Side(model=base.model, manifest=base.manifest, n_items=len(base.items), path=base_path),
        candidate=Side(model=candidate.model, manifest=candidate.manifest, n_items=len(candidate.items),
                       path=candidate_path),
        policy=policy,
        n_paired=paired.n_paired,
        criteria=paired.clean.stats(),
        rules=rules,
        verdict=verdict,
        excluded=paired.excluded,
        changes=paired.changes,
        calibration=paired.calibration,
        repeats=paired.repeats,
        leakage=paired.leakage,
        with_leaked=with_leaked,
        notes=notes,
        slices=paired.clean.slice_tables(),
        multiplicity=multiplicity,
    )
