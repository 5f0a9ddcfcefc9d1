"""The run folder: its layout, the checks before a run writes into it, the training log, the loss curve.

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

A run refused by preflight leaves only ``validation.json`` and ``refused.json`` (why, and how to
rerun); such a folder is not a run, and the next ``harness train --out`` into it replaces them.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from harness.errors import ConfigError, InputFileError
from harness.files import write_atomic
from harness.train.preflight import Preflight

if TYPE_CHECKING:
    from harness.train.config import TrainConfig

REFUSED = "refused.json"
REFUSAL_FILES = frozenset({REFUSED, "validation.json"})


class TrainResult(BaseModel):
    """What ``train`` did: ``blocked`` by preflight findings, or ``trained``."""

    status: Literal["trained", "blocked"]
    run_dir: Path
    preflight: Preflight
    manifest: dict[str, Any] | None = None


def _only_a_refusal(run_dir: Path) -> bool:
    """The folder holds nothing but a refused attempt's findings (a rerun may replace them)."""
    names = {p.name for p in run_dir.iterdir()}
    return REFUSED in names and names <= REFUSAL_FILES


def check_run_dir(run_dir: Path, cfg: TrainConfig, resume: bool) -> None:
    """Refuse a run folder that cannot take this run: not empty (new run) or not resumable (``resume``).

    Raises:
        InputFileError: a folder in use, or nothing to resume from.
        ConfigError: ``resume`` with a configuration other than the saved one.
    """
    if not resume:
        if run_dir.exists() and any(run_dir.iterdir()) and not _only_a_refusal(run_dir):
            raise InputFileError(
                "run folder already exists and is not empty; pass --resume to continue it or choose another --out",
                file=run_dir,
            )
        return
    from transformers.trainer_utils import get_last_checkpoint

    saved = run_dir / "config.yaml"
    if run_dir.is_dir() and _only_a_refusal(run_dir):
        raise InputFileError(
            "--resume: the last attempt in this folder was refused by preflight and never trained; "
            "rerun without --resume (add --allow-findings to train despite the findings)",
            file=run_dir,
        )
    if not saved.is_file():
        raise InputFileError("--resume: no config.yaml here; this is not a harness train run folder", file=run_dir)
    import yaml

    old = yaml.safe_load(saved.read_text(encoding="utf-8"))
    new = cfg.model_dump(mode="json")
    changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
    if changed:
        raise ConfigError(
            f"--resume with a different configuration (changed: {', '.join(changed)}); a resumed run must "
            "train the same thing. Start a new run folder instead",
            file=saved,
        )
    ckpt_dir = run_dir / "checkpoints"
    if not ckpt_dir.is_dir() or get_last_checkpoint(str(ckpt_dir)) is None:
        raise InputFileError("--resume: no checkpoint to resume from in checkpoints/", file=run_dir)


def refusal_document(cfg: TrainConfig, preflight: Preflight) -> dict[str, Any]:
    """``refused.json``: why preflight refused the run and how to rerun."""
    return {
        "schema": "harness.train_refusal/v1",
        "status": "blocked",
        "reason": f"{preflight.blocking} preflight findings at or above '{preflight.fail_on}'",
        "counts": preflight.counts(),
        "validation": "validation.json",
        "train_data": [str(p) for p in cfg.train_data],
        "holdouts": [str(h) for h in cfg.holdouts],
        "rerun": "fix the data, or pass --allow-findings to train anyway (the run records it)",
    }


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


def save_outputs(
    cfg: TrainConfig, run_dir: Path, tokenizer: Any, log: list[dict[str, Any]], weights_dir: Path, *, label: str
) -> bool:
    """The tokenizer, the full training log and the loss curve in the run folder; whether a curve was drawn."""
    tokenizer.save_pretrained(run_dir)
    if cfg.adapter == "full":
        tokenizer.save_pretrained(weights_dir)  # model/ is then a complete Hugging Face folder too
    log_path = run_dir / "train_log.jsonl"
    write_log(log_path, [{"step": r.get("step"), "epoch": r.get("epoch"), **r} for r in log])
    return plot_loss(read_log(log_path), run_dir / "loss.png", title=f"{cfg.method} {cfg.adapter}: {label}")
