"""Constants of the documents that light modules need without pydantic (the command line, the agreement verb).

Importing this module costs nothing: :mod:`harness.documents` imports its models on demand.
"""

from __future__ import annotations

__all__ = ["AGREEMENT_SCHEMA", "DEFAULT_MIN_ALPHA"]

AGREEMENT_SCHEMA = "harness.agreement/v1"
#: Krippendorff's lowest alpha for drawing tentative conclusions (Content Analysis, 2004, 241):
#: the agreement gate's default floor and a judge criterion's default calibration floor.
DEFAULT_MIN_ALPHA = 0.667
