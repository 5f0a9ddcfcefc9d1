"""How far the refusal rule can be trusted: its agreement with human labels on a held-out set.

A labels file is JSONL of ``{"id", "prompt"?, "reply", "label": "refused" | "answered"}``; the rule
(:func:`~harness.eval.scorers.refusal.detect_refusal`) labels each reply and Cohen's kappa between
the rule and the people is reported with its Fleiss–Cohen–Everitt interval, n and the confusion
counts. Rates graded by the rule mean little when this kappa is low.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from harness.agreement.analytic import cohen_kappa_se
from harness.errors import InputError
from harness.eval.scorers.refusal import detect_refusal
from harness.records import read_rows

__all__ = ["GraderCheck", "JudgeCheck", "Labelled", "agreement", "read_labels", "refusal_agreement"]

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


class JudgeCheck(BaseModel):
    """The judge against human labels, and whether it graded the red-team replies."""

    spec: str
    judge: dict[str, Any] = Field(description="the judge model and grading method")
    status: Literal["calibrated", "below_floor", "undefined"]
    used: bool = Field(description="whether the judge graded the replies (only when calibrated)")
    floor: float = Field(description="the calibration floor (Krippendorff's alpha), as for every judge criterion")
    alpha: float | None
    agreement: GraderCheck = Field(description="Cohen's kappa with its interval, n, confusion, disagreements")
    unscored_labels: int = Field(description="labelled replies the judge could not grade (left out of n)")
    reason: str | None = None
    graded: int = Field(default=0, description="red-team replies the judge graded")
    unscored: int = Field(default=0, description="red-team replies it could not grade (the rule's verdict kept)")
    overruled: int = Field(default=0, description="replies where the judge's verdict differs from the rule's")

    def summary(self) -> str:
        """One line: the agreement, the floor and what was done with the judge."""
        a = self.agreement
        k = "undefined" if a.kappa is None else f"{a.kappa:.3f}"
        ci = f" [{a.ci[0]:.3f}, {a.ci[1]:.3f}]" if a.ci else ""
        alpha = "undefined" if self.alpha is None else f"{self.alpha:.3f}"
        head = (
            f"judge {self.spec} vs human labels ({a.labels}): Cohen's kappa {k}{ci} "
            f"({a.confidence:.0%}), alpha {alpha}, n = {a.n}; floor {self.floor:g}"
        )
        if self.used:
            return f"{head}: calibrated, it graded {self.graded} replies ({self.overruled} differ from the rule)"
        return f"{head}: uncalibrated ({self.reason}), the refusal rule graded"


class Labelled(BaseModel):
    """One human-labelled reply of a labels file."""

    id: str
    prompt: str | None
    reply: str
    refused: bool
    line: int


def read_labels(path: str | Path) -> list[Labelled]:
    """The labelled replies of a labels file; a bad row raises naming the file, line and field."""
    out = []
    for row in read_rows(path):
        if row.problem is not None:
            raise InputError(row.problem.message, file=path, line=row.line, field=row.problem.field)
        data = row.data or {}
        label, reply, prompt = data.get("label"), data.get("reply"), data.get("prompt")
        if label not in LABELS:
            raise InputError(f"label must be one of {LABELS}; got {label!r}", file=path, line=row.line, field="label")
        if not isinstance(reply, str):
            raise InputError("reply must be a string", file=path, line=row.line, field="reply")
        if prompt is not None and not isinstance(prompt, str):
            raise InputError("prompt must be a string", file=path, line=row.line, field="prompt")
        out.append(Labelled(id=str(data.get("id", f"L{row.line}")), prompt=prompt, reply=reply,
                            refused=label == "refused", line=row.line))  # fmt: skip
    if len(out) < 2:
        raise InputError("a grader check needs at least two labelled replies", file=path)
    return out


def agreement(
    path: str | Path, ids: list[str], human: list[bool], grader: list[bool], *, confidence: float = 0.95,
    name: str = "rule",
) -> GraderCheck:
    """Cohen's kappa (Fleiss–Cohen–Everitt interval) between human labels and a grader's."""
    res = cohen_kappa_se([int(h) for h in human], [int(r) for r in grader], confidence=confidence)
    finite = res.value == res.value
    counts = {
        f"human {'refused' if h else 'answered'}, {name} {'refused' if r else 'answered'}": sum(
            1 for x, y in zip(human, grader, strict=True) if x == h and y == r
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
        percent_agreement=sum(h == r for h, r in zip(human, grader, strict=True)) / len(human) if human else 0.0,
        confusion=counts,
        disagreements=[i for i, h, r in zip(ids, human, grader, strict=True) if h != r],
    )


def refusal_agreement(path: str | Path, *, confidence: float = 0.95) -> GraderCheck:
    """Cohen's kappa between the refusal rule and human labels of replies."""
    rows = read_labels(path)
    rule = [detect_refusal(r.reply) is not None for r in rows]
    return agreement(path, [r.id for r in rows], [r.refused for r in rows], rule, confidence=confidence)
