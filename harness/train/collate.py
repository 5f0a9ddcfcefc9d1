"""Tokenisation and loss masking for SFT and DPO, and the collators that batch the result.

Every example goes through the chat template that training records in the run folder (the one
``harness eval`` then uses), so the model is trained on exactly the text it is prompted with:

- a prompt-completion record is the conversation ``[user: prompt, assistant: completion]``;
- a chat record is its ``messages``; every assistant turn is a training target;
- a preference record is ``prompt`` followed by ``chosen`` (or ``rejected``) as assistant turns.

Masking rules (each pinned by a test):

1. Loss only on assistant / completion tokens (unless ``completion_only_loss`` is off).
2. The tokenised prompt must be a prefix of the tokenised prompt+completion; when it is not (a
   template that renders the prompt differently, or tokens merging across the boundary) that is
   an error naming the example, never a silent shift of the boundary.
3. The end-of-turn / EOS token that closes each assistant turn is trained, so the model learns
   to stop; formatting after it (a newline) is not. A template that does not close the assistant
   turn with such a token is an error.
4. Truncation keeps the start; an example left with no trained token is dropped, and drops are
   counted and reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, Field

from harness.errors import ConfigError, InputError
from harness.records import ChatRecord, Message, PreferenceRecord, Record, SFTRecord

IGNORE = -100
PLAIN_TEMPLATE = (
    "{% for message in messages %}{{ message['content'] }}"
    "{% if message['role'] == 'assistant' %}{{ eos_token }}{% endif %}{% endfor %}"
)
# End-of-turn tokens of common chat templates; only those in the tokenizer's vocabulary count.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>", "<|eot|>")


class TemplateChoice(NamedTuple):
    """The chat template used in training: where it came from and its Jinja text."""

    source: str
    template: str


class TemplateMismatchError(InputError):
    """The tokenised prompt is not a prefix of the tokenised prompt+completion."""


def resolve_chat_template(tokenizer: Any, choice: str) -> TemplateChoice:
    """Pick the chat template (``auto``, ``plain`` or a Jinja file) and set it on the tokenizer.

    Raises:
        ConfigError: ``auto`` with a tokenizer that has no chat template.
    """
    if choice == "auto":
        template = getattr(tokenizer, "chat_template", None)
        if not template:
            raise ConfigError(
                "the base model's tokenizer has no chat template; set chat_template: plain "
                "(prompt, then completion, then EOS) or the path of a Jinja template",
                field="chat_template",
            )
        source = "base tokenizer"
    elif choice == "plain":
        template, source = PLAIN_TEMPLATE, "plain"
    else:
        template, source = Path(choice).read_text(encoding="utf-8"), str(choice)
    tokenizer.chat_template = template
    return TemplateChoice(source, template)


def end_token_ids(tokenizer: Any) -> frozenset[int]:
    """Token ids that close an assistant turn: EOS and known end-of-turn tokens in the vocabulary."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in _END_OF_TURN if t in vocab)
    return frozenset(ids)


def _messages(value: str | list[Message], role: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": role, "content": value}]
    return [{"role": m.role, "content": m.content} for m in value]


def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt)


def _ids(tokenizer: Any, text: str) -> list[int]:
    # The template writes any special tokens itself; adding them again would double a BOS.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


class Source(NamedTuple):
    """Where an example came from, for error messages."""

    file: str
    line: int
    id: str


def _mismatch(tokenizer: Any, where: Source, prefix: list[int], full: list[int], what: str) -> TemplateMismatchError:
    n = next((i for i, (a, b) in enumerate(zip(prefix, full, strict=False)) if a != b), min(len(prefix), len(full)))
    return TemplateMismatchError(
        f"example '{where.id}': the tokenised {what} is not a prefix of the tokenised conversation; they diverge "
        f"at token {n}: {tokenizer.decode(prefix[n : n + 8])!r} vs {tokenizer.decode(full[n : n + 8])!r}. "
        "Tokens merge across the boundary or the template renders the prompt differently on its own; end the "
        "prompt on a token boundary or fix the template",
        file=where.file,
        line=where.line,
    )


def _target_spans(
    tokenizer: Any, messages: list[dict[str, str]], full: list[int], ends: frozenset[int], where: Source
) -> list[tuple[int, int]]:
    """``[start, stop)`` token spans of each assistant turn, through its end-of-turn token."""
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        before = _ids(tokenizer, _render(tokenizer, messages[:i], generation_prompt=True)) if i else []
        through = _ids(tokenizer, _render(tokenizer, messages[: i + 1], generation_prompt=False))
        if full[: len(before)] != before:
            raise _mismatch(tokenizer, where, before, full, "prompt")
        if full[: len(through)] != through:
            raise _mismatch(tokenizer, where, through, full, f"conversation up to turn {i}")
        last_end = max((j for j in range(len(before), len(through)) if through[j] in ends), default=None)
        if last_end is None:
            raise ConfigError(
                f"example '{where.id}': the chat template does not close the assistant turn with an end-of-turn "
                f"or EOS token ({sorted(tokenizer.convert_ids_to_tokens(sorted(ends)))}), so the model would never "
                "learn to stop; use a template that does (chat_template: plain appends EOS)",
                field="chat_template",
            )
        spans.append((len(before), last_end + 1))
    return spans


