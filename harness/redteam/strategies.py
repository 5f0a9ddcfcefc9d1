"""Red-team strategies: how a seed prompt is turned into an attack, registered like every plug-in.

A strategy is a class with a docstring (its first line is what ``harness list strategies``
shows), ``adaptive`` (False: a deterministic text transform applied when the red-team suite is
written; True: it needs an attacker model and the target's replies, and runs at evaluation time)
and, for transforms, ``apply(prompt, rng) -> Attack``. The ``rng`` is seeded from the run's seed,
the seed prompt's id and the strategy's name, so a red-team suite is regenerated exactly.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar, NamedTuple

from harness.registry import Registry

__all__ = ["STRATEGIES", "Attack", "Transform", "strategy_rng"]


class Attack(NamedTuple):
    """A transformed prompt and what was done to it (recorded in the item)."""

    prompt: str
    how: str
    decode: str | None = None  # how a reply may be encoded ("base64", "rot13") and is decoded before grading


class Transform:
    """Base of deterministic single-turn strategies."""

    adaptive: ClassVar[bool] = False

    def apply(self, prompt: str, rng: random.Random) -> Attack:
        """Turn a seed prompt into an attack."""
        raise NotImplementedError


def strategy_rng(seed: int, item_id: str, strategy: str) -> random.Random:
    """The random source of one (seed, item, strategy): independent of every other item and strategy."""
    return random.Random(f"harness-redteam:{seed}:{item_id}:{strategy}")


STRATEGIES: Registry[Any] = Registry(
    "strategies", builtins=("harness.redteam.transforms", "harness.redteam.adaptive"), noun="strategy"
)
