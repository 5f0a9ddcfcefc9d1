"""Summaries of scores: an item's overall score over weighted criteria, and a criterion's mean with its interval.

Shared by generated-answer evaluation (:mod:`harness.eval.evaluate`) and log-likelihood methods
(:mod:`harness.eval.loglik`), below both.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.eval.rubric import Criterion
from harness.eval.run import CriterionSummary, Score
from harness.stats.intervals import mean_interval

__all__ = ["overall_score", "summarize"]


def overall_score(scores: dict[str, Score], criteria: Sequence[Criterion]) -> Score:
    """The weighted mean of the criteria with weight > 0; unscored when any of them is."""
    weighted = [c for c in criteria if c.weight > 0]
    missing = [c.id for c in weighted if scores[c.id].value is None]
    spec = {"type": "weighted_mean", "weights": {c.id: c.weight for c in weighted}}
    if missing:
        return Score(value=None, explanation=f"unscored criteria: {', '.join(missing)}", scorer=spec)
    total = sum(c.weight for c in weighted)
    value = sum(c.weight * float(scores[c.id].value or 0.0) for c in weighted) / total
    return Score(value=min(1.0, max(0.0, value)), explanation="weighted mean", scorer=spec)


def summarize(
    values: Sequence[float | None],
    *,
    binary: bool,
    confidence: float = 0.95,
    seed: int | list[int] = 0,
) -> CriterionSummary:
    """Mean, confidence interval and n of a criterion over items (None values are unscored).

    The interval is :func:`harness.stats.intervals.mean_interval`'s, the one every report gives a
    mean: Wilson's when every value is 0 or 1 on a binary criterion, the BCa bootstrap (10,000
    resamples, seeded) otherwise. No scored item gives a null mean with a reason.

    Example:
        >>> s = summarize([1, 0, 1, 1, None], binary=True)
        >>> s.mean, s.n, s.n_unscored, s.method
        (0.75, 4, 1, 'wilson')
    """
    scored = [float(v) for v in values if v is not None]
    unscored = len(values) - len(scored)
    if not scored:
        return CriterionSummary(
            mean=None,
            ci=None,
            n=0,
            n_unscored=unscored,
            method="none",
            confidence=confidence,
            binary=binary,
            reason="no scored items",
        )
    mean = sum(scored) / len(scored)
    interval = mean_interval(scored, binary=binary, confidence=confidence, seed=seed)
    return CriterionSummary(
        mean=mean,
        ci=interval.ci,
        n=len(scored),
        n_unscored=unscored,
        method=interval.method,
        confidence=confidence,
        binary=binary,
        reason=None if interval.ci is not None else "one scored item: no interval",
    )
