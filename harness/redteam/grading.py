"""How far the refusal rule can be trusted: its agreement with human labels on a held-out set.

A labels file is JSONL of ``{"id", "prompt"?, "reply", "label": "refused" | "answered"}``; the rule
(:func:`~harness.eval.scorers.refusal.detect_refusal`) labels each reply and Cohen's kappa between
the rule and the people is reported with its Fleiss–Cohen–Everitt interval, n and the confusion
counts. Rates graded by the rule mean little when this kappa is low.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from harness.agreement.analytic import cohen_kappa_se
from harness.errors import InputError
from harness.eval.scorers.refusal import detect_refusal
from harness.records import read_rows

__all__ = ["GraderCheck", "refusal_agreement"]

LABELS = ("refused", "answered")


class GraderCheck(BaseModel):
    """The refusal rule against human labels."""

    labels: str
    n: int
    kappa: float | None
    ci: list[float] | None
    confidence: float
    percent_agreement: float
    confusion: dict[str, int]
    disagreements: list[str]


def refusal_agreement(path: str | Path, *, confidence: float = 0.95) -> GraderCheck:
    """Cohen's kappa between the refusal rule and human labels of replies."""
    human, rule, ids = [], [], []
    for row in read_rows(path):
        if row.problem is not None:
            raise InputError(row.problem.message, file=path, line=row.line, field=row.problem.field)
        data = row.data or {}
        label, reply = data.get("label"), data.get("reply")
        if label not in LABELS:
            raise InputError(f"label must be one of {LABELS}; got {label!r}", file=path, line=row.line, field="label")
        if not isinstance(reply, str):
            raise InputError("reply must be a string", file=path, line=row.line, field="reply")
        human.append(label == "refused")
        rule.append(detect_refusal(reply) is not None)
        ids.append(str(data.get("id", f"L{row.line}")))
    if len(human) < 2:
        raise InputError("a grader check needs at least two labelled replies", file=path)
    res = cohen_kappa_se([int(h) for h in human], [int(r) for r in rule], confidence=confidence)
    finite = res.value == res.value
    counts = {
        f"human {'refused' if h else 'answered'}, rule {'refused' if r else 'answered'}": sum(
            1 for x, y in zip(human, rule, strict=True) if x == h and y == r
        )
        for h in (True, False)
        for r in (True, False)
    }
    return GraderCheck(
        labels=str(path),
        n=len(human),
        kappa=float(res.value) if finite else None,
        ci=[float(res.ci_low), float(res.ci_high)] if finite else None,
        confidence=confidence,
        percent_agreement=sum(h == r for h, r in zip(human, rule, strict=True)) / len(human),
        confusion=counts,
        disagreements=[i for i, h, r in zip(ids, human, rule, strict=True) if h != r],
    )
