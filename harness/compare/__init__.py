"""Paired comparison of a base run and a candidate run, the release policy and its verdict.

``compare`` reads runs (``harness.run/v1``), never models::

    from harness.compare import compare_runs, gate_result, load_policy
    comparison = compare_runs(load_run("base/run.json"), load_run("cand/run.json"), load_policy("gate.yaml"))
    result = gate_result([comparison])        # result.verdict, result.exit_code, result.to_document()
"""

from harness.compare.calibration import Calibration, calibrate_runs, judge_agreement
from harness.compare.engine import compare_runs, gate_result, policy_of
from harness.compare.models import (
    COMPARISON_SCHEMA,
    EXIT_CODES,
    Change,
    Comparison,
    CriterionStats,
    Excluded,
    GateResult,
    LeakageInfo,
    RuleResult,
    combine_verdicts,
)
from harness.compare.repeats import VarianceSplit, variance_split
from harness.gate.policy import Decision, Policy, Rule, decide, load_policy, policy_from_gate
from harness.stats.paired import (
    Bootstrap,
    Interval,
    McNemarResult,
    Transitions,
    binomial_test,
    bootstrap_mean,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    transitions,
)

__all__ = [
    "COMPARISON_SCHEMA",
    "EXIT_CODES",
    "Bootstrap",
    "Calibration",
    "Change",
    "Comparison",
    "CriterionStats",
    "Decision",
    "Excluded",
    "GateResult",
    "Interval",
    "LeakageInfo",
    "McNemarResult",
    "Policy",
    "Rule",
    "RuleResult",
    "Transitions",
    "VarianceSplit",
    "binomial_test",
    "bootstrap_mean",
    "calibrate_runs",
    "combine_verdicts",
    "compare_runs",
    "decide",
    "gate_result",
    "holm",
    "judge_agreement",
    "load_policy",
    "mcnemar_exact",
    "paired_bootstrap",
    "policy_from_gate",
    "policy_of",
    "transitions",
    "variance_split",
]
