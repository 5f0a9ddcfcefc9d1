"""Reward-model training (``method: reward``): a scalar head on the base, a Bradley-Terry loss.

The model is ``AutoModelForSequenceClassification`` with one label on the base's weights (the
head ``score`` starts random; with LoRA it is trained in full, as ``modules_to_save``). A pair's
two sides are the whole conversation (prompt then response, through the chat template that the
run records), batched as ``2B`` left-padded rows, chosen first; a row's reward is the head's
output at its last token. The loss is TRL ``RewardTrainer``'s (pinned by an oracle test):

    loss = mean(-log σ(r_chosen - r_rejected - margin)) + c · mean((r_chosen + r_rejected)²)

with ``margin`` only when ``reward.use_margin`` (a pair's margin column, e.g. the rank gap from a
ranking) and ``c = reward.center_rewards_coefficient`` (Eisenstein et al. 2023) when set.

Which token is "last": transformers' sequence-classification models pool at the rightmost token
that is not ``config.pad_token_id``. With left padding every row's last column is its last real
token; :func:`pool_at_last_column` sets the pad id the head looks for to an id that no row ends
with, so a response that ends with the tokenizer's pad token (often EOS) is still pooled at its
own last token.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

import torch
from transformers import Trainer

from harness.train.collate import _left_pad, _positions
from harness.train.losses import bradley_terry_loss

if TYPE_CHECKING:
    from harness.train.config import TrainConfig

__all__ = ["RewardCollator", "RewardTrainer", "load_reward_base", "pool_at_last_column", "sequence_rewards"]


class RewardCollator:
    """Batches pairs as ``2B`` left-padded rows (chosen sides, then rejected), with margins when present."""

    def __init__(self, pad_token_id: int, *, use_margin: bool = False) -> None:
        self.pad_token_id = pad_token_id
        self.use_margin = use_margin

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        seqs = [r["chosen_ids"] for r in rows] + [r["rejected_ids"] for r in rows]
        attention = torch.tensor(_left_pad([[1] * len(s) for s in seqs], 0))
        batch = {
            "input_ids": torch.tensor(_left_pad(seqs, self.pad_token_id)),
            "attention_mask": attention,
            "position_ids": _positions(attention),
        }
        if self.use_margin:
            batch["margin"] = torch.tensor([float(r.get("margin") or 0.0) for r in rows], dtype=torch.float32)
        return batch


@contextmanager
def pool_at_last_column(model: Any, input_ids: torch.Tensor) -> Iterator[None]:
    """Within the block, the classification head pools at the last column of a left-padded batch.

    The pad id the head looks for is set to an id no row ends with (see the module docstring) and
    restored afterwards, so the saved config keeps the tokenizer's pad id.
    """
    ends = set(input_ids[:, -1].tolist())
    pad = next(i for i in range(len(ends) + 1) if i not in ends)
    configs = [model.config]
    text = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    if text is not model.config:
        configs.append(text)
    old = [c.pad_token_id for c in configs]
    for c in configs:
        c.pad_token_id = pad
    try:
        yield
    finally:
        for c, o in zip(configs, old, strict=True):
            c.pad_token_id = o


def sequence_rewards(model: Any, batch: dict[str, Any]) -> torch.Tensor:
    """The reward of each row of a left-padded batch: the head's output at the row's last token."""
    unwrapped = model.module if hasattr(model, "module") else model
    with pool_at_last_column(unwrapped, batch["input_ids"]):
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            position_ids=batch["position_ids"],
            use_cache=False,
        )
    return out.logits.squeeze(-1)


class RewardTrainer(Trainer):
    """Bradley-Terry reward-model training; logs accuracy, margin and reward range like TRL."""

    def __init__(self, *args: Any, use_margin: bool, center_rewards_coefficient: float | None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.use_margin = use_margin
        self.center = center_rewards_coefficient
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        self._trained_tokens = 0

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        """Mean Bradley-Terry loss over the batch's pairs (plus the centring term when set)."""
        mode = "train" if model.training else "eval"
        rewards = sequence_rewards(model, inputs)
        chosen, rejected = rewards.chunk(2)
        if model.training:
            self._trained_tokens += int(inputs["attention_mask"].sum())
        loss = bradley_terry_loss(
            chosen,
            rejected,
            margin=inputs.get("margin") if self.use_margin else None,
            center_coefficient=self.center,
        )
        with torch.no_grad():
            gather = self.accelerator.gather_for_metrics
            allr = gather(rewards.detach())
            m = self._metrics[mode]
            m["min_reward"].append(allr.min().item())
            m["mean_reward"].append(allr.mean().item())
            m["max_reward"].append(allr.max().item())
            m["accuracy"].append(gather((chosen > rejected).float().mean()).mean().item())
            m["margin"].append(gather((chosen - rejected).mean().detach()).mean().item())
        return (loss, {"loss": loss}) if return_outputs else loss

    def prediction_step(
        self, model: Any, inputs: dict[str, Any], prediction_loss_only: bool, ignore_keys: Any = None
    ) -> tuple[Any, None, None]:
        """Evaluation computes the loss (and logs accuracy) only."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            loss = cast(torch.Tensor, self.compute_loss(model, inputs))
        return loss.detach(), None, None

    def total_trained_tokens(self) -> int:
        """Tokens of both sides over all processes (every process must call it)."""
        total = torch.tensor([self._trained_tokens], device=self.args.device)
        return int(self.accelerator.reduce(total, reduction="sum").item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the averaged reward metrics since the last log line."""
        mode = "eval" if any(k.startswith("eval_") for k in logs) else "train"
        prefix = "eval_" if mode == "eval" else ""
        logs.update({f"{prefix}rewards/{k}": sum(v) / len(v) for k, v in self._metrics[mode].items() if v})
        self._metrics[mode].clear()
        super().log(logs, start_time)


