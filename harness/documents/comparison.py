"""The comparison document (``harness.comparison/v1``): the verdict of base × candidate on suites.

Its models are those ``compare`` and ``gate`` build (:mod:`harness.compare.models`); they are
listed here with the other documents.
"""

from harness.compare.models import (
    COMPARISON_SCHEMA,
    Change,
    Comparison,
    ComparisonDocument,
    CriterionStats,
    Excluded,
    GateManifest,
    LeakageInfo,
    RuleResult,
    Side,
)

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