class SFTExample(NamedTuple):
    """One tokenised SFT example: ids and labels (``-100`` where no loss is taken)."""

    id: str
    input_ids: list[int]
    labels: list[int]


class PairExample(NamedTuple):
    """One tokenised preference pair: each side is prompt + response, with a completion mask."""

    id: str
    chosen_ids: list[int]
    chosen_mask: list[int]
    rejected_ids: list[int]
    rejected_mask: list[int]


class Encoding(NamedTuple):
    """One record's tokenisation: the example (None when dropped) and whether it was truncated."""

    example: Any
    truncated: bool


class EncodeStats(BaseModel):
    """What tokenisation kept, truncated and dropped (reported in the manifest and model card)."""

    n_records: int = 0
    n_kept: int = 0
    n_truncated: int = Field(default=0, description="kept examples that lost tokens to max_length")
    n_dropped: int = Field(default=0, description="examples with no trained token left after truncation")
    dropped_ids: list[str] = Field(default_factory=list, description="the first 50 dropped ids")
    n_tokens: int = 0
    n_trained_tokens: int = 0

    def drop(self, rid: str) -> None:
        """Count a dropped example."""
        self.n_dropped += 1
        if len(self.dropped_ids) < 50:
            self.dropped_ids.append(rid)


class Encoded(NamedTuple):
    """Tokenised examples and their statistics."""

    examples: list[Any]
    stats: EncodeStats


def sft_messages(record: Record) -> list[dict[str, str]]:
    """The conversation an SFT or chat record is trained as."""
    if isinstance(record, SFTRecord):
        return [{"role": "user", "content": record.prompt}, {"role": "assistant", "content": record.completion}]
    if isinstance(record, ChatRecord):
        return [{"role": m.role, "content": m.content} for m in record.messages]
    raise InputError(f"record '{record.id}' is a {record.kind} record; method sft trains on prompt-completion or chat")


def encode_sft(
    record: Record, tokenizer: Any, *, max_length: int, completion_only: bool = True, source: str = "", ends: Any = None
) -> Encoding:
    """Tokenise one SFT/chat record into ``Encoding(SFTExample or None if dropped, truncated)``.

    Raises:
        TemplateMismatchError: the tokenised prompt is not a prefix of the tokenised conversation.
        ConfigError: the chat template does not close assistant turns with an end token.
    """
    where = Source(source, record.line, record.id)
    messages = sft_messages(record)
    full = _ids(tokenizer, _render(tokenizer, messages, generation_prompt=False))
    spans = _target_spans(tokenizer, messages, full, ends or end_token_ids(tokenizer), where)
    if completion_only:
        labels = [IGNORE] * len(full)
        for a, b in spans:
            labels[a:b] = full[a:b]
    else:
        labels = list(full)
    # Template formatting after the last end-of-turn token teaches nothing; cut it so the
    # completion ends the row (which the collator's left padding relies on).
    stop = spans[-1][1] if spans else len(full)
    full, labels = full[:stop], labels[:stop]
    truncated = len(full) > max_length
    full, labels = full[:max_length], labels[:max_length]
    if not any(v != IGNORE for v in labels[1:]):
        return Encoding(None, truncated)
    return Encoding(SFTExample(record.id, full, labels), truncated)


def encode_sft_records(
    records: Iterable[Record], tokenizer: Any, *, max_length: int, completion_only: bool = True, source: str = ""
) -> Encoded:
    """Tokenise SFT/chat records, counting truncated and dropped examples."""
    stats = EncodeStats()
    out: list[SFTExample] = []
    ends = end_token_ids(tokenizer)
    for record in records:
        stats.n_records += 1
        ex, truncated = encode_sft(
            record, tokenizer, max_length=max_length, completion_only=completion_only, source=source, ends=ends
        )
        if ex is None:
            stats.drop(record.id)
            continue
        stats.n_kept += 1
        stats.n_truncated += truncated
        stats.n_tokens += len(ex.input_ids)
        stats.n_trained_tokens += sum(v != IGNORE for v in ex.labels[1:])
        out.append(ex)
    return Encoded(out, stats)


