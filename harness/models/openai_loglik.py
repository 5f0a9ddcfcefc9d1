"""Log-likelihoods from an OpenAI-compatible server: the completions endpoint with ``echo`` and ``logprobs``.

Each request sends ``context + continuation`` as the prompt with ``echo: true, logprobs: 1,
max_tokens: 1`` (as lm-eval's ``local-completions`` model does); the answer lists every prompt
token with its log-probability and character offset. The continuation's tokens are those that
start at or after the context's end (trailing spaces of the context move to the continuation
first, as in lm-eval); the generated token is ignored. A server that does not return prompt
log-probabilities (chat-only APIs, servers without ``echo``) is refused with a clear error.

The server tokenises the text itself, so a token spanning the context/continuation boundary is
counted with the context; a rolling document's first token has no log-probability (nothing
conditions it) and is not scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, TypeVar

from harness.errors import ModelError
from harness.models.loglik import Loglik, LoglikRequest
from harness.models.openai_client import OpenAIClient, run_concurrently

__all__ = ["EchoTokens", "echo_logprobs", "loglikelihood", "loglikelihood_rolling"]

T = TypeVar("T")
R = TypeVar("R")


class EchoTokens(NamedTuple):
    """The prompt's tokens as the server scored them: text offsets, log-probabilities, greedy flags."""

    offsets: list[int]
    logprobs: list[float | None]
    greedy: list[bool]


def _no_logprobs(gen: OpenAIClient, what: str, why: str) -> ModelError:
    return ModelError(
        f"{gen.endpoint} returned no prompt log-probabilities for {what} ({why}): log-likelihood suites need a "
        "server whose /completions endpoint supports 'echo' with 'logprobs' (vLLM, llama.cpp server, TGI); "
        "chat-only APIs cannot score choices",
        field="method",
    )


def echo_logprobs(gen: OpenAIClient, prompt: str, what: str) -> EchoTokens:
    """Send ``prompt`` with echo and logprobs; the scored prompt tokens (the generated one dropped)."""
    body = {"model": gen.model, "prompt": prompt, "max_tokens": 1, "temperature": 0, "echo": True, "logprobs": 1}
    response, _ = gen.post("/completions", body, what=what)
    try:
        lp = response.json()["choices"][0].get("logprobs")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise ModelError(f"unexpected response from {gen.endpoint} for {what}: {response.text[:200]}") from exc
    if not isinstance(lp, dict):
        raise _no_logprobs(gen, what, "no 'logprobs' in the answer")
    offsets, values, top = lp.get("text_offset"), lp.get("token_logprobs"), lp.get("top_logprobs")
    if not isinstance(offsets, list) or not isinstance(values, list) or len(offsets) != len(values):
        raise _no_logprobs(gen, what, "'logprobs' lacks 'text_offset' or 'token_logprobs'")
    top = top if isinstance(top, list) and len(top) == len(values) else [None] * len(values)
    out = EchoTokens([], [], [])
    for off, v, t in zip(offsets, values, top, strict=True):
        if off >= len(prompt):
            break  # the generated token, or a server that did not echo the prompt
        out.offsets.append(int(off))
        out.logprobs.append(None if v is None else float(v))
        best = max(t.values()) if isinstance(t, dict) and t else None
        out.greedy.append(v is not None and best is not None and float(v) >= float(best) - 1e-6)
    if not out.offsets:
        raise _no_logprobs(gen, what, "the prompt was not echoed")
    return out


def _pool_map(gen: OpenAIClient, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    out: list[R | None] = [None] * len(items)
    for i, value in run_concurrently(fn, items, concurrency=gen.options.concurrency, on_interrupt=gen.close):
        out[i] = value
    return out  # type: ignore[return-value]


def loglikelihood(gen: OpenAIClient, requests: Sequence[LoglikRequest]) -> list[Loglik]:
    """``log P(continuation | context)`` of each request from the server's echoed log-probabilities."""

    def one(arg: tuple[int, LoglikRequest]) -> Loglik:
        i, req = arg
        if not isinstance(req.context, str):
            raise ModelError("chat contexts need a local model: a server cannot render the chat template here")
        context, cont = req.context, req.continuation
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, cont = context[:-n_spaces], context[-n_spaces:] + cont
        what = f"log-likelihood request {i}"
        echo = echo_logprobs(gen, context + cont, what)
        picked = [k for k, off in enumerate(echo.offsets) if off >= len(context)]
        if not picked:
            raise ModelError(f"{gen.endpoint}: the continuation {req.continuation!r} has no token of its own ({what})")
        values = [echo.logprobs[k] for k in picked]
        if any(v is None for v in values):
            raise _no_logprobs(gen, what, "a continuation token has no log-probability")
        return Loglik(sum(float(v or 0.0) for v in values), all(echo.greedy[k] for k in picked), len(picked))

    return _pool_map(gen, one, list(enumerate(requests)))


def loglikelihood_rolling(gen: OpenAIClient, texts: Sequence[str]) -> list[Loglik]:
    """``log P(text)`` of each document (every echoed token that has a log-probability)."""

    def one(arg: tuple[int, str]) -> Loglik:
        i, text = arg
        echo = echo_logprobs(gen, text, f"document {i}")
        scored = [k for k, v in enumerate(echo.logprobs) if v is not None]
        total = sum(float(echo.logprobs[k] or 0.0) for k in scored)
        return Loglik(total, bool(scored) and all(echo.greedy[k] for k in scored), len(scored))

    return _pool_map(gen, one, list(enumerate(texts)))
