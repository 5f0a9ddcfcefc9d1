"""Online RL (``method: grpo`` or ``rloo``): TRL's GRPOTrainer / RLOOTrainer, a reward we name.

TRL does the work: sampling ``online.num_generations`` completions per prompt, group-relative
advantages (GRPO) or leave-one-out baselines (RLOO), the clipped policy loss and the KL penalty
``beta`` to the reference (the base with the LoRA adapter disabled, or a frozen copy for full
fine-tuning). This module supplies the prompts (the ``prompt`` of SFT, preference or ranking
records, or a chat's turns before its last assistant turn), the reward, and the run folder.

The reward is either a trained reward model (``reward: {type: reward_model, model: RUN}``, the
raw reward of each completion) or any registered scorer (``reward: {type: json_valid}``, with
the scorer's options beside ``type``; the score in [0, 1]; a completion the scorer cannot score
gets 0). Every logged step records the mean KL to the reference (``kl``) and the mean reward.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, InputError
from harness.files import write_atomic, write_json
from harness.records import ChatRecord, PreferenceRecord, RankingRecord, SFTRecord
from harness.train.collate import resolve_chat_template
from harness.train.config import TrainConfig, check_paths
from harness.train.data import read_records
from harness.train.manifest import RunFacts, online_manifest, train_and_measure
from harness.train.preflight import run_preflight
from harness.train.rundir import TrainResult, check_run_dir, save_outputs, write_log

__all__ = ["make_reward", "prompt_rows"]


def prompt_rows(records: list[Any], source: Path) -> list[dict[str, Any]]:
    """The prompts of training records as TRL's conversational ``prompt`` column (one per distinct prompt).

    Raises:
        InputError: a chat record without a user turn before its last assistant turn; no prompt.
    """
    rows, seen = [], set()
    for r in records:
        if isinstance(r, SFTRecord | PreferenceRecord | RankingRecord):
            value = r.prompt
            msgs = [{"role": "user", "content": value}] if isinstance(value, str) else [m.model_dump() for m in value]
        elif isinstance(r, ChatRecord):
            turns = [m.model_dump() for m in r.messages]
            last = max((i for i, m in enumerate(turns) if m["role"] == "assistant"), default=len(turns))
            msgs = turns[:last]
            if not any(m["role"] == "user" for m in msgs):
                raise InputError("a chat record needs a user turn to prompt with", file=source, line=r.line)
        else:
            continue
        key = repr(msgs)
        if key in seen:
            continue
        seen.add(key)
        extra = {k: v for k, v in (r.model_extra or {}).items() if k not in ("completion", "chosen", "rejected")}
        rows.append({"prompt": msgs, "id": r.id, "reference": extra.get("reference")})
    if not rows:
        raise InputError("no prompts in the training data for an online method", file=source)
    return rows


def make_reward(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """The reward function TRL calls, ``f(prompts, completions, **columns) -> list[float]``, and its record.

    The builders live with evaluation (:mod:`harness.eval.rewards`) and are found through the plug-in
    registry (``harness list rewards``): a trained reward model, or any registered scorer.
    """
    from harness.registry import registry

    assert cfg.online is not None
    source = "reward_model" if cfg.online.reward.type == "reward_model" else "scorer"
    build: Any = registry("rewards").get(source)
    return build(cfg)


def build_trainer(
    cfg: TrainConfig, model: Any, tokenizer: Any, dataset: Any, reward: Any, run_dir: Path, callbacks: list[Any]
) -> Any:
    """TRL's GRPOTrainer or RLOOTrainer over the prompts, with the LoRA adapter when configured."""
    import torch

    assert cfg.online is not None
    if importlib.util.find_spec("trl") is None:
        raise ConfigError(
            f"method '{cfg.method}' runs on TRL, which is not installed: pip install 'harness[rl]'", field="method"
        )
    if cfg.method == "grpo":
        from trl import GRPOConfig as Config
        from trl import GRPOTrainer as Trainer
    else:
        from trl import RLOOConfig as Config  # type: ignore[assignment]
        from trl import RLOOTrainer as Trainer  # type: ignore[assignment]
    o = cfg.online
    args = Config(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=o.num_generations,
        max_completion_length=o.max_completion_length,
        temperature=o.temperature,
        beta=o.beta,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        bf16=cfg.dtype == "bfloat16",
        use_cpu=not torch.cuda.is_available(),
        report_to="none",
        disable_tqdm=True,
        # TRL turns activation checkpointing on by default; the config decides here as for the other methods.
        gradient_checkpointing=cfg.gradient_checkpointing,
    )
    peft_config = None
    if cfg.adapter == "lora":
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,  # type: ignore[arg-type]
            lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules,
            bias=cfg.lora.bias,
            task_type="CAUSAL_LM",
        )
    trainer = Trainer(
        model=model,
        reward_funcs=[reward],
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=callbacks,
    )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    return trainer


_KL = {
    "grpo": "TRL GRPO's per-token k3 estimate exp(ref - logp) - (ref - logp) - 1 of KL(policy || reference), "
    "mean over completion tokens",
    "rloo": "TRL RLOO's per-token log-ratio logp_old - logp_ref (k1 estimate of KL(policy || reference)), "
    "mean over completion tokens",
}


def step_series(rows: list[dict[str, Any]], method: str) -> dict[str, Any]:
    """Per-step KL to the reference and mean reward from the log, with their last values."""
    steps = [r for r in rows if "kl" in r]
    return {
        "kl_per_step": [{"step": r.get("step"), "kl": r["kl"]} for r in steps],
        "reward_per_step": [{"step": r.get("step"), "reward": r.get("reward")} for r in steps],
        "final_kl": steps[-1]["kl"] if steps else None,
        "final_reward": steps[-1].get("reward") if steps else None,
        "kl_definition": _KL[method],
    }


