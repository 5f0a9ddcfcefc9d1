"""The validation document that collects the findings of every check (``harness.validation/v1``)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from harness.findings import SEVERITY_RANK, Finding, Severity

__all__ = ["SEVERITY_RANK", "VALIDATION_SCHEMA", "Finding", "Severity", "ValidationReport"]

VALIDATION_SCHEMA = "harness.validation/v1"


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
        doc = {"schema": VALIDATION_SCHEMA, **self.model_dump(mode="json")}
        doc["counts"] = self.counts()
        doc["findings"] = [f.model_dump(mode="json", exclude_none=True) for f in self.findings]
        return doc
