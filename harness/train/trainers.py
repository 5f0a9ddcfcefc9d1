"""``transformers.Trainer`` subclasses for SFT and DPO, and the callback that streams the log.

The Trainer does the training: optimiser, schedule, gradient accumulation, checkpoints,
``resume_from_checkpoint`` (same data order), distributed launch. These subclasses only say what
the loss is. Both read left-padded batches from :mod:`harness.train.collate` and run the
language-model head over the trained columns only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, cast

import torch
from transformers import Trainer, TrainerCallback

from harness.train.losses import completion_nll, dpo_loss, logits_to_keep, token_logps


class _Counting(Trainer):
    """Counts the tokens that received a loss in training (this process)."""

    _trained_tokens = 0

    def _count(self, model: Any, n: torch.Tensor) -> None:
        if model.training:
            self._trained_tokens += int(n)

    def total_trained_tokens(self) -> int:
        """Trained tokens over all processes since this process started (every process must call it)."""
        total = torch.tensor([self._trained_tokens], device=self.args.device)
        return int(self.accelerator.reduce(total, reduction="sum").item())

    def prediction_step(
        self, model: Any, inputs: dict[str, Any], prediction_loss_only: bool, ignore_keys: Any = None
    ) -> tuple[Any, None, None]:
        """Evaluation computes the loss only (DPO's reward metrics are logged by its compute_loss)."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad():
            # Without return_outputs, compute_loss returns the loss tensor alone (not a tuple).
            loss = cast(torch.Tensor, self.compute_loss(model, inputs))
        return loss.detach(), None, None


class CompletionTrainer(_Counting):
    """SFT: token-level negative log-likelihood of the labelled tokens.

    With gradient accumulation and several processes the loss is summed over tokens and divided
    by the trained-token count of the whole optimiser step (``num_items_in_batch``, all
    processes), so every token weighs the same whatever the batch it fell in.
    """

    loss_is_scaled_for_ga = True

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        """Summed NLL over the step's trained tokens (mean over this batch's tokens in evaluation)."""
        nll = completion_nll(model, inputs)
        self._count(model, nll.n_tokens)
        if num_items_in_batch is None:
            loss = nll.total / nll.n_tokens.clamp(min=1)
        else:
            loss = nll.total / num_items_in_batch
            if self.args.average_tokens_across_devices:
                # DDP averages gradients over processes; the global token count already did.
                loss = loss * self.accelerator.num_processes
        return (loss, {"loss": loss}) if return_outputs else loss


class PreferenceTrainer(_Counting):
    """DPO with a named loss variant; reference log-probs from the base with adapters disabled.

    When the batch carries precomputed reference log-probs (``ref_logps``: full fine-tuning, or
    ``dpo.precompute_reference``), those are used instead. Rewards, reward accuracies and margins
    are logged with every training log line.
    """

    loss_is_scaled_for_ga = False  # a mean over pairs; the Trainer divides by accumulation steps

    def __init__(self, *args: Any, beta: float, loss_name: str, label_smoothing: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.beta = beta
        self.loss_name = loss_name
        self.label_smoothing = label_smoothing
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}

    def _forward_logps(self, model: Any, inputs: dict[str, Any], mask: torch.Tensor, k: int) -> torch.Tensor:
        out = model(
            input_ids=inputs["input_ids"],
            attention_mask=inputs["attention_mask"],
            position_ids=inputs["position_ids"],
            logits_to_keep=k,
            use_cache=False,
        )
        return token_logps(out.logits, inputs["input_ids"], mask).sum(dim=1)

    def reference_logps(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        """Reference log-probs of a batch: precomputed, else the policy with its adapter disabled."""
        if "ref_logps" in inputs:
            return inputs["ref_logps"]
        mask = inputs["completion_mask"].clone()
        mask[:, 0] = 0
        unwrapped = self.accelerator.unwrap_model(model)
        if not hasattr(unwrapped, "disable_adapter"):
            raise RuntimeError("full fine-tuning DPO needs precomputed reference log-probs")
        with torch.no_grad(), unwrapped.disable_adapter():
            return self._forward_logps(model, inputs, mask, logits_to_keep(mask))

    def compute_loss(
        self, model: Any, inputs: dict[str, Any], return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        """Mean DPO loss over the pairs of the batch (chosen rows first, then rejected)."""
        mode = "train" if model.training else "eval"
        ref = self.reference_logps(model, inputs).detach()
        mask = inputs["completion_mask"].clone()
        mask[:, 0] = 0
        k = logits_to_keep(mask)
        logps = self._forward_logps(model, inputs, mask, k)
        lengths = mask.sum(dim=1)
        self._count(model, lengths.sum())
        chosen, rejected = logps.chunk(2)
        ref_chosen, ref_rejected = ref.chunk(2)
        len_chosen, len_rejected = lengths.chunk(2)
        out = dpo_loss(
            chosen,
            rejected,
            ref_chosen,
            ref_rejected,
            beta=self.beta,
            loss=self.loss_name,
            label_smoothing=self.label_smoothing,
            chosen_lengths=len_chosen,
            rejected_lengths=len_rejected,
        )
        loss = out.losses.mean()
        gather = self.accelerator.gather_for_metrics
        cr, rr = gather(out.chosen_rewards), gather(out.rejected_rewards)
        m = self._metrics[mode]
        m["rewards/chosen"].append(cr.mean().item())
        m["rewards/rejected"].append(rr.mean().item())
        m["rewards/accuracies"].append((cr > rr).float().mean().item())
        m["rewards/margins"].append((cr - rr).mean().item())
        m["logps/chosen"].append(gather(chosen.detach()).mean().item())
        m["logps/rejected"].append(gather(rejected.detach()).mean().item())
        return (loss, {"loss": loss}) if return_outputs else loss

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """Add the averaged reward metrics since the last log line."""
        mode = "eval" if any(k.startswith("eval_") for k in logs) else "train"
        prefix = "eval_" if mode == "eval" else ""
        logs.update({prefix + k: sum(v) / len(v) for k, v in self._metrics[mode].items() if v})
        self._metrics[mode].clear()
        super().log(logs, start_time)


class JsonlLogCallback(TrainerCallback):
    """Appends every log line to ``train_log.jsonl`` as it happens (main process only)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Write one JSON line: step, epoch and the logged values."""
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "epoch": state.epoch, **logs}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row, default=float) + "\n")


