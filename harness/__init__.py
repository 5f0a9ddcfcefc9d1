"""Evaluation and data-quality harness for fine-tuning language models.

The public API; the command line (``harness``) is a thin layer over it. Names are imported
lazily (PEP 562 module ``__getattr__``): ``import harness`` loads nothing heavy, so data-only
verbs and ``--help`` start without numpy's, torch's or scipy's import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from harness._version import __version__

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ConfigError": "harness.errors",
    "HarnessError": "harness.errors",
    "InputError": "harness.errors",
    "InputFileError": "harness.errors",
    "ModelError": "harness.errors",
    "OutputError": "harness.errors",
    "RegistryError": "harness.errors",
    "SchemaError": "harness.errors",
    "GenerationCache": "harness.eval.cache",
    "evaluate_suite": "harness.eval.evaluate",
    "write_run": "harness.report.run",
    "Criterion": "harness.eval.rubric",
    "Rubric": "harness.eval.rubric",
    "load_rubric": "harness.eval.suite",
    "Run": "harness.eval.run",
    "load_run": "harness.eval.run",
    "Item": "harness.eval.items",
    "Suite": "harness.eval.suite",
    "load_suite": "harness.eval.suite",
    "HoldoutItem": "harness.leakage",
    "LeakageResult": "harness.leakage",
    "load_holdout": "harness.leakage",
    "scan_leakage": "harness.leakage",
    "GenerationSettings": "harness.models.base",
    "Generator": "harness.models.base",
    "make_generator": "harness.models.factory",
    "ChatRecord": "harness.records",
    "PreferenceRecord": "harness.records",
    "RatingRecord": "harness.records",
    "SFTRecord": "harness.records",
    "iter_records": "harness.records",
    "read_rows": "harness.records",
    "Finding": "harness.validate",
    "ValidationReport": "harness.validate",
    "validate_file": "harness.validate",
}

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
    "OutputError",
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


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for type checkers and IDEs only; nothing is imported at run time
    from harness.errors import (
        ConfigError,
        HarnessError,
        InputError,
        InputFileError,
        ModelError,
        OutputError,
        RegistryError,
        SchemaError,
    )
    from harness.eval.cache import GenerationCache
    from harness.eval.evaluate import evaluate_suite
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
    from harness.report.run import write_run
    from harness.validate import Finding, ValidationReport, validate_file
