"""Log-likelihood scoring: the protocol, its request and result types, and lm-eval's token rules.

A model that can score text (not only generate it) implements :class:`SupportsLoglikelihood`:

- ``loglikelihood`` gives ``log P(continuation | context)`` for each request, and whether the
  continuation is the greedy one (every token the argmax), as lm-evaluation-harness's
  ``loglikelihood`` requests do;
- ``loglikelihood_rolling`` gives ``log P(text)`` of whole documents, cut into windows of the
  model's context length the way lm-eval's ``loglikelihood_rolling`` does.

The tokenisation rules follow lm-eval (``lm_eval.api.model.TemplateLM``) so that the numbers are
the same: trailing spaces of the context move to the continuation, the pair is encoded whole and
the continuation's tokens are those after the context's own encoding; an empty context is the
model's prefix token (BOS, else EOS).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from harness.models.base import GenerationSettings, Prompt

__all__ = [
    "Loglik",
    "LoglikRequest",
    "SupportsLoglikelihood",
    "encode_pair",
    "rolling_windows",
    "supports_loglikelihood",
]


class LoglikRequest(NamedTuple):
    """Score ``continuation`` after ``context`` (text, or chat messages rendered by the model)."""

    context: Prompt
    continuation: str


class Loglik(NamedTuple):
    """A log-likelihood (natural log), whether every token was the argmax, and the tokens scored."""

    logprob: float
    is_greedy: bool
    tokens: int


@runtime_checkable
class SupportsLoglikelihood(Protocol):
    """A model that scores text: per-continuation and rolling (whole-document) log-likelihoods."""

    def loglikelihood(
        self, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
    ) -> list[Loglik]:
        """``log P(continuation | context)`` of each request, in order."""
        ...

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[Loglik]:
        """``log P(text)`` of each document (every token scored, context windows rolled)."""
        ...


def supports_loglikelihood(model: object) -> bool:
    """Whether a generator can score log-likelihoods (HF models, fakes built with them, servers)."""
    return isinstance(model, SupportsLoglikelihood) and getattr(model, "scores_loglikelihood", True)


def encode_pair(
    encode: Callable[[str], list[int]],
    context: str,
    continuation: str,
    prefix_token: int,
    *,
    encode_plain: Callable[[str], list[int]] | None = None,
) -> tuple[list[int], list[int]]:
    """Context and continuation tokens, by lm-eval's rules (``TemplateLM.loglikelihood``).

    ``encode`` is the tokenizer with its default special tokens (lm-eval's ``tok_encode``);
    ``encode_plain`` without them (used for a continuation after an empty context).

    Example:
        >>> enc = lambda s: [ord(c) for c in s]
        >>> encode_pair(enc, "Q: a ", "b", 0)
        ([81, 58, 32, 97], [32, 98])
        >>> encode_pair(enc, "", "ab", 0)
        ([0], [97, 98])
    """
    if context == "":
        cont = (encode_plain or encode)(continuation)
        if cont and cont[0] == prefix_token:
            return cont[:1], cont[1:]
        return [prefix_token], cont
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = encode(context + continuation)
    ctx = encode(context)
    return ctx, whole[len(ctx) :]


def rolling_windows(tokens: Sequence[int], prefix_token: int, max_len: int) -> Iterator[tuple[list[int], list[int]]]:
    """Disjoint ``(context, continuation)`` windows that score every token once (lm-eval's rolling).

    The first window conditions on ``prefix_token``; later ones take the ``max_len`` tokens before
    the tokens they score as context (``get_rolling_token_windows`` + ``make_disjoint_window``
    with ``context_len=1``).

    Example:
        >>> list(rolling_windows(list(range(10)), -1, 4))
        [([-1], [0, 1, 2, 3]), ([3], [4, 5, 6, 7]), ([5, 6, 7], [8, 9])]
    """
    if max_len < 1:
        raise ValueError(f"max_len must be >= 1; got {max_len}")
    toks = list(tokens)
    if not toks:
        return
    first = min(max_len, len(toks))
    window = [prefix_token, *toks[: first - 1]]
    yield window[: len(window) - (first - 1)], toks[:first]
    done = first
    while done < len(toks):
        n = min(len(toks) - done, max_len)
        end = done + n
        ctx = toks[max(0, end - max_len - 1) : end - 1]
        yield ctx[: len(ctx) - (n - 1)], toks[end - n : end]
        done = end