class ConsoleLogCallback(TrainerCallback):
    """A progress display over the training steps (with an ETA) and one log line per log event on stderr.

    stdout stays free for ``--json``; the display follows :mod:`harness.progress` (terminal only,
    not under ``--quiet``), the log lines are notes (not under ``--quiet``).
    """

    def __init__(self) -> None:
        self._cm: Any = None
        self._step: Any = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the display at the step training starts from (a resumed run starts past 0)."""
        if not state.is_world_process_zero:
            return
        from harness.progress import step

        self._cm = step("training steps", total=state.max_steps)
        self._step = self._cm.__enter__()
        self._step.update(completed=state.global_step)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Move the display to the current step."""
        if self._step is not None:
            self._step.update(completed=state.global_step)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the display."""
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self._cm = self._step = None

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any) -> None:
        """Print ``step N/M`` and the logged numbers."""
        if not state.is_world_process_zero or not logs:
            return
        from harness.progress import note

        keys = [k for k in logs if k in _SHOWN or k.startswith(("rewards/acc", "rewards/mar", "eval_rewards/acc"))]
        parts = [f"{k} {logs[k]:.4g}" for k in keys if isinstance(logs[k], int | float)]
        note(f"step {state.global_step}/{state.max_steps}: " + ", ".join(parts))


_SHOWN = ("loss", "eval_loss", "learning_rate", "grad_norm", "train_loss", "train_runtime")
