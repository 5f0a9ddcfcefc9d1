"""The ``reward`` scorer: a trained reward model (``harness train`` with ``method: reward``) scores each output.

Normalisation: the raw reward ``r`` of (prompt, output) becomes ``σ((r - offset) / scale)``, a
value in (0, 1): with the defaults (offset 0, scale 1) it is the Bradley-Terry probability that
the output beats a response of reward 0. Set ``offset`` to the reward of a reference output (or
the median reward on a calibration set) to make 0.5 mean "as good as that". The raw reward is
kept in the explanation.

Like the judge, a reward criterion is model-graded: a gate counts rules on it only once the
suite's human ratings calibrate it (agreement at least its ``calibration_floor``).

Example rubric criterion::

    - id: preference
      scale: {type: continuous}
      scorer: {type: reward, model: runs/tickets-rm, offset: 0.0, scale: 1.0}
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, scorer

if TYPE_CHECKING:
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion
    from harness.models.base import Prompt


class RewardOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="a harness train run folder trained with method: reward (relative to the rubric)")
    offset: float = Field(default=0.0, description="reward that maps to 0.5")
    scale: float = Field(default=1.0, gt=0, description="rewards are divided by this before the sigmoid")
    batch_size: int = Field(default=8, ge=1)


def normalise(reward: float, *, offset: float = 0.0, scale: float = 1.0) -> float:
    """``σ((reward - offset) / scale)`` in (0, 1), computed stably.

    Example:
        >>> normalise(0.0), round(normalise(2.0, offset=1.0), 4)
        (0.5, 0.7311)
    """
    z = (reward - offset) / scale
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


@scorer("reward")
class Reward(BaseScorer[RewardOptions]):
    """Score from a trained reward model: σ((r - offset) / scale) (see the module docstring)."""

    Options = RewardOptions

    @classmethod
    def check(cls, options: RewardOptions, criterion: Criterion, base_dir: Path | None) -> None:
        """The model must be a reward-model run folder; the score is continuous."""
        path = _resolve(options.model, base_dir)
        if not (path / "manifest.json").is_file():
            raise ValueError(f"reward model {path} is not a harness train run folder (no manifest.json)")
        if criterion.scale.type != "continuous":
            raise ValueError("a reward criterion needs a 'continuous' scale (the score is a probability)")

    def __init__(self, options: RewardOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        from harness.eval.reward_model import cached_reward_model

        self.path = _resolve(options.model, ctx.base_dir)
        self.rm = cached_reward_model(str(self.path))

    def describe(self) -> dict[str, Any]:
        """The reward model's identity for the run manifest."""
        return {"reward_model": self.rm.fingerprint(), "normalisation": "sigmoid((r - offset) / scale)"}

    def _prompt(self, item: Item | None) -> Prompt:
        if item is None:
            return ""
        return self.ctx.render_prompt(item) if self.ctx.render_prompt is not None else item.prompt_value()

    def score(self, output: str, item: Item | None) -> RawScore:
        """Score one output."""
        return self.score_many([output], [item])[0]

    def score_many(self, outputs: Sequence[str], items: Sequence[Item | None]) -> list[RawScore]:
        """Score outputs in batches through the reward model."""
        o = self.options
        prompts = [self._prompt(it) for it in items]
        rewards = self.rm.score(prompts, list(outputs), batch_size=o.batch_size)
        return [
            RawScore(
                normalise(r, offset=o.offset, scale=o.scale), f"reward {r:.4f} -> sigmoid((r - {o.offset}) / {o.scale})"
            )
            for r in rewards
        ]


def _resolve(model: str, base_dir: Path | None) -> Path:
    p = Path(model)
    return p if p.is_absolute() or base_dir is None else (base_dir / p).resolve()
