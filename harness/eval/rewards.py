"""Rewards for online RL (``method: grpo`` or ``rloo``), built from what evaluation scores with.

Training finds these builders through the plug-in registry (``harness list rewards``), so
:mod:`harness.train` never imports evaluation: ``reward: {type: reward_model, model: RUN}`` is a
trained reward model (the raw reward of each completion), any other ``type`` is a registered scorer
with its options beside ``type`` (the score in [0, 1]; a completion it cannot score gets 0).
A builder takes the training config and returns TRL's reward function,
``f(prompts, completions, **columns) -> list[float]``, and the record of what it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.registry import Registry
from harness.train.config import TrainConfig

__all__ = ["REWARDS", "reward_model_reward", "scorer_reward"]

REWARDS: Registry[Any] = Registry("rewards", noun="reward")


@REWARDS.register("reward_model", summary="a trained reward model (a method: reward run folder): its raw reward")
def reward_model_reward(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """The reward of a trained reward model for each completion, and its record."""
    assert cfg.online is not None
    spec = cfg.online.reward
    if not spec.model:
        raise InputError(
            "online.reward type reward_model needs 'model': a method: reward run folder",
            field="online.reward.model",
        )
    from harness.eval.reward_model import load_reward_model

    rm = load_reward_model(spec.model)

    def reward(prompts: list[Any], completions: list[Any], **_: Any) -> list[float]:
        return rm.score(prompts, [_text(c) for c in completions])

    return reward, {"type": "reward_model", **rm.fingerprint()}


@REWARDS.register("scorer", summary="any registered scorer named by 'type', its options beside it; unscored = 0")
def scorer_reward(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """The score of a registered scorer for each completion (0 where it cannot score), and its record."""
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion
    from harness.eval.scorers import ScorerContext, build_scorer

    assert cfg.online is not None
    spec = cfg.online.reward
    options = dict(spec.model_extra or {})
    crit = Criterion.model_validate(
        {"id": "reward", "scale": {"type": "continuous"}, "scorer": {"type": spec.type, **options}}
    )
    scorer = build_scorer(crit, ScorerContext(crit, base_dir=Path(cfg.source_of("online")).parent))

    def reward(prompts: list[Any], completions: list[Any], **cols: Any) -> list[float]:
        ids, refs = cols.get("id") or [None] * len(prompts), cols.get("reference") or [None] * len(prompts)
        items = [
            Item(id=str(i or n), messages=p, reference=ref) if isinstance(p, list) else None
            for n, (p, i, ref) in enumerate(zip(prompts, ids, refs, strict=True))
        ]
        scores = scorer.score_many([_text(c) for c in completions], items)
        return [float(s.value) if s.value is not None else 0.0 for s in scores]

    return reward, {"type": "scorer", **scorer.spec(), "unscored": 0.0}


def _text(completion: Any) -> str:
    """The text of a completion: a string, or the assistant turns of a conversation."""
    if isinstance(completion, list):
        return "".join(str(m.get("content", "")) for m in completion if m.get("role") == "assistant")
    return str(completion)
