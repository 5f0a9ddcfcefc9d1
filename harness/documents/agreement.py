"""The agreement document (``harness.agreement/v1``): coefficients with intervals, diagnostics, the gate.

Also the one default floor for Krippendorff's alpha, used by the agreement gate and by judge
calibration alike.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from harness.documents.base import Record
from harness.documents.constants import AGREEMENT_SCHEMA, DEFAULT_MIN_ALPHA

__all__ = [
    "AGREEMENT_SCHEMA",
    "DEFAULT_MIN_ALPHA",
    "AgreementDocument",
    "AgreementGate",
    "AgreementGroup",
    "BootstrapSettings",
    "Coefficient",
]

class Coefficient(Record):
    """One coefficient of one group: its value and interval, or a reason why there is none."""

    value: float | None
    ci: list[float] | None = Field(description="bootstrap percentile interval")
    reason: str | None = None
    applicable: bool | None = Field(default=None, description="False: not defined for this group or level")
    se: float | None = None
    ci_analytic: list[float | None] | None = None
    n: int | None = None
    level: str | None = None
    weights: str | None = None
    form: str | None = None
    bootstrap_undefined: int | None = Field(default=None, description="resamples where it was undefined")


class AgreementGate(Record):
    """Krippendorff's alpha interval against the floor."""

    coefficient: str
    min_alpha: float
    verdict: Literal["pass", "fail", "inconclusive"]
    reason: str


class AgreementGroup(Record):
    """The ratings of one criterion (or all of them): coefficients, raters, items, drift."""

    criterion: str | None
    n_items: int
    n_raters: int
    n_ratings: int | None = None
    pairable_items: int | None = None
    missing_share: float | None = None
    categories: list[Any] | None = None
    duplicates_ignored: int | None = None
    coefficients: dict[str, Coefficient]
    gate: AgreementGate | None = None
    raters: list[dict[str, Any]]
    items: list[dict[str, Any]]
    drift: dict[str, Any] | None = None
    pairwise: dict[str, Any] | None = None


class BootstrapSettings(Record):
    """How the intervals were drawn."""

    resamples: int
    seed: int
    confidence: float
    method: str | None = None


class AgreementDocument(Record):
    """Inter-rater agreement of one ratings file at one level of measurement."""

    schema_: Literal["harness.agreement/v1"] = Field(default="harness.agreement/v1", alias="schema")
    level: str
    file: str | None = None
    form: str | None = None
    by: str | None = None
    scale: str | None = None
    n_ratings: int | None = None
    bootstrap: BootstrapSettings | None = None
    analytic_ci: str | None = None
    outlier_rule: str | None = None
    min_alpha: float | None = None
    verdict: Literal["pass", "fail", "inconclusive"] | None = None
    groups: list[AgreementGroup]

    def to_document(self) -> dict[str, Any]:
        """The JSON document."""
        return self.model_dump(mode="json", by_alias=True)
