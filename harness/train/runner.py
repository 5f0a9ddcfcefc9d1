"""The training run, top to bottom: check, preflight, tokenise, load, train, evaluate, record.

Thin by design: ``transformers.Trainer`` (with ``accelerate``) trains, checkpoints, resumes and
runs distributed; ``peft`` makes the adapter. This module makes the run correct, checked and
recorded in the run folder (layout in :mod:`harness.train.rundir`).
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import ModelError
from harness.files import write_atomic, write_json
from harness.models.spec import ModelSpec, parse_spec
from harness.train.collate import PairCollator, SFTCollator
from harness.train.config import TrainConfig, check_paths
from harness.train.data import TrainingData, prepare_data, to_dataset
from harness.train.manifest import RunFacts, offline_manifest, train_and_measure
from harness.train.online import train_online
from harness.train.preflight import Preflight, run_preflight
from harness.train.rundir import (
    REFUSED,
    TrainResult,
    check_run_dir,
    read_log,
    refusal_document,
    save_outputs,
    write_log,
)

__all__ = ["LoadedModel", "TrainResult", "load_model", "train"]


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


def _open_run_folder(
    cfg: TrainConfig, run_dir: Path, preflight: Preflight, *, allow_findings: bool, main: bool
) -> bool:
    """Write the config and the preflight validation into the run folder; False when preflight refuses the run.

    A refused run leaves its findings where the user reads them, and nothing else: the folder is
    not a run, so a rerun (with --allow-findings, or after fixing the data) may use it.
    """
    if preflight.blocking and not allow_findings:
        if main:
            write_json(run_dir / "validation.json", preflight.to_document())
            write_json(run_dir / REFUSED, refusal_document(cfg, preflight))
        return False
    if main:
        (run_dir / REFUSED).unlink(missing_ok=True)  # an earlier refused attempt in this folder
        write_atomic(run_dir / "config.yaml", cfg.to_yaml())
        write_json(run_dir / "validation.json", preflight.to_document())
    return True


def _load_for_method(cfg: TrainConfig, tokenizer: Any, base_spec: ModelSpec) -> LoadedModel:
    """The model to train: with a scalar reward head for ``method: reward``, else the causal LM."""
    from harness.progress import step as progress_step

    with progress_step(f"loading {cfg.base_model}"):
        if cfg.method == "reward":
            from harness.train.reward import load_reward_model

            model, spec = load_reward_model(cfg, tokenizer.pad_token_id, base_spec)
            return LoadedModel(model, spec)
        return load_model(cfg, base_spec)


def _datasets(cfg: TrainConfig, model: Any, data: TrainingData, pad_id: int) -> tuple[Any, Any]:
    """The train and eval datasets, with the reference log-probs when DPO precomputes them."""
    train_set = to_dataset(cfg, data.train, data.margins)
    eval_set = to_dataset(cfg, data.eval, data.margins) if data.eval is not None else None
    if cfg.method == "dpo" and (cfg.adapter == "full" or cfg.dpo.precompute_reference):
        train_set = _precompute_reference(model, train_set, pad_id, cfg.batch_size)
        if eval_set is not None:
            eval_set = _precompute_reference(model, eval_set, pad_id, cfg.batch_size)
    return train_set, eval_set


def _start_log(run_dir: Path, *, resume: bool, main: bool) -> Path:
    """``train_log.jsonl``: emptied for a new run; kept up to the checkpoint for a resumed one."""
    log_path = run_dir / "train_log.jsonl"
    if resume and main:
        from transformers.trainer_utils import get_last_checkpoint

        # Steps logged after the checkpoint are trained again; keep the log to the checkpoint.
        last = get_last_checkpoint(str(run_dir / "checkpoints"))
        step = int(Path(last).name.rsplit("-", 1)[1])
        write_log(log_path, [r for r in read_log(log_path) if r.get("step", 0) <= step])
    elif main:
        write_log(log_path, [])
    return log_path


def _make_trainer(cfg: TrainConfig, common: dict[str, Any], pad_id: int) -> Any:
    """The method's trainer (``common``: model, args, datasets, callbacks), without the stdout printer."""
    from transformers.trainer_callback import PrinterCallback

    from harness.train.trainers import CompletionTrainer, PreferenceTrainer

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
    trainer.remove_callback(PrinterCallback)  # it prints to stdout, which --json keeps for the document
    return trainer


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
        return train_online(
            cfg, run_dir, resume=resume, allow_findings=allow_findings, config_source=config_source, command=command
        )
    started = time.time()
    check_paths(cfg)
    # Creating the arguments sets up the process group under torchrun / accelerate launch.
    args = _training_args(cfg, run_dir, cfg.eval_data is not None)
    check_run_dir(run_dir, cfg, resume)
    # Every process has checked the folder before the first one writes into it.
    args.distributed_state.wait_for_everyone()
    main = args.process_index == 0
    preflight = run_preflight(cfg.train_data, cfg.holdouts, fail_on=cfg.preflight.fail_on)
    if not _open_run_folder(cfg, run_dir, preflight, allow_findings=allow_findings, main=main):
        return TrainResult(status="blocked", run_dir=run_dir, preflight=preflight)

    from transformers import set_seed

    from harness.models.loading import load_tokenizer
    from harness.train.trainers import ConsoleLogCallback, JsonlLogCallback

    base_spec = parse_spec(cfg.base_model)  # parsed once: the tokenizer, the model and the manifest use it
    tokenizer = load_tokenizer(base_spec)
    data = prepare_data(cfg, tokenizer, allow_bad_rows=allow_findings)
    set_seed(cfg.seed)  # the adapter's initial weights (and the reward head's)
    model, spec = _load_for_method(cfg, tokenizer, base_spec)
    train_set, eval_set = _datasets(cfg, model, data, tokenizer.pad_token_id)
    log_path = _start_log(run_dir, resume=resume, main=main)
    common = {
        "model": model,
        "args": args,
        "train_dataset": train_set,
        "eval_dataset": eval_set,
        "callbacks": [JsonlLogCallback(log_path), ConsoleLogCallback()],
    }
    trainer = _make_trainer(cfg, common, tokenizer.pad_token_id)
    fit = train_and_measure(trainer, resume=resume, evaluate=eval_set is not None)
    trained_tokens = trainer.total_trained_tokens()
    weights_dir = run_dir / ("model" if cfg.adapter == "full" else "adapter")
    trainer.save_model(str(weights_dir))
    if not trainer.is_world_process_zero():
        return TrainResult(status="trained", run_dir=run_dir, preflight=preflight)

    from harness.train.card import render_card

    plotted = save_outputs(cfg, run_dir, tokenizer, fit.log, weights_dir, label=spec.label)
    facts = RunFacts(
        cfg=cfg, spec=spec, template=data.template, preflight=preflight, allow_findings=allow_findings,
        rows_skipped=data.rows_skipped, weights_dir=weights_dir, world_size=args.world_size,
        device=str(trainer.args.device), config_source=config_source, started=started, command=command,
    )  # fmt: skip
    manifest = offline_manifest(facts, data, fit, trained_tokens=trained_tokens, plotted=plotted)
    write_atomic(run_dir / "model_card.md", render_card(manifest, cfg, preflight))
    write_json(run_dir / "manifest.json", manifest)
    return TrainResult(status="trained", run_dir=run_dir, preflight=preflight, manifest=manifest)
