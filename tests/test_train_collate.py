"""Masking contract of harness.train.collate, pinned on the tiny model's real BPE tokenizer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError, InputError
from harness.records import ChatRecord, Message, PreferenceRecord, SFTRecord
from harness.train.collate import (
    IGNORE,
    PLAIN_TEMPLATE,
    PairCollator,
    SFTCollator,
    TemplateMismatchError,
    encode_pair,
    encode_sft,
    encode_sft_records,
    end_token_ids,
    resolve_chat_template,
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    resolve_chat_template(t, "auto")
    return t


def sft(prompt: str, completion: str, rid: str = "a") -> SFTRecord:
    return SFTRecord(id=rid, line=1, prompt=prompt, completion=completion)


def trained_text(tok, ex) -> str:
    return tok.decode([t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE])


def test_loss_only_on_completion_and_end_of_turn(tok):
    ex, truncated = encode_sft(sft("What is the capital of France?", "Paris."), tok, max_length=512)
    assert not truncated
    assert trained_text(tok, ex) == "Paris.<|im_end|>"
    # Every prompt token is masked; the row ends with the trained end-of-turn token.
    first = next(i for i, lab in enumerate(ex.labels) if lab != IGNORE)
    assert all(lab == IGNORE for lab in ex.labels[:first])
    assert ex.input_ids[-1] == tok.convert_tokens_to_ids("<|im_end|>") == ex.labels[-1]
    prompt_text = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    assert tok.decode(ex.input_ids[:first]) == prompt_text


def test_eos_trained_even_when_pad_token_equals_eos(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    t.pad_token = t.eos_token  # as for SmolLM2, whose pad is <|im_end|>
    resolve_chat_template(t, "auto")
    ex, _ = encode_sft(sft("Say yes", "yes"), t, max_length=512)
    batch = SFTCollator(t.pad_token_id)(
        [ex._asdict(), encode_sft(sft("Say", "a longer answer here"), t, max_length=512)[0]._asdict()]
    )
    eos = t.eos_token_id
    row = batch["labels"][0].tolist()
    assert row[-1] == eos, "the end-of-turn token must keep its label even though it is also the pad id"
    # Padding is masked by position, not by id.
    pads = (batch["attention_mask"][0] == 0).sum().item()
    assert pads > 0 and all(v == IGNORE for v in row[:pads])


def test_full_sequence_loss_when_completion_only_is_off(tok):
    ex, _ = encode_sft(sft("Hi", "Hello"), tok, max_length=512, completion_only=False)
    assert ex.labels == ex.input_ids


def test_chat_trains_every_assistant_turn_and_nothing_else(tok):
    rec = ChatRecord(
        id="c",
        line=3,
        messages=[
            Message(role="system", content="Be brief."),
            Message(role="user", content="Hi"),
            Message(role="assistant", content="Hello"),
            Message(role="user", content="Bye"),
            Message(role="assistant", content="Goodbye"),
        ],
    )
    ex, _ = encode_sft(rec, tok, max_length=512)
    spans, cur = [], []
    for t, lab in zip(ex.input_ids, ex.labels, strict=True):
        if lab != IGNORE:
            cur.append(t)
        elif cur:
            spans.append(tok.decode(cur))
            cur = []
    spans.append(tok.decode(cur))
    assert spans == ["Hello<|im_end|>", "Goodbye<|im_end|>"]


QA_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}Q: {{ m['content'] }}\n"
    "{% else %}A: {{ m['content'] }}<|im_end|>{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}A: {% endif %}"
)


def test_prefix_mismatch_is_an_error_naming_the_example(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    t.chat_template = QA_TEMPLATE
    ok, _ = encode_sft(sft("Count", "#1"), t, max_length=64)  # "A: " + "#1": " #" is no token here
    assert trained_text(t, ok) == "#1<|im_end|>"
    # The generation prompt ends with a space that merges with the answer's first digit (" 4").
    with pytest.raises(TemplateMismatchError) as info:
        encode_sft(SFTRecord(id="t-9", line=7, prompt="Count", completion="4"), t, max_length=64, source="d.jsonl")
    err = info.value
    assert isinstance(err, InputError)
    assert err.file == "d.jsonl" and err.line == 7 and "t-9" in str(err) and "prefix" in str(err)


def test_plain_template_appends_eos_and_checks_the_boundary(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    choice = resolve_chat_template(t, "plain")
    assert choice.template == PLAIN_TEMPLATE
    ex, _ = encode_sft(sft("Question: 2+2? Answer:", " 4"), t, max_length=64)
    assert trained_text(t, ex) == " 4" + t.eos_token
    with pytest.raises(TemplateMismatchError):  # "Answer: " + "4": the space merges with the answer
        encode_sft(sft("Question: 2+2? Answer: ", "4"), t, max_length=64)


def test_template_without_end_token_is_an_error(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    t.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    with pytest.raises(ConfigError, match="end-of-turn"):
        encode_sft(sft("Hi", "Hello"), t, max_length=64)


def test_auto_template_requires_one(tiny_model_dir):
    from transformers import AutoTokenizer

    t = AutoTokenizer.from_pretrained(tiny_model_dir)
    t.chat_template = None
    with pytest.raises(ConfigError, match="chat_template: plain"):
        resolve_chat_template(t, "auto")


def test_truncation_keeps_trained_tokens_or_drops_and_counts(tok):
    long_prompt = "The quick brown fox jumps over the lazy dog. " * 8
    n_prompt = len(
        tok(
            tok.apply_chat_template(
                [{"role": "user", "content": long_prompt}], tokenize=False, add_generation_prompt=True
            ),
            add_special_tokens=False,
        )["input_ids"]
    )
    ok, truncated = encode_sft(sft(long_prompt, "Paris is the capital"), tok, max_length=n_prompt + 2)
    assert truncated and len(ok.input_ids) == n_prompt + 2
    assert sum(lab != IGNORE for lab in ok.labels) == 2
    records = [sft(long_prompt, "yes", "long"), sft("Hi", "Hello", "short")]
    enc = encode_sft_records(records, tok, max_length=n_prompt)
    assert [e.id for e in enc.examples] == ["short"]
    assert enc.stats.n_dropped == 1 and enc.stats.dropped_ids == ["long"] and enc.stats.n_kept == 1
    assert enc.stats.n_records == 2


def test_pair_masks_cover_each_response_through_end_of_turn(tok):
    rec = PreferenceRecord(id="p", line=1, prompt="Capital of France?", chosen="Paris.", rejected="I think it is Rome.")
    pair, _ = encode_pair(rec, tok, max_length=512)
    for ids, mask, text in (
        (pair.chosen_ids, pair.chosen_mask, "Paris."),
        (pair.rejected_ids, pair.rejected_mask, "I think it is Rome."),
    ):
        assert tok.decode([t for t, m in zip(ids, mask, strict=True) if m]) == text + "<|im_end|>"
    n = pair.chosen_mask.index(1)
    assert pair.chosen_ids[:n] == pair.rejected_ids[:n]
    batch = PairCollator(tok.pad_token_id)([pair._asdict(), pair._asdict()])
    assert batch["input_ids"].shape[0] == 4
    # Left padding with positions that start at 0 at the first real token of each row.
    for row in range(4):
        att = batch["attention_mask"][row]
        pos = batch["position_ids"][row][att.bool()]
        assert pos.tolist() == list(range(int(att.sum())))


def test_end_tokens_include_im_end(tok):
    assert tok.convert_tokens_to_ids("<|im_end|>") in end_token_ids(tok)


_TEXT = st.text(alphabet="abcdefghij klmnop,.?!0123456789\n", min_size=1, max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(prompt=_TEXT, completion=_TEXT)
def test_trained_tokens_are_exactly_the_completion_and_end_of_turn(tok, prompt, completion):
    full = [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    p_ids = tok(
        tok.apply_chat_template(full[:1], tokenize=False, add_generation_prompt=True), add_special_tokens=False
    )["input_ids"]
    f_ids = tok(tok.apply_chat_template(full, tokenize=False), add_special_tokens=False)["input_ids"]
    try:
        ex, _ = encode_sft(sft(prompt, completion), tok, max_length=4096)
    except TemplateMismatchError:
        # An independent look at the same tokenisations: the prompt really is not a prefix.
        assert f_ids[: len(p_ids)] != p_ids
        return
    assert f_ids[: len(p_ids)] == p_ids
    assert trained_text(tok, ex) == completion + "<|im_end|>"
    assert ex.input_ids[: len(p_ids)] == p_ids
