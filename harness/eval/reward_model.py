"""A trained reward model (a ``harness train`` run with ``method: reward``) that scores responses.

The run folder holds the tokenizer and chat template used in training; a (prompt, response) is
tokenised exactly as training tokenised a pair's side (:func:`harness.train.collate.encode_pair`),
so the model sees at scoring time what it was trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

from harness.errors import ModelError

__all__ = ["RewardModel", "load_reward_model"]


class RewardModel:
    """Scores (prompt, response) pairs with a trained reward model."""

    def __init__(self, model: Any, tokenizer: Any, *, path: Path, max_length: int, manifest: dict[str, Any]) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.path = path
        self.max_length = max_length
        self.manifest = manifest

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this reward model in a run document."""
        return {
            "path": str(self.path),
            "base_model": self.manifest.get("base_model"),
            "config_hash": self.manifest.get("config_hash"),
            "adapter": self.manifest.get("adapter"),
        }

    def encode(self, prompt: Any, response: Any) -> list[int]:
        """Token ids of the conversation prompt + response (cut after the response's end token)."""
        from harness.records import PreferenceRecord
        from harness.train.collate import encode_pair

        rec = PreferenceRecord(id="x", line=0, prompt=prompt, chosen=response, rejected=response)
        pair, _ = encode_pair(rec, self.tokenizer, max_length=self.max_length)
        if pair is None:
            raise ModelError(f"the response leaves no token within max_length {self.max_length} to score")
        return list(pair.chosen_ids)

    def score(self, prompts: Sequence[Any], responses: Sequence[Any], *, batch_size: int = 8) -> list[float]:
        """The reward of each (prompt, response), in order."""
        import torch

        from harness.train.reward import RewardCollator, sequence_rewards

        ids = [self.encode(p, r) for p, r in zip(prompts, responses, strict=True)]
        collate = RewardCollator(self.tokenizer.pad_token_id)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))  # similar lengths batch together
        values = [0.0] * len(ids)
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                # The collator batches pairs; a batch of single sequences is the 'chosen' half of pairs with itself.
                batch = collate([{"chosen_ids": ids[i], "rejected_ids": ids[i]} for i in chunk])
                rewards = sequence_rewards(self.model, batch)[: len(chunk)]
                for i, v in zip(chunk, rewards.tolist(), strict=True):
                    values[i] = float(v)
        return values


def load_reward_model(path: str | Path, *, max_length: int | None = None) -> RewardModel:
    """Load a ``harness train`` reward-model run folder.

    Raises:
        ModelError: not a run folder, or a run of another method.
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    from harness.models.folders import check_adapter_folder, check_model_folder, loader_errors, read_json_object
    from harness.models.loading import load_tokenizer, peft_wrapping
    from harness.models.spec import parse_spec

    path = Path(path)
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        raise ModelError("not a harness train run folder (no manifest.json)", file=path)
    manifest = read_json_object(manifest_file)
    if manifest.get("method") != "reward":
        raise ModelError(
            f"run was trained with method {manifest.get('method')!r}; a reward model needs method: reward", file=path
        )
    spec = parse_spec(str(path))
    tokenizer = load_tokenizer(spec)
    folder = spec.weights_folder()
    check_model_folder(folder, allow_pickle=False)  # a reward model never loads from pickle
    if manifest.get("adapter") != "full":
        check_adapter_folder(path / "adapter", allow_pickle=False)
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    # The base has no 'score' head and transformers reports it as newly initialised; the adapter
    # (or the full run's weights) holds the trained head, so that report would mislead here.
    hf_logging.set_verbosity_error()
    try:
        with loader_errors(folder, "reward model"):
            model: Any = AutoModelForSequenceClassification.from_pretrained(
                folder, num_labels=1, dtype=torch.float32, trust_remote_code=False, use_safetensors=True
            )
    finally:
        hf_logging.set_verbosity(level)
    if manifest.get("adapter") != "full":
        from peft import PeftModel

        with peft_wrapping(), loader_errors(path / "adapter", "reward model's adapter"):
            model = PeftModel.from_pretrained(model, path / "adapter")
    model.config.pad_token_id = tokenizer.pad_token_id
    model.eval()
    cfg_max = _config_max_length(path)
    return RewardModel(model, tokenizer, path=path, max_length=max_length or cfg_max, manifest=manifest)


def _config_max_length(path: Path) -> int:
    import yaml

    cfg = yaml.safe_load((path / "config.yaml").read_text(encoding="utf-8")) if (path / "config.yaml").is_file() else {}
    return int((cfg or {}).get("max_length") or 1024)


@cache
def cached_reward_model(path: str) -> RewardModel:
    """One loaded reward model per path per process (scorers of several criteria share it)."""
    return load_reward_model(path)
