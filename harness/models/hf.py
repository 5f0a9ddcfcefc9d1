"""Local generation with transformers: batched, left-padded, length-sorted, chat template applied.

Prompts are tokenised once, sorted by length (longest first, so a batch too large for memory
fails at once and is halved) and cut into batches whose padding is small. Greedy decoding runs in
our own loop over the KV cache: the prompt prefix a batch shares (system prompt, suite template)
is computed once and its cache copied to every row, and each sequence leaves the batch as soon as
it ends (an end token or ``max_new_tokens``), so short answers do not pay for long ones. The
outputs are those of ``model.generate`` (tests compare them); sampling uses ``model.generate``
in a worker thread that reports each row as it ends (:mod:`harness.models.hf_sample`).
Each output is yielded as soon as its sequence ends (and cached by the caller). For adapters
and ``harness train`` run folders the adapter is checked on a probe: its logits must differ from
the base model's, or the adapter is refused as a no-op.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from harness.errors import ModelError
from harness.models import hf_loglik
from harness.models.base import (
    BatchSize,
    Completion,
    GenerationRequest,
    GenerationSettings,
    LevelProbabilities,
    Prompt,
    cut_at_stop,
    prompt_messages,
)
from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.loglik import Loglik, LoglikRequest
from harness.models.spec import ModelSpec
from harness.models.weights import files_hash

NOOP_TOLERANCE = 1e-6
PROBE = "Write one short sentence about the weather."
_MAX_AUTO_BATCH = 64
MIN_SHARED_PREFIX = 8
GROUP_PREFIX = 32


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _available_memory() -> int:
    """Bytes of memory available to this process (Linux MemAvailable; 4 GiB when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4 << 30


class HFGenerator:
    """A local causal LM (Hugging Face folder, GGUF, alias, adapter or run folder).

    Args:
        spec: the parsed model spec.
        batch_size: prompts per batch, or "auto" (from the KV-cache size and free memory).
        allow_noop_adapter: evaluate an adapter even when it does not change the logits.
        allow_pickle: allow ``.bin`` weights.
        share_prefix: run the prompt prefix a batch shares once (greedy decoding).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        batch_size: BatchSize = "auto",
        allow_noop_adapter: bool = False,
        allow_pickle: bool = False,
        share_prefix: bool = True,
    ) -> None:
        import torch
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if batch_size != "auto" and (not isinstance(batch_size, int) or batch_size < 1):
            raise ModelError(f"batch size must be a positive integer or 'auto'; got {batch_size!r}")
        self.spec = spec
        self.batch_size = batch_size
        self.share_prefix = share_prefix
        self._torch = torch
        self.tokenizer = load_tokenizer(spec)
        self.tokenizer.padding_side = "left"
        self.model = load_causal_lm(spec, allow_pickle=allow_pickle)
        self.device = next(self.model.parameters()).device
        self.eos_ids = self._eos_ids()
        self.has_chat_template = bool(getattr(self.tokenizer, "chat_template", None))
        self.adapter_probe: dict[str, Any] | None = None
        if spec.kind in ("adapter", "run") and hasattr(self.model, "disable_adapter"):
            self.adapter_probe = self._check_adapter(allow_noop_adapter)
        self._fingerprint = self._compute_fingerprint()
        self.last_batch_size: int | None = None

    # ------------------------------------------------------------------------------ identity
    def _adapter_dir(self) -> Path | None:
        folder = self.spec.adapter_dir()
        return folder if folder is not None and (folder / "adapter_config.json").is_file() else None

    def _compute_fingerprint(self) -> str:
        base = self.spec.base if self.spec.kind in ("adapter", "run") else self.spec
        assert base is not None
        folder = self.spec.weights_folder()  # a run folder may hold its own full weights
        if base.kind == "gguf" and base.path is not None and folder == base.weights_folder():
            weights = "gguf:" + base.source_hash()
        else:
            files = [*folder.glob("*.safetensors"), *folder.glob("*.bin"), folder / "config.json"]
            weights = "hf:" + files_hash([f for f in files if f.is_file()])
        tok_dir = self.spec.tokenizer_folder()
        tok_files = [tok_dir / n for n in ("tokenizer.json", "tokenizer_config.json", "chat_template.jinja")]
        parts = [weights, "tok:" + files_hash([f for f in tok_files if f.is_file()])]
        adapter_hash = self.adapter_hash  # None without an adapter
        if adapter_hash is not None:
            parts.append("adapter:" + adapter_hash)
        return hashlib.blake2b("|".join(parts).encode(), digest_size=16).hexdigest()

    @property
    def adapter_hash(self) -> str | None:
        """Hash of the adapter's weights and config (None without an adapter)."""
        adapter = self._adapter_dir()
        if adapter is None:
            return None
        files = [*adapter.glob("*.safetensors"), *adapter.glob("*.bin"), adapter / "adapter_config.json"]
        return files_hash([f for f in files if f.is_file()])

    @property
    def fingerprint(self) -> str:
        """Hash of the weights (GGUF file or safetensors), tokenizer files, chat template and adapter."""
        return self._fingerprint

    @property
    def cacheable(self) -> bool:
        """Local outputs are cached."""
        return True

    def describe(self) -> dict[str, Any]:
        """Spec, kind, base, hashes, chat template, dtype and batch size."""
        tmpl = getattr(self.tokenizer, "chat_template", None)
        return {
            "spec": self.spec.raw,
            "kind": self.spec.kind,
            "label": self.spec.label,
            "base": self.spec.base.raw if self.spec.base else None,
            "fingerprint": self.fingerprint,
            "adapter_hash": self.adapter_hash,
            "adapter_probe": self.adapter_probe,
            "chat_template": bool(tmpl),
            "chat_template_hash": hashlib.blake2b(tmpl.encode(), digest_size=16).hexdigest() if tmpl else None,
            "tokenizer_folder": str(self.spec.tokenizer_folder()),
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
            "device": str(self.device),
            "batch_size": self.batch_size,
        }

    # ---------------------------------------------------------------------------- adapters
    def _check_adapter(self, allow_noop: bool) -> dict[str, Any]:
        torch = self._torch
        ids = self._encode([self.render(PROBE, GenerationSettings())])[0]
        x = torch.tensor([ids], device=self.device)
        with torch.inference_mode():
            tuned = self.model(input_ids=x).logits.float()
            with self.model.disable_adapter():
                base = self.model(input_ids=x).logits.float()
        diff = float((tuned - base).abs().max())
        noop = diff <= NOOP_TOLERANCE
        if noop and not allow_noop:
            raise ModelError(
                f"the adapter does not change the model: on a probe prompt its logits equal the base model's "
                f"(max |difference| {diff:.2e} <= {NOOP_TOLERANCE:g}); an untrained LoRA (B = 0) looks like this. "
                "Pass --allow-noop-adapter to evaluate it anyway.",
                file=self._adapter_dir(),
            )
        return {"prompt": PROBE, "max_abs_logit_diff": diff, "noop": noop, "tolerance": NOOP_TOLERANCE}

    # ----------------------------------------------------------------------------- prompts
    def _eos_ids(self) -> list[int]:
        ids: set[int] = set()
        gc_eos = getattr(self.model.generation_config, "eos_token_id", None)
        for v in [self.tokenizer.eos_token_id, gc_eos]:
            if isinstance(v, int):
                ids.add(v)
            elif isinstance(v, (list, tuple)):
                ids.update(int(x) for x in v)
        if not ids:
            raise ModelError("the model has no end-of-sequence token; cannot tell where an output ends")
        return sorted(ids)

    def render(self, prompt: Prompt, settings: GenerationSettings) -> str:
        """The exact text the model reads: the chat template applied when the model has one."""
        if settings.chat_template and self.has_chat_template:
            return self.tokenizer.apply_chat_template(
                prompt_messages(prompt, settings), add_generation_prompt=True, tokenize=False
            )
        if not isinstance(prompt, str):
            raise ModelError(
                "chat messages need a chat template, and "
                + ("the suite turned it off" if self.has_chat_template else "this model's tokenizer has none"),
                field="generation.chat_template",
            )
        return prompt if settings.system is None else f"{settings.system}\n\n{prompt}"

    def _encode(self, texts: Sequence[str], templated: bool = True) -> list[list[int]]:
        enc = self.tokenizer(list(texts), add_special_tokens=not templated)
        return [list(x) for x in enc["input_ids"]]

    def _pad(self, seqs: Sequence[Sequence[int]]) -> tuple[Any, Any]:
        torch = self._torch
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos_ids[0]
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s) :] = 1
        return ids.to(self.device), mask.to(self.device)

    def resolve_batch_size(self, n: int, longest: int, max_new_tokens: int) -> int:
        """The batch size to use: the fixed one, or "auto" from the KV cache per sequence and free memory."""
        if self.batch_size != "auto":
            return max(1, min(int(self.batch_size), n))
        cfg = self.model.config
        layers = int(getattr(cfg, "num_hidden_layers", 12))
        heads = int(getattr(cfg, "num_attention_heads", 12))
        kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
        head_dim = int(getattr(cfg, "head_dim", None) or cfg.hidden_size // heads)
        width = next(self.model.parameters()).element_size()
        tokens = longest + max_new_tokens
        per_seq = 2 * layers * kv_heads * head_dim * tokens * width  # K and V
        per_seq += 4 * cfg.hidden_size * tokens * width + 2 * cfg.vocab_size * 4  # activations, logits
        if self.device.type == "cuda":
            free, _ = self._torch.cuda.mem_get_info(self.device)
            budget, cap = int(free * 0.5), 512
        else:
            budget, cap = int(_available_memory() * 0.25), _MAX_AUTO_BATCH
        return max(1, min(n, cap, budget // max(per_seq, 1)))

    # --------------------------------------------------------------------------- generation
    def schedule(self, seqs: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
        """Cut prompts into batches: prompts sharing a long prefix together, each batch length-sorted.

        Prompts whose token sequences share at least ``GROUP_PREFIX`` leading tokens with a
        neighbour in lexicographic order form a group (a suite's template), so a batch never mixes
        templates and its shared prefix is long; the rest are pooled. Within a group or the pool,
        prompts are sorted longest first and cut into batches; batches run longest first.
        """
        lex = sorted(range(len(seqs)), key=lambda i: (list(seqs[i]), i))
        groups: list[list[int]] = []
        prev: Sequence[int] | None = None
        for i in lex:
            s = seqs[i]
            if prev is not None and self.share_prefix and _lcp(prev, s) >= GROUP_PREFIX:
                groups[-1].append(i)
            else:
                groups.append([i])
            prev = s
        pool = [i for g in groups if len(g) == 1 for i in g]
        parts = [g for g in groups if len(g) > 1] + ([pool] if pool else [])
        batches = []
        for part in parts:
            part = sorted(part, key=lambda i: (-len(seqs[i]), i))
            batches += [part[k : k + batch_size] for k in range(0, len(part), batch_size)]
        return sorted(batches, key=lambda b: (-len(seqs[b[0]]), b[0]))

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Generate batch by batch (see :meth:`schedule`); yield each output as its sequence ends.

        A batch that runs out of memory is split in two and retried.
        """
        if not requests:
            return
        templated = settings.chat_template and self.has_chat_template
        seqs = self._encode([self.render(r.prompt, settings) for r in requests], templated=templated)
        bs = self.resolve_batch_size(len(seqs), max(len(s) for s in seqs), settings.max_new_tokens)
        self.last_batch_size = bs
        todo = list(reversed(self.schedule(seqs, bs)))
        while todo:
            chunk = todo.pop()
            finished: set[int] = set()
            t0 = time.perf_counter()
            try:
                for ended in self._generate_batch([seqs[i] for i in chunk], settings, requests[chunk[0]].seed):
                    # the time since rows last ended, shared by the rows that ended now: the seconds
                    # of a batch's rows add up to the batch's time
                    now = time.perf_counter()
                    per, t0 = (now - t0) / len(ended), now
                    for r, toks in ended:
                        finished.add(chunk[r])
                        text = self.tokenizer.decode(toks, skip_special_tokens=True)
                        yield chunk[r], Completion(cut_at_stop(text, settings.stop), round(per, 4), len(toks))
            except (RuntimeError, MemoryError) as exc:  # out of memory: split what is left and retry
                left = [i for i in chunk if i not in finished]
                if not left:
                    continue
                if len(left) == 1 or ("out of memory" not in str(exc).lower() and not isinstance(exc, MemoryError)):
                    raise
                half = len(left) // 2
                todo += [left[half:], left[:half]]
                self.last_batch_size = half

    def _generate_batch(
        self, seqs: list[list[int]], settings: GenerationSettings, seed: int
    ) -> Iterator[list[tuple[int, list[int]]]]:
        """The rows that ended at each step, with their new tokens (end token removed): ``[(row, tokens)]``."""
        if settings.greedy:
            yield from self._greedy(seqs, settings.max_new_tokens)
        else:
            yield from self._sample(seqs, settings, seed)

    def _greedy(self, seqs: list[list[int]], max_new: int) -> Iterator[list[tuple[int, list[int]]]]:
        """Greedy decoding over the KV cache, dropping sequences from the batch as they finish.

        The prompt prefix the whole batch shares (system prompt, suite template) is run once and
        its KV cache copied to every row; each row's own suffix follows it after the padding. Each
        step yields the rows that ended at it, as ``[(row, tokens)]``.
        """
        torch = self._torch
        from transformers import DynamicCache

        cache = DynamicCache(config=self.model.config)
        kv = {self._cache_arg: cache}
        shared = self._shared_prefix(seqs)
        if shared:
            prefix = torch.tensor([seqs[0][:shared]], device=self.device)
            with torch.inference_mode():
                self.model(
                    input_ids=prefix, position_ids=torch.arange(shared, device=self.device)[None, :],
                    use_cache=True, logits_to_keep=1, **kv,
                )  # fmt: skip
            cache.batch_repeat_interleave(len(seqs))
        ids, suffix_mask = self._pad([s[shared:] for s in seqs])
        pos = (suffix_mask.cumsum(-1) - 1).clamp(min=0) + shared
        mask = torch.cat([suffix_mask.new_ones((len(seqs), shared)), suffix_mask], dim=-1)
        eos = torch.tensor(self.eos_ids, device=self.device)
        eos_set = set(self.eos_ids)
        out: list[list[int]] = [[] for _ in seqs]
        alive = torch.arange(len(seqs), device=self.device)
        from harness.progress import step as progress_step

        # the items of a batch often all end at max_new_tokens together: show the tokens too
        shown = progress_step(f"batch of {len(seqs)}: tokens", total=max_new)
        with torch.inference_mode(), shown as tokens:
            logits = self.model(
                input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1, **kv
            ).logits[:, -1, :]
            next_pos = pos[:, -1]
            for step in range(max_new):
                tokens.update(completed=step + 1)
                tok = logits.argmax(-1)
                for r, t in zip(alive.tolist(), tok.tolist(), strict=True):
                    out[r].append(t)
                done = torch.isin(tok, eos)
                if step == max_new - 1:
                    break
                if bool(done.any()):
                    yield [(r, [t for t in out[r] if t not in eos_set]) for r in alive[done].tolist()]
                    keep = (~done).nonzero().squeeze(-1)
                    if keep.numel() == 0:
                        return
                    cache.batch_select_indices(keep)
                    alive, tok, mask, next_pos = alive[keep], tok[keep], mask[keep], next_pos[keep]
                mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
                next_pos = next_pos + 1
                logits = self.model(
                    input_ids=tok[:, None], attention_mask=mask, position_ids=next_pos[:, None], use_cache=True, **kv
                ).logits[:, -1, :]
        yield [(r, [t for t in out[r] if t not in eos_set]) for r in alive.tolist()]

    @property
    def _cache_arg(self) -> str:
        """The forward argument that takes the KV cache: ``cache`` (transformers >= 5.2x) or ``past_key_values``.

        transformers deprecated ``past_key_values`` (removal in 5.40); older releases only know it.
        """
        import inspect

        model = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
        return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

    def _shared_prefix(self, seqs: list[list[int]]) -> int:
        """Tokens at the start of every prompt in the batch (0 when sharing is off or not worth it)."""
        if not self.share_prefix or len(seqs) < 2:
            return 0
        n = min(len(s) for s in seqs) - 1  # every row keeps at least one token of its own
        for s in seqs[1:]:
            n = min(n, _lcp(seqs[0], s))
        return n if n >= MIN_SHARED_PREFIX else 0

    def _sample(
        self, seqs: list[list[int]], settings: GenerationSettings, seed: int
    ) -> Iterator[list[tuple[int, list[int]]]]:
        """Seeded sampling with ``model.generate``; the rows that end at each step, as they end."""
        from transformers import GenerationConfig

        from harness.models.hf_sample import sample_rows

        ids, mask = self._pad(seqs)
        cfg = GenerationConfig(
            max_new_tokens=settings.max_new_tokens,
            do_sample=True,
            temperature=settings.temperature,
            top_p=settings.top_p,
            eos_token_id=self.eos_ids,
            pad_token_id=self.tokenizer.pad_token_id,
        )
        yield from sample_rows(self.model, ids, mask, cfg, self.eos_ids, seed)

    # ------------------------------------------------------------------------ log-likelihood
    def loglikelihood(
        self, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
    ) -> list[Loglik]:
        """``log P(continuation | context)`` per request, as lm-eval computes it (see :mod:`.hf_loglik`)."""
        return hf_loglik.loglikelihood(self, requests, settings)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[Loglik]:
        """``log P(text)`` of whole documents over rolling context windows (see :mod:`.hf_loglik`)."""
        return hf_loglik.loglikelihood_rolling(self, texts)

    # -------------------------------------------------------------------------------- judge
    def level_probabilities(
        self, prompts: Sequence[Prompt], labels: Sequence[str], settings: GenerationSettings
    ) -> list[LevelProbabilities]:
        """Next-token probabilities of each label's first token after the (templated) prompt."""
        torch = self._torch
        first: dict[str, int] = {}
        for lab in labels:
            toks = self.tokenizer(lab, add_special_tokens=False)["input_ids"]
            if not toks:
                raise ModelError(f"level label {lab!r} encodes to no token")
            first[lab] = int(toks[0])
        if len(set(first.values())) != len(first):
            raise ModelError(f"level labels {list(labels)} share a first token; give them distinct labels")
        templated = settings.chat_template and self.has_chat_template
        seqs = self._encode([self.render(p, settings) for p in prompts], templated=templated)
        order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i]), i))
        bs = self.resolve_batch_size(len(seqs), len(seqs[order[0]]), 1) if seqs else 1
        results: list[LevelProbabilities | None] = [None] * len(seqs)
        label_ids = torch.tensor([first[lab] for lab in labels])
        for s in range(0, len(order), bs):
            chunk = order[s : s + bs]
            ids, mask = self._pad([seqs[i] for i in chunk])
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            with torch.inference_mode():
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=pos).logits[:, -1, :].float()
            p = torch.softmax(logits, dim=-1)[:, label_ids.to(logits.device)].cpu()
            for i, row in zip(chunk, p.tolist(), strict=True):
                mass = float(sum(row))
                probs = {lab: (v / mass if mass > 0 else 0.0) for lab, v in zip(labels, row, strict=True)}
                results[i] = LevelProbabilities(probs, mass)
        return [r for r in results if r is not None]
