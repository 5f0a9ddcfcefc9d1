"""Finding: one problem a check found (contract ``harness.validation/v1``).

Shared by the validation checks and the leakage engine, so it sits below both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = ["SEVERITY_RANK", "Finding", "Severity"]

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"info": 0, "warning": 1, "error": 2}


class Finding(BaseModel):
    """One problem found by a check (contract ``harness.validation/v1``)."""

    check: str = Field(description="dotted check name, e.g. 'duplicates.exact'")
    severity: Severity
    message: str
    ids: list[str] = Field(default_factory=list, description="ids of the validated file's examples")
    lines: list[int] = Field(default_factory=list, description="1-based lines of those examples")
    holdout_ids: list[str] | None = None
    holdout: str | None = None
    data: dict[str, Any] | None = None

    def at_least(self, severity: str) -> bool:
        """Whether this finding is at or above ``severity``."""
        return SEVERITY_RANK[self.severity] >= SEVERITY_RANK[severity]
