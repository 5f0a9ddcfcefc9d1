"""Few-shot prompting: ``num_fewshot`` solved examples put before each item's prompt.

``fewshot:`` in ``suite.yaml``::

    fewshot:
      n: 5                     # shots per item (lm-eval's num_fewshot)
      file: dev.jsonl          # items to draw shots from (same format as items.jsonl) ...
      split: validation        # ... or a split of the suite's dataset source; neither: the suite's
                               #     own items (never the item itself)
      seed: 1234               # the shots of an item depend only on the seed and the item's id
      delimiter: "\\n\\n"        # between shots (lm-eval's fewshot_delimiter)
      description: ""          # text before the first shot
      as_turns: null           # chat turns (user prompt, assistant answer) instead of one text;
                               # default: the suite's chat_template setting

A shot's answer is its ``reference`` (generated-answer suites) or its right choice
(multiple choice), after ``target_delimiter`` (default one space, lm-eval's). The ids of the
chosen shots are recorded per item in the run document.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import ConfigError
from harness.models.base import Prompt

if TYPE_CHECKING:
    from harness.eval.items import Item

__all__ = ["FewshotSpec", "choose_shots", "shot_target", "with_shots"]


class FewshotSpec(BaseModel):
    """The ``fewshot`` block of a suite."""

    model_config = ConfigDict(extra="forbid")
    n: int = Field(ge=0, le=64)
    file: str | None = None
    split: str | None = None
    seed: int = 1234
    delimiter: str = "\n\n"
    target_delimiter: str | None = None
    description: str = ""
    as_turns: bool | None = None


def choose_shots(pool: list[Item], item: Item, n: int, seed: int) -> list[Item]:
    """``n`` items of ``pool`` other than ``item``, drawn with a generator seeded by (seed, item id).

    Example:
        >>> from harness.eval.items import Item
        >>> pool = [Item(id=str(i), prompt="p", reference="r") for i in range(5)]
        >>> a = [s.id for s in choose_shots(pool, pool[0], 2, seed=1)]
        >>> a == [s.id for s in choose_shots(pool, pool[0], 2, seed=1)] and "0" not in a
        True
    """
    candidates = [p for p in pool if p.id != item.id]
    rng = random.Random(f"{seed}:{item.id}")  # str seeds hash with SHA-512: the same on every run
    return rng.sample(candidates, min(n, len(candidates)))


def shot_target(shot: Item) -> str:
    """A shot's answer: its right choice (multiple choice) or its reference text."""
    extra: dict[str, Any] = shot.model_extra or {}
    if isinstance(extra.get("choices"), list) and isinstance(extra.get("answer"), int):
        return str(extra["choices"][extra["answer"]])
    if isinstance(shot.reference, str):
        return shot.reference
    raise ConfigError(f"few-shot item {shot.id!r} has no 'reference' text (or 'choices' and 'answer') to show")


def with_shots(
    prompt: Prompt, shots: list[tuple[Prompt, str]], spec: FewshotSpec, *, as_turns: bool, target_delimiter: str
) -> Prompt:
    """The item's prompt with its shots before it: one text, or chat turns.

    Example:
        >>> spec = FewshotSpec(n=1)
        >>> with_shots("Q: b\\nA:", [("Q: a\\nA:", "1")], spec, as_turns=False, target_delimiter=" ")
        'Q: a\\nA: 1\\n\\nQ: b\\nA:'
        >>> with_shots("b?", [("a?", "1")], spec, as_turns=True, target_delimiter=" ")[1]
        {'role': 'assistant', 'content': '1'}
    """
    if as_turns:
        turns: list[dict[str, Any]] = []
        if spec.description:
            turns.append({"role": "system", "content": spec.description})
        for p, target in shots:
            turns += [{"role": "user", "content": p}] if isinstance(p, str) else [dict(m) for m in p]
            turns.append({"role": "assistant", "content": target})
        own = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
        if turns and own and own[0].get("role") == "system":
            turns = [own.pop(0), *(t for t in turns if t.get("role") != "system")]
        return turns + own
    if not isinstance(prompt, str) or any(not isinstance(p, str) for p, _ in shots):
        raise ConfigError("few-shot chat messages need as_turns: true", field="fewshot.as_turns")
    parts = [f"{p}{target_delimiter}{t}" for p, t in shots]
    return spec.description + spec.delimiter.join([*parts, prompt])
