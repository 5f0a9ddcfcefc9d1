"""The run manifest (``<run>/manifest.json``, :class:`~harness.documents.train.TrainManifest`).

One builder for every method: the keys every run has (provenance, base model and data hashes,
configuration, chat template, preflight) from :class:`RunFacts`, the results from :class:`Fit`,
then the method's own keys (data statistics and rankings conversions offline; the reward, KL and
reward per step online).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.documents.train import TRAIN_KIND, ChatTemplateRecord, PreflightSummary, TrainManifest, TrainResults
from harness.provenance import collect_provenance, hash_files, model_hashes
from harness.train.preflight import Preflight

if TYPE_CHECKING:
    from harness.models.spec import ModelSpec
    from harness.train.collate import TemplateChoice
    from harness.train.config import TrainConfig
    from harness.train.data import TrainingData

__all__ = ["Fit", "RunFacts", "offline_manifest", "online_manifest", "timestamp", "train_and_measure"]


def timestamp(t: float | None = None) -> str:
    """UTC time as the manifests write it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class RunFacts(NamedTuple):
    """What a run was: its configuration, base, template, preflight, where and when it ran."""

    cfg: TrainConfig
    spec: ModelSpec
    template: TemplateChoice
    preflight: Preflight
    allow_findings: bool
    rows_skipped: int
    weights_dir: Path
    world_size: int
    device: str
    config_source: str | Path
    started: float
    command: str | None


class Fit(NamedTuple):
    """What ``Trainer.train`` returned and what was measured around it."""

    output: Any  # transformers' TrainOutput: global_step, training_loss
    epochs: float | None
    log: list[dict[str, Any]]  # the trainer's log history (eval rows included)
    seconds: float
    eval_metrics: dict[str, Any]
    resumed: bool


def train_and_measure(trainer: Any, *, resume: bool, evaluate: bool) -> Fit:
    """Train (from the last checkpoint when resuming), evaluate on the eval split if asked, and time it."""
    t0 = time.time()
    output = trainer.train(resume_from_checkpoint=True if resume else None)
    seconds = time.time() - t0
    eval_metrics = trainer.evaluate() if evaluate else {}
    return Fit(output, trainer.state.epoch, trainer.state.log_history, seconds, eval_metrics, resume)


def _common_fields(run: RunFacts) -> dict[str, Any]:
    """The keys every run manifest has, whatever the method."""
    cfg, spec, preflight = run.cfg, run.spec, run.preflight
    return {
        **collect_provenance().model_dump(),
        "base_model": cfg.base_model,
        "base_model_hashes": model_hashes(spec.weights_folder(), spec.path if spec.kind == "gguf" else None),
        "method": cfg.method,
        "adapter": cfg.adapter,
        "weights": run.weights_dir.name,
        "train_data": [str(p) for p in cfg.train_data],
        "train_data_hashes": hash_files(cfg.train_data),
        "holdouts": [str(h) for h in cfg.holdouts],
        "config": "config.yaml",
        "config_source": str(run.config_source),
        "config_hash": cfg.fingerprint(),
        "seed": cfg.seed,
        "chat_template": ChatTemplateRecord(
            source=run.template.source,
            file="chat_template.jinja",
            hash=hashlib.blake2b(run.template.template.encode(), digest_size=16).hexdigest(),
        ),
        "world_size": run.world_size,
        "device": run.device,
        "preflight": PreflightSummary(
            fail_on=preflight.fail_on,
            counts=preflight.counts(),
            blocking=preflight.blocking,
            allowed_findings=bool(preflight.blocking and run.allow_findings),
            leakage_checked=preflight.leakage_checked,
            rows_skipped=run.rows_skipped,
        ),
    }


def _common_results(fit: Fit) -> dict[str, Any]:
    """Steps, losses and time, as every method reports them."""
    losses = [r["loss"] for r in fit.log if "loss" in r]
    return {
        "global_step": fit.output.global_step,
        "epochs": fit.epochs,
        "train_loss": fit.output.training_loss,
        "final_train_loss": losses[-1] if losses else None,
        "eval_loss": fit.eval_metrics.get("eval_loss"),
        "eval": {k: v for k, v in fit.eval_metrics.items() if isinstance(v, int | float)},
        "train_seconds": fit.seconds,
        "resumed": fit.resumed,
    }


def _offline_results(method: str, fit: Fit, trained_tokens: int) -> TrainResults:
    """The results of SFT, DPO and reward runs: the common ones, the last logged rewards, the tokens."""
    last = {k: v for r in fit.log for k, v in r.items() if k.startswith(("rewards/", "eval_rewards/"))}
    return TrainResults(
        **_common_results(fit),
        dpo=(last or None) if method == "dpo" else None,
        reward=(last or None) if method == "reward" else None,
        trained_tokens=trained_tokens,
        trained_tokens_per_second=trained_tokens / fit.seconds if fit.seconds else None,
    )


def offline_manifest(
    run: RunFacts, data: TrainingData, fit: Fit, *, trained_tokens: int, plotted: bool
) -> dict[str, Any]:
    """The manifest of an SFT, DPO or reward run, as JSON."""
    cfg = run.cfg
    return TrainManifest(
        **_common_fields(run),
        eval_data=str(cfg.eval_data) if cfg.eval_data else None,
        eval_data_hash=hash_files([cfg.eval_data])[str(cfg.eval_data)] if cfg.eval_data else None,
        data=data.train.stats.model_dump(),
        eval_data_stats=data.eval.stats.model_dump() if data.eval else None,
        pairs_from_rankings=data.conversions or None,
        results=_offline_results(cfg.method, fit, trained_tokens),
        files={"log": "train_log.jsonl", "loss_plot": "loss.png" if plotted else None, "card": "model_card.md"},
        created=timestamp(run.started),
        finished=timestamp(),
        command=run.command,
    ).model_dump(mode="json")


def online_manifest(run: RunFacts, fit: Fit, *, n_prompts: int, online: dict[str, Any]) -> dict[str, Any]:
    """The manifest of a GRPO or RLOO run (the keys of the other methods', plus ``online``), as JSON."""
    manifest: dict[str, Any] = {
        **_common_fields(run),
        "kind": TRAIN_KIND,
        "eval_data": None,
        "data": {
            "n_records": n_prompts,
            "n_kept": n_prompts,
            "n_truncated": 0,
            "n_dropped": 0,
            "dropped_ids": [],
            "n_tokens": 0,
            "n_trained_tokens": 0,
            "unit": "distinct prompts",
        },
        "online": online,
        "results": _common_results(fit),
        "files": {"log": "train_log.jsonl", "loss_plot": "loss.png", "card": "model_card.md"},
        "created": timestamp(run.started),
        "finished": timestamp(),
        "command": run.command,
    }
    return TrainManifest.model_validate(manifest).model_dump(mode="json")
