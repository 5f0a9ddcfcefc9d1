"""The run folder: its layout, the training log, the loss curve.

Layout (other code reads it; a change is a versioned change of ``harness.train/v1``)::

    <run>/manifest.json        kind harness.train/v1 (harness.documents.train.TrainManifest): base_model,
                               hashes, seed, provenance (git, versions, platform), train_data,
                               holdouts, results
    <run>/adapter/             PEFT adapter (safetensors), or <run>/model/ (full weights)
    <run>/tokenizer*.json, chat_template.jinja   the tokenizer and chat template used in training
    <run>/config.yaml          the resolved configuration
    <run>/validation.json      the preflight validation (harness.validation/v1)
    <run>/train_log.jsonl      one JSON line per log event
    <run>/loss.png             training (and eval) loss by step
    <run>/model_card.md        what data, which checks, what results
    <run>/checkpoints/         Trainer checkpoints (resume)
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.documents.train import TRAIN_KIND
from harness.files import write_atomic

RUN_KIND = TRAIN_KIND


def read_log(path: Path) -> list[dict[str, Any]]:
    """The rows of a ``train_log.jsonl`` (missing file: none)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_log(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Rewrite ``train_log.jsonl`` atomically."""
    write_atomic(path, "".join(json.dumps(r, default=float) + "\n" for r in rows))


def plot_loss(rows: list[dict[str, Any]], path: Path, *, title: str) -> bool:
    """Draw training and eval loss by step as a PNG; False when there is nothing to draw."""
    train = [(r["step"], r["loss"]) for r in rows if "loss" in r and "step" in r]
    evals = [(r["step"], r["eval_loss"]) for r in rows if "eval_loss" in r and "step" in r]
    if not train and not evals:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=100)
    if train:
        ax.plot(*zip(*train, strict=True), label="train loss", linewidth=1.2)
    if evals:
        ax.plot(*zip(*evals, strict=True), "o-", label="eval loss", markersize=4)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())
    return True