def _prompts(cfg: TrainConfig, *, allow_bad_rows: bool) -> tuple[list[dict[str, Any]], int]:
    """The distinct prompts of every training file, and how many unreadable rows were skipped."""
    rows: list[dict[str, Any]] = []
    skipped = 0
    for path in cfg.train_data:
        records, bad = read_records(path, allow_bad_rows=allow_bad_rows)
        skipped += bad
        rows += prompt_rows(records, path)
    return rows, skipped


def _online_record(cfg: TrainConfig, reward_record: dict[str, Any], log: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``online`` part: trainer, reward, settings, reference, KL and reward per step."""
    assert cfg.online is not None
    return {
        "trainer": "trl.GRPOTrainer" if cfg.method == "grpo" else "trl.RLOOTrainer",
        "reward": reward_record,
        **cfg.online.model_dump(mode="json", exclude={"reward"}),
        "reference": "the base with the adapter disabled" if cfg.adapter == "lora" else "a frozen copy of the base",
        **step_series(log, cfg.method),
    }


def train_online(
    cfg: TrainConfig,
    run_dir: Path,
    *,
    resume: bool = False,
    allow_findings: bool = False,
    config_source: str | Path = "config",
    command: str | None = None,
) -> TrainResult:
    """Run ``method: grpo`` or ``rloo`` into ``run_dir`` (same folder layout as the other methods)."""
    import datasets
    from transformers import set_seed

    from harness.models.loading import load_causal_lm, load_tokenizer
    from harness.models.spec import parse_spec
    from harness.train.trainers import ConsoleLogCallback, JsonlLogCallback

    started = time.time()
    check_paths(cfg)
    check_run_dir(run_dir, cfg, resume)
    preflight = run_preflight(cfg.train_data, cfg.holdouts, fail_on=cfg.preflight.fail_on)
    write_atomic(run_dir / "config.yaml", cfg.to_yaml())
    write_json(run_dir / "validation.json", preflight.to_document())
    if preflight.blocking and not allow_findings:
        return TrainResult(status="blocked", run_dir=run_dir, preflight=preflight)
    spec = parse_spec(cfg.base_model)  # parsed once: the tokenizer, the model and the manifest use it
    tokenizer = load_tokenizer(spec)
    template = resolve_chat_template(tokenizer, cfg.chat_template)
    rows, skipped = _prompts(cfg, allow_bad_rows=allow_findings)
    reward, reward_record = make_reward(cfg)
    set_seed(cfg.seed)
    model = load_causal_lm(spec)
    model.train()
    log_path = run_dir / "train_log.jsonl"
    write_log(log_path, [])
    callbacks = [JsonlLogCallback(log_path), ConsoleLogCallback()]
    trainer = build_trainer(cfg, model, tokenizer, datasets.Dataset.from_list(rows), reward, run_dir, callbacks)
    fit = train_and_measure(trainer, resume=resume, evaluate=False)
    weights_dir = run_dir / ("model" if cfg.adapter == "full" else "adapter")
    trainer.save_model(str(weights_dir))
    save_outputs(cfg, run_dir, tokenizer, fit.log, weights_dir, label=spec.label)
    facts = RunFacts(
        cfg=cfg, spec=spec, template=template, preflight=preflight, allow_findings=allow_findings,
        rows_skipped=skipped, weights_dir=weights_dir, world_size=trainer.args.world_size,
        device=str(trainer.args.device), config_source=config_source, started=started, command=command,
    )  # fmt: skip
    online = _online_record(cfg, reward_record, fit.log)
    manifest = online_manifest(facts, fit, n_prompts=len(rows), online=online)
    write_atomic(run_dir / "model_card.md", online_card(manifest))
    write_json(run_dir / "manifest.json", manifest)
    return TrainResult(status="trained", run_dir=run_dir, preflight=preflight, manifest=manifest)


def online_card(manifest: dict[str, Any]) -> str:
    """A short model card for an online run: reward, KL per step, how to reproduce."""
    o = manifest["online"]
    kl = ", ".join(f"{r['step']}: {r['kl']:.4g}" for r in o["kl_per_step"][:20])
    rw = ", ".join(f"{r['step']}: {r['reward']:.4g}" for r in o["reward_per_step"][:20] if r["reward"] is not None)
    return "\n".join(
        [
            f"# Model card: {manifest['method'].upper()} ({manifest['adapter']}) of `{manifest['base_model']}`",
            "",
            f"Online RL with {o['trainer']}: {o['num_generations']} completions per prompt, up to "
            f"{o['max_completion_length']} tokens, temperature {o['temperature']}, KL coefficient β = {o['beta']} "
            f"to {o['reference']}.",
            "",
            f"- Reward: `{o['reward']}`.",
            f"- Prompts: {manifest['data']['n_records']} distinct prompts from "
            + ", ".join(f"`{p}`" for p in manifest["train_data"])
            + ".",
            f"- Steps: {manifest['results']['global_step']}; preflight: {manifest['preflight']['counts']}.",
            f"- KL to the reference by step ({o['kl_definition']}): {kl or 'n/a'}.",
            f"- Mean reward by step: {rw or 'n/a'}.",
            "",
            "Training-time rewards are not quality: compare the run with its base on holdout suites with "
            "`harness eval` / `harness gate` before shipping.",
            "",
            f"Reproduce: `{manifest.get('command') or 'harness train config.yaml'}` "
            f"(config hash `{manifest['config_hash']}`).",
            "",
        ]
    )
