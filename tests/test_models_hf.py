"""The local generator on the tiny model: batching, padding, chat templates, adapters, judge logits."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.errors import ModelError
from harness.models.base import GenerationRequest, GenerationSettings
from harness.models.factory import make_generator

PROMPTS = [
    "The quick brown fox",
    "Extract the ticket fields as JSON with the keys category and priority.",
    "hi",
    "What is the capital of France? Answer in one word please, thanks.",
    "0 1 2 3",
]


def reqs(prompts=PROMPTS):
    return [GenerationRequest(f"i{n}", p) for n, p in enumerate(prompts)]




@pytest.fixture(scope="module")
def tiny_gen(lively_model_dir):
    return make_generator(str(lively_model_dir), batch_size=2)


def reference_outputs(gen, settings, eos_ids, bs, prompts=PROMPTS):
    """transformers' own generate() on the same length-sorted, left-padded batches."""
    import torch

    seqs = gen._encode([gen.render(r.prompt, settings) for r in reqs(prompts)])
    order = sorted(range(len(seqs)), key=lambda i: (-len(seqs[i]), i))
    out = {}
    for s in range(0, len(order), bs):
        chunk = order[s : s + bs]
        ids, mask = gen._pad([seqs[i] for i in chunk])
        with torch.inference_mode():
            g = gen.model.generate(
                input_ids=ids, attention_mask=mask, max_new_tokens=settings.max_new_tokens, do_sample=False,
                eos_token_id=eos_ids, pad_token_id=gen.tokenizer.pad_token_id,
            )  # fmt: skip
        for i, row in zip(chunk, g[:, ids.shape[1] :].tolist(), strict=True):
            toks = []
            for t in row:
                if t in eos_ids:
                    break
                toks.append(t)
            out[i] = gen.tokenizer.decode(toks, skip_special_tokens=True)
    return out


def test_greedy_matches_transformers_generate(tiny_gen):
    settings = GenerationSettings(max_new_tokens=12)
    ours = {i: c.text for i, c in tiny_gen.generate(reqs(), settings)}
    assert ours == reference_outputs(tiny_gen, settings, tiny_gen.eos_ids, 2)


def test_sequences_leaving_the_batch_early_do_not_change_the_others(tiny_gen, monkeypatch):
    """With common tokens as end tokens some rows finish after a step or two and are dropped."""
    settings = GenerationSettings(max_new_tokens=10)
    full = {i: c for i, c in tiny_gen.generate(reqs(), settings)}
    toks = [tiny_gen.tokenizer(c.text, add_special_tokens=False)["input_ids"] for c in full.values()]
    # an end token that some outputs produce midway and others never: those rows leave the batch early
    stop = next(t for t in sorted({t for o in toks for t in o[1:]}) if any(t not in o for o in toks))
    eos = sorted({*tiny_gen.eos_ids, stop})
    monkeypatch.setattr(tiny_gen, "eos_ids", eos)
    ours = {i: c for i, c in tiny_gen.generate(reqs(), settings)}
    assert any(c.tokens < 10 for c in ours.values()) and any(c.tokens == 10 for c in ours.values())
    assert {i: c.text for i, c in ours.items()} == reference_outputs(tiny_gen, settings, eos, 2)


def test_outputs_do_not_depend_on_batch_size_or_order(lively_model_dir, tiny_gen):
    settings = GenerationSettings(max_new_tokens=8)
    one = make_generator(str(lively_model_dir), batch_size=1)
    a = {i: c.text for i, c in one.generate(reqs(), settings)}
    b = {i: c.text for i, c in tiny_gen.generate(reqs(), settings)}
    rev = list(reversed(reqs()))
    c = {len(PROMPTS) - 1 - i: x.text for i, x in tiny_gen.generate(rev, settings)}
    assert a == b == c
    assert len(set(a.values())) == len(PROMPTS)  # the outputs differ, so the comparison means something


def test_chat_template_system_and_stop(tiny_gen):
    s = GenerationSettings(system="Be brief.")
    text = tiny_gen.render("hello", s)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>") and text.endswith("<|im_start|>assistant\n")
    assert tiny_gen.render("hello", GenerationSettings(chat_template=False)) == "hello"
    with pytest.raises(ModelError, match="chat template"):
        tiny_gen.render([{"role": "user", "content": "x"}], GenerationSettings(chat_template=False))
    outs = [c.text for _, c in tiny_gen.generate(reqs(), GenerationSettings(max_new_tokens=12))]
    cut_on = next(o[1:3] for o in outs if len(o) > 3)
    cut = [c.text for _, c in tiny_gen.generate(reqs(), GenerationSettings(max_new_tokens=12, stop=[cut_on]))]
    assert all(cut_on not in o for o in cut) and any(len(x) < len(y) for x, y in zip(cut, outs, strict=False))


def test_sampling_is_seeded(tiny_gen):
    s = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=3)
    a = [c.text for _, c in tiny_gen.generate([GenerationRequest("a", "hi", seed=3)], s)]
    b = [c.text for _, c in tiny_gen.generate([GenerationRequest("a", "hi", seed=3)], s)]
    assert a == b


def test_describe_fingerprint_and_auto_batch(lively_model_dir, tiny_model_dir, tiny_gen):
    d = tiny_gen.describe()
    assert d["kind"] == "hf" and d["chat_template"] and d["fingerprint"] == tiny_gen.fingerprint
    assert make_generator(str(tiny_model_dir)).fingerprint != tiny_gen.fingerprint  # other weights
    again = make_generator(str(lively_model_dir))
    assert again.fingerprint == tiny_gen.fingerprint
    bs = again.resolve_batch_size(100, 50, 64)
    assert 1 <= bs <= 64
    assert again.resolve_batch_size(3, 50, 64) <= 3
    with pytest.raises(ModelError, match="batch size"):
        make_generator(str(tiny_model_dir), batch_size=0)


