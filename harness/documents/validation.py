"""The validation document (``harness.validation/v1``): the findings of checking one training file.

A :class:`Finding` is one problem a check found; ``harness validate`` writes one document per file,
and the preflight of ``harness train`` one per run (listing each file's document when there are
several).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from harness.documents.base import Record

__all__ = ["VALIDATION_SCHEMA", "Finding", "Severity", "ValidationDocument"]

VALIDATION_SCHEMA = "harness.validation/v1"
Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


class Finding(BaseModel):
    """One problem found by a check (contract ``harness.validation/v1``)."""

    check: str = Field(description="dotted check name, e.g. 'duplicates.exact'")
    severity: Severity
    message: str
    ids: list[str] = Field(default_factory=list, description="ids of the validated file's examples")
    lines: list[int] = Field(default_factory=list, description="1-based lines of those examples")
    files: list[str] | None = Field(
        default=None, description="the file of each of those lines, when a folder or glob of shards was validated"
    )
    holdout_ids: list[str] | None = None
    holdout: str | None = None
    data: dict[str, Any] | None = None

    def at_least(self, severity: str) -> bool:
        """Whether this finding is at or above ``severity``."""
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[severity]


class ValidationDocument(Record):
    """What validating a training file found (or, with ``files``, several files: the preflight of a run)."""

    schema_: Literal["harness.validation/v1"] = Field(default="harness.validation/v1", alias="schema")
    file: str | list[str]
    format: str | None = None
    kind: str | None = None
    n_records: int | None = None
    n_rows: int | None = None
    checks: list[str] | None = None
    findings: list[Finding]
    truncated: dict[str, int] | None = Field(
        default=None, description="check -> findings left out beyond the per-check cap"
    )
    stats: dict[str, Any] | None = None
    counts: dict[str, int] = Field(description="findings per severity (error, warning, info)")
    fail_on: str | None = None
    holdouts: list[str] | None = None
    leakage_checked: bool | None = None
    files: list[ValidationDocument] | None = Field(default=None, description="each file's document")

    @field_serializer("findings")
    def _findings(self, findings: list[Finding]) -> list[dict[str, Any]]:
        # The optional keys (holdout_ids, holdout, data) are written only when a finding has them.
        return [f.model_dump(mode="json", exclude_none=True) for f in findings]

    def to_document(self) -> dict[str, Any]:
        """The JSON document."""
        return self.model_dump(mode="json", by_alias=True)
