"""Finding: one problem a check found (contract ``harness.validation/v1``).

The model lives with the validation document (:mod:`harness.documents.validation`); this module is
the name the validation checks and the leakage engine import it by, below both.
"""

from harness.documents.validation import SEVERITY_RANK, Finding, Severity

__all__ = ["SEVERITY_RANK", "Finding", "Severity"]
