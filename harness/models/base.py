"""The Generator protocol: what evaluation needs from a model (the factory is :mod:`harness.models.factory`).

Anything that calls a model takes a :class:`Generator`; tests pass a fake one
(:class:`harness.models.fake.FakeGenerator`). Importing this module does not import torch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from harness.models.serving import RequestLog

Prompt = str | list[dict[str, Any]]


class GenerationSettings(BaseModel):
    """How outputs are generated (a suite's ``generation`` block).

    Greedy decoding is the default (``temperature: 0``); ``seed`` is recorded in every run and
    only changes outputs when sampling.
    """

    model_config = ConfigDict(extra="forbid")
    max_new_tokens: int = Field(default=96, ge=1, le=32768)
    temperature: float = Field(default=0.0, ge=0.0, le=5.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, description="cut the output at the first of these strings")
    chat_template: bool = Field(default=True, description="apply the model's chat template when it has one")
    system: str | None = Field(default=None, description="a system message put before each prompt")
    seed: int = 0

    @property
    def greedy(self) -> bool:
        """True when decoding is deterministic (temperature 0)."""
        return self.temperature == 0.0

    def key(self) -> dict[str, Any]:
        """The settings that change an output (the cache key part); the seed only when sampling."""
        d = self.model_dump()
        d.pop("seed")
        if self.greedy:
            d.pop("top_p")
        return d


class GenerationRequest(NamedTuple):
    """One generation: an item's prompt (text or chat messages) and the attempt's seed."""

    item_id: str
    prompt: Prompt
    seed: int = 0
    attempt: int = 0


class Completion(NamedTuple):
    """A generated output with the seconds it took (a batch's time is shared among its items).

    ``requests`` is what a server backend's requests for it cost (tries, errors; None otherwise).
    """

    text: str
    seconds: float | None = None
    tokens: int | None = None
    requests: RequestLog | None = None


class LevelProbabilities(NamedTuple):
    """A judge's next-token distribution over level labels (renormalised) and the mass they held."""

    probs: dict[str, float]
    mass: float


@runtime_checkable
class Generator(Protocol):
    """Produces outputs for prompts.

    ``generate`` yields ``(index into requests, Completion)`` as each output finishes, in any
    order, so the caller can store each one at once (the cache makes a killed run resumable).
    """

    @property
    def fingerprint(self) -> str:
        """A stable identity of the model (weights/adapter hashes or the spec): the cache key part."""
        ...

    @property
    def cacheable(self) -> bool:
        """Whether outputs may be cached (false for replayed outputs)."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the run records about the model: spec, kind, hashes, chat template."""
        ...

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Generate an output for each request, yielding them as they finish."""
        ...


@runtime_checkable
class SupportsLevelProbabilities(Protocol):
    """A local model that can give its next-token distribution over level labels (for judges)."""

    def level_probabilities(
        self, prompts: Sequence[Prompt], labels: Sequence[str], settings: GenerationSettings
    ) -> list[LevelProbabilities]:
        """For each prompt, the probability of each label as the first token of the reply."""
        ...


def prompt_messages(prompt: Prompt, settings: GenerationSettings) -> list[dict[str, Any]]:
    """A prompt as chat messages (a text prompt becomes one user turn), with the suite's system message."""
    messages = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else [dict(m) for m in prompt]
    if settings.system is not None and not (messages and messages[0].get("role") == "system"):
        messages.insert(0, {"role": "system", "content": settings.system})
    return messages


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the first occurrence of any stop string.

    >>> cut_at_stop("a\\n\\nb", ["\\n\\n"])
    'a'
    """
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if 0 <= i < cut:
                cut = i
    return text[:cut]


def request_payload(request: GenerationRequest, settings: GenerationSettings) -> str:
    """Canonical JSON of what a request asks for (the cache key's prompt part)."""
    payload: dict[str, Any] = {"prompt": request.prompt}
    if not settings.greedy:
        payload["seed"] = request.seed
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


BatchSize = int | Literal["auto"]
