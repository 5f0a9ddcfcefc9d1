"""The train manifest (``harness.train/v1``): ``<run>/manifest.json`` of a ``harness train`` run folder.

What was trained on what, with which code: the base model and the hashes of its files, the
training data and theirs, the resolved configuration's hash, the chat template, the preflight
validation's outcome, the results, and the provenance (git, versions, platform) shared by every
document.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from harness.documents.base import Record
from harness.provenance import Provenance

__all__ = ["TRAIN_KIND", "ChatTemplateRecord", "PreflightSummary", "TrainManifest", "TrainResults"]

TRAIN_KIND = "harness.train/v1"


class ChatTemplateRecord(Record):
    """The chat template used in training (saved beside the weights)."""

    source: str
    file: str
    hash: str


class PreflightSummary(Record):
    """What the preflight validation found and whether training went ahead despite it."""

    fail_on: str
    counts: dict[str, int]
    blocking: int
    allowed_findings: bool
    leakage_checked: bool
    rows_skipped: int = 0


class TrainResults(Record):
    """Steps, losses, time and tokens of the training."""

    global_step: int | None = None
    epochs: float | None = None
    train_loss: float | None = None
    final_train_loss: float | None = None
    eval_loss: float | None = None
    eval: dict[str, int | float] | None = None
    dpo: dict[str, int | float] | None = None
    train_seconds: float | None = None
    trained_tokens: int | None = None
    trained_tokens_per_second: float | None = None
    resumed: bool = False


class TrainManifest(Record, Provenance):
    """The run folder's manifest (layout in :mod:`harness.train.rundir`)."""

    kind: Literal["harness.train/v1"] = "harness.train/v1"
    base_model: str = Field(description="the base model spec as configured")
    base_model_hashes: dict[str, str] = Field(default_factory=dict, description="file name -> BLAKE2b-128")
    method: str | None = None
    adapter: str | None = None
    weights: str | None = Field(default=None, description="'adapter' or 'model': the weights' folder")
    train_data: list[str] = Field(default_factory=list)
    train_data_hashes: dict[str, str] = Field(default_factory=dict)
    eval_data: str | None = None
    eval_data_hash: str | None = None
    holdouts: list[str] = Field(default_factory=list)
    config: str | None = None
    config_source: str | None = None
    config_hash: str | None = None
    seed: int | None = None
    chat_template: ChatTemplateRecord | None = None
    world_size: int | None = None
    device: str | None = None
    preflight: PreflightSummary | None = None
    data: dict[str, Any] | None = None
    eval_data_stats: dict[str, Any] | None = None
    results: TrainResults | None = None
    files: dict[str, str | None] | None = None
    created: str | None = None
    finished: str | None = None
    command: str | None = None

    @field_validator("train_data", mode="before")
    @classmethod
    def _one_file(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value
