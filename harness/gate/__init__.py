"""The release gate: a policy of rules, the verdict and its exit code, and the gate run.

``harness gate`` evaluates base and candidate on each suite (``harness.eval``), measures them with
paired statistics (``harness.compare``) and applies the policy here::

    from harness.gate import compare_runs, gate_result, load_policy
    comparison = compare_runs(load_run("base/run.json"), load_run("cand/run.json"), load_policy("gate.yaml"))
    result = gate_result([comparison])        # result.verdict, result.exit_code, result.to_document()
"""

from harness.gate.judge import compare_runs, judge_rules
from harness.gate.policy import Decision, Policy, Rule, decide, load_policy, policy_from_gate
from harness.gate.rules import policy_of
from harness.gate.verdict import (
    COMPARISON_SCHEMA,
    EXIT_CODES,
    Comparison,
    GateResult,
    RuleResult,
    SliceTest,
    Verdict,
    apply_holm,
    combine_verdicts,
    gate_result,
)

__all__ = [
    "COMPARISON_SCHEMA",
    "EXIT_CODES",
    "Comparison",
    "Decision",
    "GateResult",
    "Policy",
    "Rule",
    "RuleResult",
    "SliceTest",
    "Verdict",
    "apply_holm",
    "combine_verdicts",
    "compare_runs",
    "decide",
    "gate_result",
    "judge_rules",
    "load_policy",
    "policy_from_gate",
    "policy_of",
]
