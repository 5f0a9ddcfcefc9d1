"""The comparison document (``harness.comparison/v1``): the verdict of base × candidate on suites.

Its models are those ``compare`` (paired statistics, :mod:`harness.compare.models`) and ``gate``
(rules and verdicts, :mod:`harness.gate.verdict`) build; they are listed here with the other documents.
"""

from harness.compare.models import Change, CriterionStats, Excluded, LeakageInfo, Side
from harness.gate.verdict import COMPARISON_SCHEMA, Comparison, ComparisonDocument, GateManifest, RuleResult

__all__ = [
    "COMPARISON_SCHEMA",
    "Change",
    "Comparison",
    "ComparisonDocument",
    "CriterionStats",
    "Excluded",
    "GateManifest",
    "LeakageInfo",
    "RuleResult",
    "Side",
]
