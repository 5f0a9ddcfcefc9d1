"""Log-likelihoods from a local transformers model: one forward pass per distinct context, batched.

Requests are tokenised by lm-eval's rules (:func:`harness.models.loglik.encode_pair`) and
grouped by their context tokens. Each batch runs its distinct contexts once (left-padded, only the
last position's logits kept), copies each context's KV cache to the rows of its continuations and
runs the continuations on top (right-padded). Multiple-choice options sharing a prompt therefore
cost one prompt pass, not one per option; a single-token option costs no second pass at all.
The numbers equal lm-eval's ``HFLM.loglikelihood`` (tests compare them to 1e-4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from harness.errors import ModelError
from harness.models.base import GenerationSettings, Prompt
from harness.models.loglik import Loglik, LoglikRequest, encode_pair, rolling_windows

__all__ = ["LocalCausalLM", "loglikelihood", "loglikelihood_rolling", "max_length", "score_token_pairs"]

DEFAULT_MAX_LENGTH = 2048  # lm-eval's default when neither config nor tokenizer says
_TOKENIZER_INFINITY = 1000000000000000019884624838656
LOGITS_BUDGET = 1 << 30  # bytes of float32 logits one continuation batch may hold


class LocalCausalLM(Protocol):
    """What scoring needs of a loaded local model (:class:`harness.models.hf.HFGenerator` is one)."""

    model: Any
    tokenizer: Any
    device: Any
    eos_ids: list[int]
    has_chat_template: bool
    last_batch_size: int | None

    @property
    def _torch(self) -> Any: ...  # the torch module

    def render(self, prompt: Prompt, settings: GenerationSettings) -> str:
        """The text the model reads for ``prompt`` (chat template applied when asked and present)."""
        ...

    def resolve_batch_size(self, n: int, longest: int, max_new_tokens: int) -> int:
        """The batch size for ``n`` sequences of up to ``longest`` tokens."""
        ...

    def _pad(self, seqs: Sequence[Sequence[int]]) -> tuple[Any, Any]: ...

    @property
    def _cache_arg(self) -> str: ...


def max_length(gen: LocalCausalLM) -> int:
    """The model's context length, resolved as lm-eval resolves it (config, then tokenizer, then 2048)."""
    cfg = gen.model.config
    cfg = getattr(cfg, "text_config", None) or cfg
    for attr in ("n_positions", "max_position_embeddings", "n_ctx"):
        value = getattr(cfg, attr, None)
        if value is not None:
            return int(value)
    mml = getattr(gen.tokenizer, "model_max_length", None)
    if mml is not None and mml != _TOKENIZER_INFINITY:
        return int(mml)
    return DEFAULT_MAX_LENGTH


def prefix_token(gen: LocalCausalLM) -> int:
    """The token an empty context (and a rolling document) conditions on: BOS, else EOS."""
    tok = gen.tokenizer
    pid = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
    if pid is None:
        raise ModelError("the tokenizer has neither a BOS nor an EOS token to condition an empty context on")
    return int(pid)


def _encoders(gen: LocalCausalLM) -> tuple[Callable[[str], list[int]], Callable[[str], list[int]]]:
    """lm-eval's ``tok_encode``: the tokenizer's special tokens, unless the text starts with BOS."""
    tok = gen.tokenizer
    bos_text = tok.decode(prefix_token(gen))

    def encode(text: str) -> list[int]:
        add = not (bos_text and text.startswith(bos_text))
        return list(tok.encode(text, add_special_tokens=add))

    def plain(text: str) -> list[int]:
        return list(tok.encode(text, add_special_tokens=False))

    return encode, plain


def _context_text(gen: LocalCausalLM, context: Any, settings: GenerationSettings | None) -> str:
    if isinstance(context, str) and not (settings is not None and settings.chat_template and gen.has_chat_template):
        return context
    return gen.render(context, settings or GenerationSettings())


def loglikelihood(
    gen: LocalCausalLM, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
) -> list[Loglik]:
    """``log P(continuation | context)`` for each request (see the module docstring)."""
    encode, plain = _encoders(gen)
    pid = prefix_token(gen)
    pairs = []
    for r in requests:
        text = _context_text(gen, r.context, settings)
        ctx, cont = encode_pair(encode, text, r.continuation, pid, encode_plain=plain)
        if not cont:
            raise ModelError(f"the continuation {r.continuation!r} encodes to no token: nothing to score")
        pairs.append((ctx, cont))
    return score_token_pairs(gen, pairs)


def loglikelihood_rolling(gen: LocalCausalLM, texts: Sequence[str]) -> list[Loglik]:
    """``log P(text)`` of each document over lm-eval's disjoint rolling windows."""
    encode, _ = _encoders(gen)
    pid, n = prefix_token(gen), max_length(gen)
    pairs: list[tuple[list[int], list[int]]] = []
    owner: list[int] = []
    for d, text in enumerate(texts):
        for ctx, cont in rolling_windows(encode(text), pid, n):
            pairs.append((ctx, cont))
            owner.append(d)
    scores = score_token_pairs(gen, pairs)
    total = [0.0] * len(texts)
    greedy = [True] * len(texts)
    count = [0] * len(texts)
    for d, s in zip(owner, scores, strict=True):
        total[d] += s.logprob
        greedy[d] = greedy[d] and s.is_greedy
        count[d] += s.tokens
    return [Loglik(total[d], greedy[d] and count[d] > 0, count[d]) for d in range(len(texts))]


