"""Evaluation and data-quality harness for fine-tuning language models.

The public API; the command line (``harness``) is a thin layer over it.
"""

# evaluation (issue 5); none of these imports torch
from harness._version import __version__
from harness.errors import (
    ConfigError,
    HarnessError,
    InputError,
    InputFileError,
    ModelError,
    RegistryError,
    SchemaError,
)
from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite, write_run
from harness.eval.items import Item
from harness.eval.rubric import Criterion, Rubric
from harness.eval.run import Run, load_run
from harness.eval.suite import Suite, load_rubric, load_suite
from harness.leakage import HoldoutItem, LeakageResult, load_holdout, scan_leakage
from harness.models.base import GenerationSettings, Generator
from harness.models.factory import make_generator
from harness.records import (
    ChatRecord,
    PreferenceRecord,
    RatingRecord,
    SFTRecord,
    iter_records,
    read_rows,
)
from harness.validate import Finding, ValidationReport, validate_file

__all__ = [
    "ChatRecord",
    "ConfigError",
    "Criterion",
    "Finding",
    "GenerationCache",
    "GenerationSettings",
    "Generator",
    "HarnessError",
    "HoldoutItem",
    "InputError",
    "InputFileError",
    "Item",
    "LeakageResult",
    "ModelError",
    "PreferenceRecord",
    "RatingRecord",
    "RegistryError",
    "Rubric",
    "Run",
    "SFTRecord",
    "SchemaError",
    "Suite",
    "ValidationReport",
    "__version__",
    "evaluate_suite",
    "iter_records",
    "load_holdout",
    "load_rubric",
    "load_run",
    "load_suite",
    "make_generator",
    "read_rows",
    "scan_leakage",
    "validate_file",
    "write_run",
]
