"""Preflight: validate the training data against the config's holdout suites before any training.

Error findings (leakage, schema, empty fields...) stop the run unless the user allows them; the
validation document is saved in the run folder either way, so what was checked is on record.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from harness.documents.validation import ValidationDocument
from harness.errors import HarnessError, InputError
from harness.validate import ValidationReport, validate_file


class Preflight(BaseModel):
    """The validation of every training file and what it means for the run."""

    reports: list[ValidationReport]
    fail_on: str
    holdouts: list[str]
    leakage_checked: bool

    @property
    def blocking(self) -> int:
        """Number of findings at or above ``fail_on`` over all files."""
        return sum(len(r.blocking(self.fail_on)) for r in self.reports)

    def counts(self) -> dict[str, int]:
        """Findings per severity over all files."""
        out = {"error": 0, "warning": 0, "info": 0}
        for r in self.reports:
            for k, v in r.counts().items():
                out[k] += v
        return out

    def to_document(self) -> dict[str, Any]:
        """A ``harness.validation/v1`` document (one file), or one listing each file's document."""
        docs = [r.to_document() for r in self.reports]
        extra = {"fail_on": self.fail_on, "holdouts": self.holdouts, "leakage_checked": self.leakage_checked}
        if len(docs) == 1:
            return ValidationDocument.model_validate({**docs[0], **extra}).to_document()
        findings = []
        for d in docs:
            for f in d["findings"]:
                findings.append({**f, "data": {**(f.get("data") or {}), "file": d["file"]}})
        return ValidationDocument.model_validate(
            {"file": [d["file"] for d in docs], "findings": findings, "counts": self.counts(), "files": docs, **extra}
        ).to_document()


def _accepts_holdouts() -> bool:
    return "holdouts" in inspect.signature(validate_file).parameters


def run_preflight(train_files: Sequence[Path], holdouts: Sequence[Path], *, fail_on: str = "error") -> Preflight:
    """Validate each training file (against the holdout suites when there are any).

    Raises:
        HarnessError: holdouts are configured but this build's validator has no leakage check.
        InputError: a training file without a single valid record.
    """
    kwargs: dict[str, Any] = {}
    if holdouts:
        if not _accepts_holdouts():
            raise HarnessError(
                "the config lists holdout suites but this build of harness.validate has no leakage check "
                "(validate_file(..., holdouts=...)); remove 'holdouts' from the config to train without it",
                field="holdouts",
            )
        kwargs["holdouts"] = [str(h) for h in holdouts]
    reports = [validate_file(path, **kwargs) for path in train_files]
    for path, report in zip(train_files, reports, strict=True):
        if report.n_records == 0:  # nothing to train on: bad input, not a finding to allow
            what = f"none of its {report.n_rows} row(s) is a valid record" if report.n_rows else "it holds no rows"
            raise InputError(f"not a training file: {what} (harness validate shows why)", file=path,
                             field="train_data")  # fmt: skip
    return Preflight(
        reports=reports, fail_on=fail_on, holdouts=[str(h) for h in holdouts], leakage_checked=bool(holdouts)
    )
