"""Run: the per-item outputs and scores of one model on one suite (``harness.run/v1``).

``evaluate`` writes runs; ``compare`` reads them and never touches a model. The document's models
live in :mod:`harness.documents.run`; they are importable from here too.
"""

from harness.documents.run import (
    RUN_SCHEMA,
    Attempt,
    CriterionSummary,
    ItemResult,
    ModelIdentity,
    Run,
    RunManifest,
    Score,
    SuiteRecord,
    load_run,
)

__all__ = [
    "RUN_SCHEMA",
    "Attempt",
    "CriterionSummary",
    "ItemResult",
    "ModelIdentity",
    "Run",
    "RunManifest",
    "Score",
    "SuiteRecord",
    "load_run",
]
