"""Repeated attempts: per-item means, and the variance from generation apart from grading.

With ``--repeats K`` each item is generated K times and each output graded. A score then varies
for three reasons: items differ (between items), the model writes different outputs (generation)
and the grader gives the same output different scores (grading). The nested design
item ⊃ distinct output ⊃ grading separates the last two: attempts of one item that produced the
same output text can only differ by grading. The estimates are the method-of-moments (ANOVA)
estimators of the nested random-effects model, for unbalanced groups (Searle, Casella & McCulloch
1992, ch. 3):

* grading  σ²_g = SS within output groups / Σ (k_og − 1);
* generation σ²_o = (MS between outputs within items − σ²_g) / c, with
  c = (N − Σ_i Σ_o k_io² / k_i) / Σ_i (O_i − 1), clipped at 0.

A deterministic scorer (exact, regex, JSON checks...) has no grading variance by construction. A
model-graded criterion whose attempts never repeat an output leaves grading unidentified: both
parts are then null with the reason, and only their sum (the within-item variance) is given.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

__all__ = ["MODEL_GRADED", "VarianceSplit", "variance_split"]

# Scorer types whose score of a given output can change from one grading to the next.
MODEL_GRADED = frozenset({"judge", "human"})


class VarianceSplit(BaseModel):
    """Variance components of one criterion's scores in one run with repeats."""

    n_items: int
    attempts: int = Field(description="scored attempts in all")
    attempts_per_item: float = Field(description="mean number of scored attempts per item")
    item_mean: float | None = Field(description="mean of the per-item means")
    between_items: float | None = Field(description="variance of the per-item means (ddof 1)")
    within_item: float | None = Field(description="pooled variance of attempts around their item's mean")
    generation: float | None
    grading: float | None
    grading_from: str | None = Field(description="'duplicate outputs' or 'deterministic scorer'")
    reason: str | None = None


def variance_split(
    attempts: Sequence[Sequence[tuple[str, float]]], *, deterministic: bool = False
) -> VarianceSplit:
    """Split the variance of repeated scores into generation and grading parts.

    Args:
        attempts: per item, its scored attempts as ``(output text, score)`` pairs.
        deterministic: True when the scorer always gives an output the same score.

    Returns:
        A :class:`VarianceSplit` (null parts carry a reason).

    Example:
        >>> split = variance_split([[("a", 1.0), ("a", 0.0), ("b", 1.0)], [("c", 0.0), ("c", 0.0)]])
        >>> split.grading, split.grading_from
        (0.25, 'duplicate outputs')
    """
    items = [list(a) for a in attempts if len(a) > 0]
    n_items = len(items)
    total = sum(len(a) for a in items)
    if n_items == 0:
        return VarianceSplit(
            n_items=0, attempts=0, attempts_per_item=0.0, item_mean=None, between_items=None,
            within_item=None, generation=None, grading=None, grading_from=None, reason="no scored attempts",
        )
    means = np.array([np.mean([s for _, s in a]) for a in items])
    between = float(np.var(means, ddof=1)) if n_items > 1 else None
    ss_within = sum(float(np.sum((np.array([s for _, s in a]) - m) ** 2)) for a, m in zip(items, means, strict=True))
    df_within = total - n_items
    within = ss_within / df_within if df_within > 0 else None

    ss_grade = df_grade = 0.0
    ss_gen = df_gen = 0.0
    c_num = 0.0
    for a, m in zip(items, means, strict=True):
        groups: dict[str, list[float]] = defaultdict(list)
        for out, s in a:
            groups[out].append(s)
        k_i = len(a)
        sq = 0.0
        for scores in groups.values():
            g = np.array(scores)
            ss_grade += float(np.sum((g - g.mean()) ** 2))
            df_grade += g.size - 1
            ss_gen += g.size * (float(g.mean()) - m) ** 2
            sq += g.size**2
        df_gen += len(groups) - 1
        c_num += k_i - sq / k_i
    base: dict[str, Any] = {
        "n_items": n_items,
        "attempts": total,
        "attempts_per_item": total / n_items,
        "item_mean": float(means.mean()),
        "between_items": between,
        "within_item": within,
    }
    if within is None:
        return VarianceSplit(
            **base, generation=None, grading=None, grading_from=None, reason="one attempt per item: no repeats"
        )
    if df_grade > 0:
        grading, source = ss_grade / df_grade, "duplicate outputs"
    elif deterministic:
        grading, source = 0.0, "deterministic scorer"
    else:
        return VarianceSplit(
            **base,
            generation=None,
            grading=None,
            grading_from=None,
            reason="model-graded criterion and no output was generated twice: grading variance is not identified",
        )
    if df_gen == 0:
        # Every attempt of every item produced the same output: all variation is grading.
        return VarianceSplit(**base, generation=0.0, grading=grading, grading_from=source)
    ms_gen = ss_gen / df_gen
    c = c_num / df_gen
    generation = max(0.0, (ms_gen - grading) / c)
    return VarianceSplit(**base, generation=generation, grading=grading, grading_from=source)
