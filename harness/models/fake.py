"""A fake generator for tests: outputs come from a function or a mapping, calls are recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from harness.models.base import (
    Completion,
    GenerationRequest,
    GenerationSettings,
    LevelProbabilities,
    Prompt,
)
from harness.models.loglik import Loglik, LoglikRequest


class FakeGenerator:
    """A generator whose outputs are given, for tests of scorers, evaluation and the cache.

    Args:
        outputs: a mapping from item id to output, or a function of the request.
        fingerprint: the model identity used in cache keys.
        levels: optional function giving judge level probabilities for a prompt.
        on_output: called after each output is produced (tests use it to stop a run midway).
        loglik: optional function ``(context, continuation) -> log-probability`` for
            :meth:`loglikelihood` (log-likelihood suites); the continuation counts one token per
            whitespace-separated word.
        rolling: optional function ``text -> log-probability`` for :meth:`loglikelihood_rolling`.

    Example:
        >>> gen = FakeGenerator({"a": "Paris"})
        >>> [c.text for _, c in gen.generate([GenerationRequest("a", "Capital?")], GenerationSettings())]
        ['Paris']
    """

    def __init__(
        self,
        outputs: Mapping[str, str] | Callable[[GenerationRequest], str],
        *,
        fingerprint: str = "fake",
        levels: Callable[[Prompt, Sequence[str]], dict[str, float]] | None = None,
        on_output: Callable[[GenerationRequest], None] | None = None,
        loglik: Callable[[Prompt, str], float] | None = None,
        rolling: Callable[[str], float] | None = None,
    ) -> None:
        self._outputs = outputs
        self._fingerprint = fingerprint
        self._levels = levels
        self._on_output = on_output
        self._loglik = loglik
        self._rolling = rolling
        self.calls: list[GenerationRequest] = []
        self.loglik_calls: list[LoglikRequest] = []
        self.level_calls: list[Prompt] = []

    @property
    def fingerprint(self) -> str:
        """The identity given at construction."""
        return self._fingerprint

    @property
    def cacheable(self) -> bool:
        """Fake outputs are cached like real ones, so the cache can be tested."""
        return True

    def describe(self) -> dict[str, Any]:
        """Spec, kind and fingerprint."""
        return {"spec": f"fake:{self._fingerprint}", "kind": "fake", "fingerprint": self._fingerprint}

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Yield each request's given output."""
        for i, req in enumerate(requests):
            self.calls.append(req)
            text = self._outputs(req) if callable(self._outputs) else self._outputs[req.item_id]
            yield i, Completion(text, 0.0, len(text.split()))
            if self._on_output is not None:
                self._on_output(req)

    def level_probabilities(
        self, prompts: Sequence[Prompt], labels: Sequence[str], settings: GenerationSettings
    ) -> list[LevelProbabilities]:
        """The probabilities the ``levels`` function gives (renormalised over ``labels``)."""
        if self._levels is None:
            raise NotImplementedError("this FakeGenerator was built without levels")
        out = []
        for p in prompts:
            self.level_calls.append(p)
            raw = self._levels(p, labels)
            mass = sum(raw.get(lab, 0.0) for lab in labels)
            probs = {lab: (raw.get(lab, 0.0) / mass if mass > 0 else 0.0) for lab in labels}
            out.append(LevelProbabilities(probs, mass))
        return out

    @property
    def scores_loglikelihood(self) -> bool:
        """Whether this fake was given a log-likelihood function."""
        return self._loglik is not None or self._rolling is not None

    def loglikelihood(
        self, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
    ) -> list[Loglik]:
        """The ``loglik`` function's value for each request (greedy when it is >= -1e-9)."""
        if self._loglik is None:
            raise NotImplementedError("this FakeGenerator was built without loglik")
        out = []
        for r in requests:
            self.loglik_calls.append(r)
            v = float(self._loglik(r.context, r.continuation))
            out.append(Loglik(v, v >= -1e-9, max(1, len(r.continuation.split()))))
        return out

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[Loglik]:
        """The ``rolling`` function's value for each text (one token per word)."""
        if self._rolling is None:
            raise NotImplementedError("this FakeGenerator was built without rolling")
        return [Loglik(float(self._rolling(t)), False, max(1, len(t.split()))) for t in texts]
