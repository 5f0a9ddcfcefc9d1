"""Paired comparison of a base run and a candidate run: paired statistics, nothing decided.

``compare`` reads runs (``harness.run/v1``), never models, and knows nothing of rules or
verdicts: :mod:`harness.gate` applies a policy to what it measures::

    from harness.compare import pair_runs, paired_comparison
    paired = paired_comparison(pair_runs(base_run, candidate_run), policy)
    paired.clean.stats()["accuracy"].ci       # the paired bootstrap interval of Δ
"""

from harness.compare.calibration import Calibration, calibrate_runs, judge_agreement
from harness.compare.models import Change, CriterionStats, Excluded, LeakageInfo, Side
from harness.compare.paired import (
    Analysis,
    PairedComparison,
    PairedCriterion,
    PairedRuns,
    StatsSettings,
    analyse,
    pair_runs,
    paired_comparison,
)
from harness.compare.repeats import VarianceSplit, variance_split
from harness.stats.bootstrap import Bootstrap, Interval, bootstrap_mean, paired_bootstrap
from harness.stats.paired import McNemarResult, Transitions, binomial_test, holm, mcnemar_exact, transitions

__all__ = [
    "Analysis",
    "Bootstrap",
    "Calibration",
    "Change",
    "CriterionStats",
    "Excluded",
    "Interval",
    "LeakageInfo",
    "McNemarResult",
    "PairedComparison",
    "PairedCriterion",
    "PairedRuns",
    "Side",
    "StatsSettings",
    "Transitions",
    "VarianceSplit",
    "analyse",
    "binomial_test",
    "bootstrap_mean",
    "calibrate_runs",
    "holm",
    "judge_agreement",
    "mcnemar_exact",
    "pair_runs",
    "paired_bootstrap",
    "paired_comparison",
    "transitions",
    "variance_split",
]
