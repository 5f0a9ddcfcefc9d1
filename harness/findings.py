"""Finding: one problem a check found (contract ``harness.validation/v1``).

The model lives with the validation document (:mod:`harness.documents.validation`); this module is
the name the validation checks and the leakage engine import it by, below both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.documents.validation import SEVERITY_RANK, Finding, Severity

if TYPE_CHECKING:
    from harness.rows import RowProblem

__all__ = ["SEVERITY_RANK", "Finding", "Severity", "problem_finding"]


def problem_finding(p: RowProblem) -> Finding:
    """The error finding of a row that does not fit its contract, naming its line and field."""
    where = f"line {p.line}" + (f", field '{p.field}'" if p.field else "")
    return Finding(
        check=p.check,
        severity="error",
        message=f"{where}: {p.message}",
        ids=[p.id] if p.id else [],
        lines=[p.line],
        data={"field": p.field} if p.field else None,
    )
