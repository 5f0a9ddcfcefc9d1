"""The training run, top to bottom: check, preflight, tokenise, load, train, evaluate, record.

Thin by design: ``transformers.Trainer`` (with ``accelerate``) trains, checkpoints, resumes and
runs distributed; ``peft`` makes the adapter. This module makes the run correct, checked and
recorded in the run folder (layout in :mod:`harness.train.rundir`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import time
from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel

from harness.documents.train import ChatTemplateRecord, PreflightSummary, TrainManifest, TrainResults
from harness.errors import ConfigError, InputError, InputFileError, ModelError
from harness.files import write_atomic, write_json
from harness.models.spec import ModelSpec, parse_spec
from harness.provenance import collect_provenance, hash_files, model_hashes
from harness.records import RowProblem, iter_records
from harness.train.collate import (
    Encoded,
    EncodeStats,
    PairCollator,
    SFTCollator,
    TemplateChoice,
    encode_pair_records,
    encode_sft_records,
    resolve_chat_template,
)
from harness.train.config import TrainConfig, check_paths
from harness.train.preflight import Preflight, run_preflight
from harness.train.rundir import REFUSAL_FILES, REFUSED, plot_loss, read_log, write_log


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


def _check_run_dir(run_dir: Path, cfg: TrainConfig, resume: bool) -> None:
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


def _refusal(cfg: TrainConfig, preflight: Preflight) -> dict[str, Any]:
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


def _read(path: Path, *, allow_bad_rows: bool) -> tuple[list[Any], int]:
    records, bad = [], 0
    for item in iter_records(path):
        if isinstance(item, RowProblem):
            if not allow_bad_rows:
                raise InputError(item.message, file=path, line=item.line, field=item.field)
            bad += 1
            continue
        records.append(item)
    return records, bad


def _encode(
    cfg: TrainConfig,
    files: list[Path],
    tokenizer: Any,
    *,
    allow_bad_rows: bool,
    conversions: list[Any] | None = None,
    margins: dict[str, float] | None = None,
) -> tuple[Encoded, int]:
    examples: list[Any] = []
    stats = EncodeStats()
    skipped = 0
    for path in files:
        records, bad = _read(path, allow_bad_rows=allow_bad_rows)
        skipped += bad
        if cfg.method != "sft" and any(r.kind == "ranking" for r in records):
            from harness.train.reward import rankings_as_pairs

            records, summary = rankings_as_pairs(records, cfg, path)
            if conversions is not None:
                conversions.append(summary)
        if margins is not None:
            margins.update({r.id: float(getattr(r, "margin", None) or 0.0) for r in records})
        if cfg.method == "sft":
            enc = encode_sft_records(
                records,
                tokenizer,
                max_length=cfg.max_length,
                completion_only=cfg.completion_only_loss,
                source=str(path),
            )
        else:
            enc = encode_pair_records(records, tokenizer, max_length=cfg.max_length, source=str(path))
        examples += enc.examples
        for key in ("n_records", "n_kept", "n_truncated", "n_dropped", "n_tokens", "n_trained_tokens"):
            setattr(stats, key, getattr(stats, key) + getattr(enc.stats, key))
        stats.dropped_ids += enc.stats.dropped_ids[: 50 - len(stats.dropped_ids)]
    if not examples:
        raise InputError(
            f"no example left to train on ({stats.n_dropped} dropped: no trained token within max_length "
            f"{cfg.max_length})",
            file=files[0],
        )
    return Encoded(examples, stats), skipped


def _dataset(cfg: TrainConfig, encoded: Encoded, margins: dict[str, float] | None = None) -> Any:
    import datasets

    if cfg.method == "sft":
        rows = [
            {"id": e.id, "input_ids": e.input_ids, "labels": e.labels, "length": len(e.input_ids)}
            for e in encoded.examples
        ]
    else:
        rows = [{**e._asdict(), "length": max(len(e.chosen_ids), len(e.rejected_ids))} for e in encoded.examples]
        if cfg.method == "reward":
            rows = [{**r, "margin": (margins or {}).get(r["id"], 0.0)} for r in rows]
    return datasets.Dataset.from_list(rows)


class LoadedModel(NamedTuple):
    """The model to train and the spec of its base."""

    model: Any
    spec: ModelSpec


def load_model(cfg: TrainConfig, spec: ModelSpec | None = None) -> LoadedModel:
    """The model to train (with its LoRA adapter for lora/qlora) and the spec it came from.

    ``spec`` is ``cfg.base_model`` parsed (parsed here when not given).

    Raises:
        ModelError: qlora without CUDA or bitsandbytes; a base that is not a full local model.
    """
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models.loading import load_causal_lm, peft_wrapping

    spec = spec or parse_spec(cfg.base_model)
    model: Any  # a transformers model, wrapped by peft for lora/qlora
    if spec.kind not in ("hf", "gguf"):
        raise ModelError(
            f"base_model must be a full local model (alias, Hugging Face folder or .gguf); {cfg.base_model!r} "
            f"is a {spec.kind}. Training on top of an adapter or run is not supported",
            field="base_model",
        )
    if cfg.adapter == "qlora":
        missing = [
            what
            for what, ok in (
                ("a CUDA GPU", torch.cuda.is_available()),
                ("the bitsandbytes package", importlib.util.find_spec("bitsandbytes") is not None),
            )
            if not ok
        ]
        if missing:
            raise ModelError(
                f"adapter: qlora loads the base in 4 bits with bitsandbytes and needs {' and '.join(missing)}, "
                "which this machine lacks; use adapter: lora (same adapter, base in full precision)",
                field="adapter",
            )
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        from harness.models.folders import check_model_folder

        check_model_folder(spec.weights_folder(), allow_pickle=False)
        model = AutoModelForCausalLM.from_pretrained(
            spec.weights_folder(), quantization_config=quant, dtype=torch.bfloat16, trust_remote_code=False,
            use_safetensors=True,
        )
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    else:
        model = load_causal_lm(spec)
    model.train()
    model.config.use_cache = False
    if cfg.adapter in ("lora", "qlora"):
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora.r,
            # peft annotates lora_alpha as int, but only divides by it: the config's float alpha (e.g. 16.5) works.
            lora_alpha=cfg.lora.alpha,  # type: ignore[arg-type]
            lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules,
            bias=cfg.lora.bias,
            task_type="CAUSAL_LM",
        )
        with peft_wrapping():
            model = get_peft_model(model, lora)
    return LoadedModel(model, spec)


def _precompute_reference(model: Any, dataset: Any, pad_id: int, batch_size: int) -> Any:
    """Reference log-probs of every pair under the (untrained) model, as dataset columns."""
    import torch

    from harness.train.losses import sequence_logps

    collate = PairCollator(pad_id)
    chosen: list[float] = []
    rejected: list[float] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for start in range(0, len(dataset), batch_size):
            rows = [dataset[i] for i in range(start, min(start + batch_size, len(dataset)))]
            batch = collate(rows)
            mask = batch["completion_mask"].clone()
            mask[:, 0] = 0
            logps = sequence_logps(model, batch, mask)
            c, r = logps.chunk(2)
            chosen += c.tolist()
            rejected += r.tolist()
    model.train(was_training)
    return dataset.add_column("ref_chosen_logps", chosen).add_column("ref_rejected_logps", rejected)


def _training_args(cfg: TrainConfig, run_dir: Path, has_eval: bool) -> Any:
    import torch
    from transformers import TrainingArguments

    eval_every = cfg.eval_steps if has_eval and cfg.eval_steps else None
    return TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        eval_strategy="steps" if eval_every else "no",
        eval_steps=eval_every,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=cfg.dtype == "bfloat16",
        use_cpu=not torch.cuda.is_available(),  # also what makes torchrun on CPU use DDP over gloo
        activation_checkpointing=cfg.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False} if cfg.gradient_checkpointing else None,
        dataloader_pin_memory=torch.cuda.is_available(),
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        remove_unused_columns=False,
        prediction_loss_only=True,
        report_to="none",
        ddp_find_unused_parameters=False,
        dataloader_num_workers=0,
        disable_tqdm=True,
    )


def train(
    cfg: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    allow_findings: bool = False,
    config_source: str | Path = "config",
    command: str | None = None,
) -> TrainResult:
    """Run a training configuration into ``run_dir``.

    Args:
        cfg: the resolved configuration.
        run_dir: the run folder (created; must be empty unless ``resume``).
        resume: continue from the last checkpoint in ``run_dir/checkpoints`` (same data order).
        allow_findings: train despite blocking preflight findings (recorded in the manifest).
        config_source: the config file, for error messages and the manifest.
        command: the command line, for the model card.

    Raises:
        InputFileError, ConfigError, InputError, ModelError: bad paths, config, data or model.
    """
    run_dir = Path(run_dir)
    if cfg.method in ("grpo", "rloo"):
        from harness.train.online import train_online

        return train_online(
            cfg, run_dir, resume=resume, allow_findings=allow_findings, config_source=config_source, command=command
        )
    started = time.time()
    check_paths(cfg)
    # Creating the arguments sets up the process group under torchrun / accelerate launch.
    args = _training_args(cfg, run_dir, cfg.eval_data is not None)
    _check_run_dir(run_dir, cfg, resume)
    # Every process has checked the folder before the first one writes into it.
    args.distributed_state.wait_for_everyone()
    main = args.process_index == 0

    preflight = run_preflight(cfg.train_data, cfg.holdouts, fail_on=cfg.preflight.fail_on)
    if preflight.blocking and not allow_findings:
        # The findings are written where the user reads them, and nothing else: the folder is
        # not a run, so a rerun (with --allow-findings, or after fixing the data) may use it.
        if main:
            write_json(run_dir / "validation.json", preflight.to_document())
            write_json(run_dir / REFUSED, _refusal(cfg, preflight))
        return TrainResult(status="blocked", run_dir=run_dir, preflight=preflight)
    if main:
        (run_dir / REFUSED).unlink(missing_ok=True)  # an earlier refused attempt in this folder
        write_atomic(run_dir / "config.yaml", cfg.to_yaml())
        write_json(run_dir / "validation.json", preflight.to_document())

    from transformers import set_seed

    from harness.models.loading import load_tokenizer
    from harness.train.trainers import CompletionTrainer, ConsoleLogCallback, JsonlLogCallback, PreferenceTrainer

    base_spec = parse_spec(cfg.base_model)  # parsed once: the tokenizer, the model and the manifest use it
    tokenizer = load_tokenizer(base_spec)
    template: TemplateChoice = resolve_chat_template(tokenizer, cfg.chat_template)
    conversions: list[Any] = []
    margins: dict[str, float] = {}
    encoded, skipped = _encode(
        cfg, cfg.train_data, tokenizer, allow_bad_rows=allow_findings, conversions=conversions, margins=margins
    )
    eval_encoded = None
    if cfg.eval_data is not None:
        eval_encoded, _ = _encode(
            cfg, [cfg.eval_data], tokenizer, allow_bad_rows=False, conversions=conversions, margins=margins
        )

    set_seed(cfg.seed)  # the adapter's initial weights (and the reward head's)
    from harness.progress import step as progress_step

    with progress_step(f"loading {cfg.base_model}"):
        if cfg.method == "reward":
            from harness.train.reward import load_reward_model

            model, spec = load_reward_model(cfg, tokenizer.pad_token_id, base_spec)
        else:
            model, spec = load_model(cfg, base_spec)
    train_set = _dataset(cfg, encoded, margins)
    eval_set = _dataset(cfg, eval_encoded, margins) if eval_encoded is not None else None
    pad_id = tokenizer.pad_token_id
    precompute = cfg.method == "dpo" and (cfg.adapter == "full" or cfg.dpo.precompute_reference)
    if precompute:
        train_set = _precompute_reference(model, train_set, pad_id, cfg.batch_size)
        if eval_set is not None:
            eval_set = _precompute_reference(model, eval_set, pad_id, cfg.batch_size)

    log_path = run_dir / "train_log.jsonl"
    if resume and main:
        from transformers.trainer_utils import get_last_checkpoint

        # Steps logged after the checkpoint are trained again; keep the log to the checkpoint.
        last = get_last_checkpoint(str(run_dir / "checkpoints"))
        step = int(Path(last).name.rsplit("-", 1)[1])
        write_log(log_path, [r for r in read_log(log_path) if r.get("step", 0) <= step])
    elif main:
        write_log(log_path, [])
    common: dict[str, Any] = {
        "model": model,
        "args": args,
        "train_dataset": train_set,
        "eval_dataset": eval_set,
        "callbacks": [JsonlLogCallback(log_path), ConsoleLogCallback()],
    }
    if cfg.method == "sft":
        trainer: Any = CompletionTrainer(data_collator=SFTCollator(pad_id), **common)
    elif cfg.method == "reward":
        from harness.train.reward import RewardCollator, RewardTrainer

        trainer = RewardTrainer(
            data_collator=RewardCollator(pad_id, use_margin=cfg.reward.use_margin),
            use_margin=cfg.reward.use_margin,
            center_rewards_coefficient=cfg.reward.center_rewards_coefficient,
            **common,
        )
    else:
        trainer = PreferenceTrainer(
            data_collator=PairCollator(pad_id),
            beta=cfg.dpo.beta,
            loss_name=cfg.dpo.loss,
            label_smoothing=cfg.dpo.label_smoothing,
            **common,
        )
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # it prints to stdout, which --json keeps for the document
    t0 = time.time()
    output = trainer.train(resume_from_checkpoint=True if resume else None)
    train_seconds = time.time() - t0
    eval_metrics = trainer.evaluate() if eval_set is not None else {}

    trained_tokens = trainer.total_trained_tokens()
    weights_dir = run_dir / ("model" if cfg.adapter == "full" else "adapter")
    trainer.save_model(str(weights_dir))
    if not trainer.is_world_process_zero():
        return TrainResult(status="trained", run_dir=run_dir, preflight=preflight)

    from harness.train.card import render_card

    tokenizer.save_pretrained(run_dir)
    if cfg.adapter == "full":
        tokenizer.save_pretrained(weights_dir)  # model/ is then a complete Hugging Face folder too
    rows = trainer.state.log_history
    write_log(log_path, [{"step": r.get("step"), "epoch": r.get("epoch"), **r} for r in rows])
    plotted = plot_loss(read_log(log_path), run_dir / "loss.png", title=f"{cfg.method} {cfg.adapter}: {spec.label}")
    train_losses = [r["loss"] for r in rows if "loss" in r]
    dpo_last = {k: v for r in rows for k, v in r.items() if k.startswith(("rewards/", "eval_rewards/"))}
    source = spec.path if spec.kind == "gguf" else None
    manifest = TrainManifest(
        **collect_provenance().model_dump(),
        base_model=cfg.base_model,
        base_model_hashes=model_hashes(spec.weights_folder(), source),
        method=cfg.method,
        adapter=cfg.adapter,
        weights=weights_dir.name,
        train_data=[str(p) for p in cfg.train_data],
        train_data_hashes=hash_files(cfg.train_data),
        eval_data=str(cfg.eval_data) if cfg.eval_data else None,
        eval_data_hash=hash_files([cfg.eval_data])[str(cfg.eval_data)] if cfg.eval_data else None,
        holdouts=[str(h) for h in cfg.holdouts],
        config="config.yaml",
        config_source=str(config_source),
        config_hash=cfg.fingerprint(),
        seed=cfg.seed,
        chat_template=ChatTemplateRecord(
            source=template.source,
            file="chat_template.jinja",
            hash=hashlib.blake2b(template.template.encode(), digest_size=16).hexdigest(),
        ),
        world_size=args.world_size,
        device=str(trainer.args.device),
        preflight=PreflightSummary(
            fail_on=preflight.fail_on,
            counts=preflight.counts(),
            blocking=preflight.blocking,
            allowed_findings=bool(preflight.blocking and allow_findings),
            leakage_checked=preflight.leakage_checked,
            rows_skipped=skipped,
        ),
        data=encoded.stats.model_dump(),
        eval_data_stats=eval_encoded.stats.model_dump() if eval_encoded else None,
        pairs_from_rankings=conversions or None,
        results=TrainResults(
            global_step=output.global_step,
            epochs=trainer.state.epoch,
            train_loss=output.training_loss,
            final_train_loss=train_losses[-1] if train_losses else None,
            eval_loss=eval_metrics.get("eval_loss"),
            eval={k: v for k, v in eval_metrics.items() if isinstance(v, int | float)},
            dpo=(dpo_last or None) if cfg.method == "dpo" else None,
            reward=(dpo_last or None) if cfg.method == "reward" else None,
            train_seconds=train_seconds,
            trained_tokens=trained_tokens,
            trained_tokens_per_second=trained_tokens / train_seconds if train_seconds else None,
            resumed=resume,
        ),
        files={"log": "train_log.jsonl", "loss_plot": "loss.png" if plotted else None, "card": "model_card.md"},
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        command=command,
    ).model_dump(mode="json")
    write_atomic(run_dir / "model_card.md", render_card(manifest, cfg, preflight))
    write_json(run_dir / "manifest.json", manifest)
    return TrainResult(status="trained", run_dir=run_dir, preflight=preflight, manifest=manifest)