def encode_pair(
    record: PreferenceRecord, tokenizer: Any, *, max_length: int, source: str = "", ends: Any = None
) -> Encoding:
    """Tokenise one preference pair into ``Encoding(PairExample or None if dropped, truncated)``."""
    where = Source(source, record.line, record.id)
    ends = ends or end_token_ids(tokenizer)
    prompt = _messages(record.prompt, "user")
    sides: list[tuple[list[int], list[int]]] = []
    truncated = False
    for response in (record.chosen, record.rejected):
        messages = prompt + _messages(response, "assistant")
        full = _ids(tokenizer, _render(tokenizer, messages, generation_prompt=False))
        spans = _target_spans(tokenizer, messages, full, ends, where)
        start = _ids(tokenizer, _render(tokenizer, prompt, generation_prompt=True))
        mask = [0] * len(full)
        for a, b in spans:
            if a >= len(start):
                mask[a:b] = [1] * (b - a)
        last = max((i for i, v in enumerate(mask) if v), default=-1)
        full, mask = full[: last + 1], mask[: last + 1]
        truncated |= len(full) > max_length
        full, mask = full[:max_length], mask[:max_length]
        if not any(mask[1:]):
            return Encoding(None, truncated)
        sides.append((full, mask))
    (c_ids, c_mask), (r_ids, r_mask) = sides
    return Encoding(PairExample(record.id, c_ids, c_mask, r_ids, r_mask), truncated)


def encode_pair_records(records: Iterable[Record], tokenizer: Any, *, max_length: int, source: str = "") -> Encoded:
    """Tokenise preference records, counting truncated and dropped pairs."""
    stats = EncodeStats()
    out: list[PairExample] = []
    ends = end_token_ids(tokenizer)
    for record in records:
        if not isinstance(record, PreferenceRecord):
            raise InputError(
                f"record '{record.id}' is a {record.kind} record; method dpo needs preference records "
                "(prompt, chosen, rejected)",
                file=source,
                line=record.line,
            )
        stats.n_records += 1
        pair, truncated = encode_pair(record, tokenizer, max_length=max_length, source=source, ends=ends)
        if pair is None:
            stats.drop(record.id)
            continue
        stats.n_kept += 1
        stats.n_truncated += truncated
        stats.n_tokens += len(pair.chosen_ids) + len(pair.rejected_ids)
        stats.n_trained_tokens += sum(pair.chosen_mask[1:]) + sum(pair.rejected_mask[1:])
        out.append(pair)
    return Encoded(out, stats)


# ---------------------------------------------------------------------------- collators
def _left_pad(rows: Sequence[Sequence[int]], value: int) -> list[list[int]]:
    width = max(len(r) for r in rows)
    return [[value] * (width - len(r)) + list(r) for r in rows]


def _positions(attention: Any) -> Any:
    # Left padding: real tokens take positions 0..n-1 whatever the padding before them.
    return (attention.cumsum(-1) - 1).clamp(min=0)


class SFTCollator:
    """Left-pads SFT examples so every row ends with its last trained token.

    Left padding puts the trained tokens of all rows in the last columns, so the loss needs the
    language-model head only over those columns (``logits_to_keep``), not the whole sequence.
    Explicit position ids keep each row's positions as if it were unpadded.
    """

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        ids = torch.tensor(_left_pad([r["input_ids"] for r in rows], self.pad_token_id))
        labels = torch.tensor(_left_pad([r["labels"] for r in rows], IGNORE))
        attention = torch.tensor(_left_pad([[1] * len(r["input_ids"]) for r in rows], 0))
        return {"input_ids": ids, "attention_mask": attention, "position_ids": _positions(attention), "labels": labels}


class PairCollator:
    """Batches preference pairs as ``2B`` left-padded rows: the chosen sides, then the rejected."""

    def __init__(self, pad_token_id: int) -> None:
        self.pad_token_id = pad_token_id

    def __call__(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        seqs = [r["chosen_ids"] for r in rows] + [r["rejected_ids"] for r in rows]
        masks = [r["chosen_mask"] for r in rows] + [r["rejected_mask"] for r in rows]
        attention = torch.tensor(_left_pad([[1] * len(s) for s in seqs], 0))
        batch = {
            "input_ids": torch.tensor(_left_pad(seqs, self.pad_token_id)),
            "attention_mask": attention,
            "position_ids": _positions(attention),
            "completion_mask": torch.tensor(_left_pad(masks, 0)),
        }
        if "ref_chosen_logps" in rows[0]:
            batch["ref_logps"] = torch.tensor(
                [r["ref_chosen_logps"] for r in rows] + [r["ref_rejected_logps"] for r in rows], dtype=torch.float32
            )
        return batch