def _batches(
    gen: LocalCausalLM, pairs: Sequence[tuple[tuple[int, ...], list[int]]], order: list[int]
) -> list[list[int]]:
    """Cut the rows (grouped by context, longest first) into batches within the size and logits budget."""
    longest = max(len(pairs[i][0]) + len(pairs[i][1]) for i in order)
    bs = gen.resolve_batch_size(len(order), longest, 0)
    vocab = int(gen.model.config.vocab_size)
    batches: list[list[int]] = []
    cur: list[int] = []
    widest = 0
    for i in order:
        w = max(widest, len(pairs[i][1]))
        if cur and (len(cur) >= bs or (len(cur) + 1) * w * vocab * 4 > LOGITS_BUDGET):
            batches.append(cur)
            cur, w = [], len(pairs[i][1])
        cur.append(i)
        widest = w
    if cur:
        batches.append(cur)
    return batches


def score_token_pairs(gen: LocalCausalLM, pairs: Sequence[tuple[Sequence[int], Sequence[int]]]) -> list[Loglik]:
    """Log-likelihood of each continuation's tokens after its context's tokens.

    Contexts longer than the model allows are cut on the left (as lm-eval does), keeping
    ``max_length + 1`` tokens of context and continuation together.
    """
    if not pairs:
        return []
    limit = max_length(gen)
    fixed: list[tuple[tuple[int, ...], list[int]]] = []
    for ctx, cont in pairs:
        if not cont or len(cont) > limit:
            raise ModelError(f"a continuation of {len(cont)} tokens cannot be scored (1 to {limit} tokens)")
        if not ctx:
            raise ModelError("a continuation needs at least one context token")
        fixed.append((tuple(ctx[-(limit + 1 - len(cont)) :]), list(cont)))
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, (ctx, _) in enumerate(fixed):
        groups.setdefault(ctx, []).append(i)
    order = [i for c in sorted(groups, key=lambda c: (-len(c), c)) for i in groups[c]]
    out: list[Loglik | None] = [None] * len(fixed)
    batches = _batches(gen, fixed, order)
    gen.last_batch_size = max(len(b) for b in batches)
    for rows in batches:
        for i, res in zip(rows, _score_batch(gen, [fixed[i] for i in rows]), strict=True):
            out[i] = res
    return [r for r in out if r is not None]


def _score_batch(gen: LocalCausalLM, rows: list[tuple[tuple[int, ...], list[int]]]) -> list[Loglik]:
    torch = gen._torch
    from transformers import DynamicCache

    contexts: dict[tuple[int, ...], int] = {}
    for ctx, _ in rows:
        contexts.setdefault(ctx, len(contexts))
    which = torch.tensor([contexts[ctx] for ctx, _ in rows], device=gen.device)
    cache = DynamicCache(config=gen.model.config)
    ids, ctx_mask = gen._pad([list(c) for c in contexts])  # left-padded
    pos = (ctx_mask.cumsum(-1) - 1).clamp(min=0)
    kv = gen._cache_arg  # "cache" where transformers deprecated "past_key_values"
    with torch.inference_mode():
        last = gen.model(
            input_ids=ids, attention_mask=ctx_mask, position_ids=pos, **{kv: cache}, use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :].float().log_softmax(-1)  # fmt: skip
        first = torch.tensor([cont[0] for _, cont in rows], device=gen.device)
        lp = last[which].gather(-1, first[:, None])[:, 0]
        greedy = last[which].argmax(-1) == first
        lp, greedy = lp.clone(), greedy.clone()
        more = [k for k, (_, cont) in enumerate(rows) if len(cont) > 1]
        if more:
            sel = which[more]
            cache.batch_select_indices(sel)
            width = max(len(rows[k][1]) - 1 for k in more)
            pad = gen.tokenizer.pad_token_id if gen.tokenizer.pad_token_id is not None else gen.eos_ids[0]
            inp = torch.full((len(more), width), pad, dtype=torch.long, device=gen.device)
            tgt = torch.zeros((len(more), width), dtype=torch.long, device=gen.device)
            valid = torch.zeros((len(more), width), dtype=torch.bool, device=gen.device)
            for r, k in enumerate(more):
                cont = rows[k][1]
                inp[r, : len(cont) - 1] = torch.tensor(cont[:-1])
                tgt[r, : len(cont) - 1] = torch.tensor(cont[1:])
                valid[r, : len(cont) - 1] = True
            mask = torch.cat([ctx_mask[sel], valid.long()], dim=-1)
            cpos = ctx_mask[sel].sum(-1, keepdim=True) + torch.arange(width, device=gen.device)[None, :]
            logits = gen.model(
                input_ids=inp, attention_mask=mask, position_ids=cpos, **{kv: cache}, use_cache=True
            ).logits.float().log_softmax(-1)
            tok_lp = logits.gather(-1, tgt[..., None])[..., 0]
            hit = (logits.argmax(-1) == tgt) | ~valid
            idx = torch.tensor(more, device=gen.device)
            lp[idx] += (tok_lp * valid).sum(-1)
            greedy[idx] &= hit.all(-1)
    return [
        Loglik(float(v), bool(g), len(cont)) for v, g, (_, cont) in zip(lp.tolist(), greedy.tolist(), rows, strict=True)
    ]