def test_level_probabilities(tiny_gen):
    res = tiny_gen.level_probabilities(["Grade: 1, 2 or 3?", "Another one"], ["1", "2", "3"], GenerationSettings())
    assert len(res) == 2
    for r in res:
        assert sum(r.probs.values()) == pytest.approx(1.0) and 0 < r.mass <= 1


def _adapter(tiny_model_dir: Path, folder: Path, *, trained: bool) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.models.loading import load_causal_lm
    from harness.models.spec import parse_spec

    model = load_causal_lm(parse_spec(str(tiny_model_dir)))
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], lora_alpha=8))
    if trained:
        torch.manual_seed(0)
        with torch.no_grad():
            for name, p in peft.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.5)
    peft.save_pretrained(folder)
    cfg = json.loads((folder / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = str(tiny_model_dir)
    (folder / "adapter_config.json").write_text(json.dumps(cfg))
    return folder


def test_noop_adapter_is_refused_unless_allowed(tmp_path, tiny_model_dir, tiny_gen):
    noop = _adapter(tiny_model_dir, tmp_path / "noop", trained=False)
    with pytest.raises(ModelError, match="allow-noop-adapter"):
        make_generator(str(noop))
    gen = make_generator(str(noop), allow_noop_adapter=True)
    assert gen.describe()["adapter_probe"]["noop"] is True
    trained = _adapter(tiny_model_dir, tmp_path / "trained", trained=True)
    gen = make_generator(str(trained))
    d = gen.describe()
    assert d["kind"] == "adapter" and d["adapter_probe"]["max_abs_logit_diff"] > 1e-3 and d["adapter_hash"]
    assert gen.fingerprint != make_generator(str(tiny_model_dir)).fingerprint  # the adapter is part of it


def test_run_folder_uses_its_own_chat_template(tmp_path, tiny_model_dir):
    run = tmp_path / "run"
    _adapter(tiny_model_dir, run / "adapter", trained=True)
    for f in tiny_model_dir.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, run / f.name)
    cfg = json.loads((run / "tokenizer_config.json").read_text())
    template = "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}[assistant] "
    if (run / "chat_template.jinja").exists():
        (run / "chat_template.jinja").write_text(template)
    else:
        cfg["chat_template"] = template
    (run / "tokenizer_config.json").write_text(json.dumps(cfg))
    (run / "manifest.json").write_text(json.dumps({"kind": "harness.train/v1", "base_model": str(tiny_model_dir)}))
    gen = make_generator(str(run))
    assert gen.render("hello", GenerationSettings()) == "[user] hello\n[assistant] "
    d = gen.describe()
    assert d["kind"] == "run" and d["tokenizer_folder"] == str(run) and d["base"] == str(tiny_model_dir)
    outs = list(gen.generate(reqs(PROMPTS[:2]), GenerationSettings(max_new_tokens=4)))
    assert len(outs) == 2


def test_shared_prompt_prefix_runs_once_with_the_same_outputs(lively_model_dir):
    prefix = "Extract the ticket fields as JSON with the keys category and priority. Ticket: "
    prompts = [prefix + t for t in ["hi", "The quick brown fox", "0 1 2 3 4 5", "What is the capital of France?"]]
    settings = GenerationSettings(max_new_tokens=10, system="You are a helpful assistant for support tickets.")
    gen = make_generator(str(lively_model_dir), batch_size=4)
    seqs = gen._encode([gen.render(p, settings) for p in prompts])
    assert gen._shared_prefix(seqs) >= 20
    shared = {i: c.text for i, c in gen.generate(reqs(prompts), settings)}
    gen.share_prefix = False
    assert gen._shared_prefix(seqs) == 0
    full = {i: c.text for i, c in gen.generate(reqs(prompts), settings)}
    assert shared == full == reference_outputs(gen, settings, gen.eos_ids, 4, prompts)
    assert len(set(full.values())) == len(prompts)


def test_schedule_keeps_templates_apart_and_sorts_by_length(tiny_gen):
    a = [list(range(40)) + [100 + k] * (k + 1) for k in range(5)]  # template A, 5 prompts
    b = [list(range(50, 90)) + [200 + k] * (k + 1) for k in range(3)]  # template B, 3 prompts
    singles = [[7, 8, 9], [300, 301], [5] * 12]
    seqs = a + b + singles
    batches = tiny_gen.schedule(seqs, 2)
    assert sorted(i for bt in batches for i in bt) == list(range(len(seqs)))
    group_of = {i: "a" for i in range(5)} | {i: "b" for i in range(5, 8)} | {i: "s" for i in range(8, 11)}
    for bt in batches:
        assert len(bt) <= 2 and len({group_of[i] for i in bt}) == 1
        assert [len(seqs[i]) for i in bt] == sorted((len(seqs[i]) for i in bt), reverse=True)
    assert len(batches) == 3 + 2 + 2
    tiny_gen.share_prefix = False
    try:
        flat = [i for bt in tiny_gen.schedule(seqs, 4) for i in bt]
        assert [len(seqs[i]) for i in flat] == sorted((len(s) for s in seqs), reverse=True)
    finally:
        tiny_gen.share_prefix = True
