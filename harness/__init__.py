"""Evaluation and data-quality harness for fine-tuning language models.

The public API; the command line (``harness``) is a thin layer over it.
"""

from harness.errors import (
    ConfigError,
    HarnessError,
    InputError,
    InputFileError,
    ModelError,
    RegistryError,
    SchemaError,
)
from harness.leakage import HoldoutItem, LeakageResult, load_holdout, scan_leakage
from harness.records import (
    ChatRecord,
    PreferenceRecord,
    RatingRecord,
    SFTRecord,
    iter_records,
    read_rows,
)
from harness.validate import Finding, ValidationReport, validate_file

__version__ = "0.1.0"

__all__ = [
    "ChatRecord",
    "ConfigError",
    "Finding",
    "HarnessError",
    "HoldoutItem",
    "InputError",
    "InputFileError",
    "LeakageResult",
    "ModelError",
    "PreferenceRecord",
    "RatingRecord",
    "RegistryError",
    "SFTRecord",
    "SchemaError",
    "ValidationReport",
    "__version__",
    "iter_records",
    "load_holdout",
    "read_rows",
    "scan_leakage",
    "validate_file",
]