def load_reward_base(cfg: TrainConfig, folder: Any, pad_token_id: int) -> Any:
    """The base as a one-label sequence classifier (LoRA-wrapped for ``adapter: lora``)."""
    from transformers import AutoModelForSequenceClassification

    from harness.models.loading import peft_wrapping

    model = AutoModelForSequenceClassification.from_pretrained(
        folder, num_labels=1, dtype=torch.float32, trust_remote_code=False, use_safetensors=True
    )
    model.config.pad_token_id = pad_token_id
    model.config.use_cache = False
    model.train()
    if cfg.adapter == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,  # type: ignore[arg-type]
            lora_dropout=cfg.lora.dropout,
            target_modules=cfg.lora.target_modules,
            bias=cfg.lora.bias,
            task_type="SEQ_CLS",  # the head 'score' is trained in full (modules_to_save)
        )
        with peft_wrapping():
            model = get_peft_model(model, lora)
    return model


def load_reward_model(cfg: TrainConfig, pad_token_id: int, spec: Any = None) -> tuple[Any, Any]:
    """The model to train for ``method: reward`` and the spec of its base (``cfg.base_model`` parsed once).

    Raises:
        ModelError: a base that is not a full local model.
    """
    from harness.errors import ModelError
    from harness.models.spec import parse_spec

    spec = spec or parse_spec(cfg.base_model)
    if spec.kind not in ("hf", "gguf"):
        raise ModelError(
            f"base_model must be a full local model (alias, Hugging Face folder or .gguf); {cfg.base_model!r} "
            f"is a {spec.kind}",
            field="base_model",
        )
    return load_reward_base(cfg, spec.weights_folder(), pad_token_id), spec


def rankings_as_pairs(records: list[Any], cfg: TrainConfig, path: Any) -> tuple[list[Any], dict[str, Any]]:
    """Preference records from a rankings file by the config's named conversion, and its summary.

    Raises:
        InputError: a file mixing rankings with other records; no pair left after the conversion.
    """
    from harness.errors import InputError
    from harness.rankings import ranking_pairs
    from harness.records import PreferenceRecord, RankingRecord

    other = next((r for r in records if not isinstance(r, RankingRecord)), None)
    if other is not None:
        raise InputError("a rankings file must hold only rankings", file=path, line=other.line)
    conv = ranking_pairs(records, scheme=cfg.pairs.scheme, ties=cfg.pairs.ties, file=path)
    pairs = [
        PreferenceRecord.model_validate(
            {
                "id": p["id"],
                "line": p["source_line"],
                "prompt": p["prompt"],
                "chosen": p["chosen"],
                "rejected": p["rejected"],
                "margin": p["margin"],  # an extra field of the record: the pair's rank gap
            }
        )
        for p in conv.pairs
    ]
    return pairs, conv.summary
