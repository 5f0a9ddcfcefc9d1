"""Finding: one problem a check found, and the validation report that collects them.

:class:`Finding` and the document (:class:`~harness.documents.validation.ValidationDocument`)
live in :mod:`harness.documents.validation`; they are importable from here too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from harness.documents.validation import (
    SEVERITY_RANK,
    VALIDATION_SCHEMA,
    Finding,
    Severity,
    ValidationDocument,
)

__all__ = ["SEVERITY_RANK", "VALIDATION_SCHEMA", "Finding", "Severity", "ValidationReport"]


class ValidationReport(BaseModel):
    """The result of validating one training file."""

    file: str
    format: str
    kind: str | None
    n_records: int
    n_rows: int
    checks: list[str]
    findings: list[Finding]
    truncated: dict[str, int] = Field(
        default_factory=dict, description="check -> findings left out beyond the per-check cap"
    )
    stats: dict[str, Any] = Field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Number of findings per severity (always all three keys)."""
        c = Counter(f.severity for f in self.findings)
        for check, n in self.truncated.items():
            sev: Severity = "error" if check.startswith("schema") else next(
                (f.severity for f in self.findings if f.check == check), "info"
            )
            c[sev] += n
        return {s: c.get(s, 0) for s in ("error", "warning", "info")}

    def blocking(self, fail_on: str = "error") -> list[Finding]:
        """Findings at or above ``fail_on``."""
        return [f for f in self.findings if f.at_least(fail_on)]

    def to_document(self) -> dict[str, Any]:
        """The ``harness.validation/v1`` JSON document."""
        return ValidationDocument(**dict(self), counts=self.counts()).to_document()
