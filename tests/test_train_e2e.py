"""End to end on the bundled SmolLM2-135M-Instruct: preflight on the demo data, a few LoRA steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.models.loading import load_causal_lm, load_tokenizer
from harness.models.spec import parse_spec
from harness.records import SFTRecord
from harness.train.collate import TemplateMismatchError, encode_sft
from harness.train.config import load_config
from harness.train.runner import train

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "examples" / "train_tickets.yaml"


@pytest.mark.e2e
def test_demo_data_is_stopped_by_preflight(tmp_path):
    cfg = load_config(EXAMPLE, overrides=["holdouts=[]"])
    result = train(cfg, tmp_path / "run")
    assert result.status == "blocked"
    doc = json.loads((tmp_path / "run" / "validation.json").read_text())
    errors = {f["check"]: f["ids"] for f in doc["findings"] if f["severity"] == "error"}
    assert errors == {"schema.empty_field": ["t-empty-1"]}
    warnings = {f["check"] for f in doc["findings"] if f["severity"] == "warning"}
    assert {"duplicates.exact", "pii.email", "pii.card"} <= warnings


@pytest.mark.e2e
def test_smollm2_whitespace_completion_is_a_prefix_mismatch():
    tok = load_tokenizer(parse_spec("smollm2-135m"))
    # SmolLM2's BPE merges the "\n" ending the generation prompt with leading spaces.
    with pytest.raises(TemplateMismatchError, match="prefix"):
        encode_sft(SFTRecord(id="t-empty-1", line=91, prompt="Ticket", completion="   "), tok, max_length=256)
    ok, _ = encode_sft(SFTRecord(id="a", line=1, prompt="Ticket", completion='{"a": 1}'), tok, max_length=256)
    assert ok.input_ids[-1] == tok.convert_tokens_to_ids("<|im_end|>") == ok.labels[-1]


@pytest.mark.e2e
def test_bundled_model_trains_a_few_steps(tmp_path):
    rows = [json.loads(x) for x in (ROOT / "examples" / "tickets_train.jsonl").read_text().splitlines()]
    clean = [r for r in rows if not r["id"].startswith(("t-empty", "t-dup", "t-pii"))][:8]
    (tmp_path / "clean.jsonl").write_text("".join(json.dumps(r) + "\n" for r in clean))
    cfg = load_config(
        EXAMPLE,
        overrides=[
            f"train_data={tmp_path / 'clean.jsonl'}",
            "holdouts=[]",
            "eval_data=null",
            "max_steps=2",
            "batch_size=2",
            "save_steps=2",
        ],
    )
    result = train(cfg, tmp_path / "run")
    m = result.manifest
    assert result.status == "trained" and m["base_model"] == "smollm2-135m"
    assert any(k.startswith("source:") and k.endswith(".gguf") for k in m["base_model_hashes"])
    assert m["results"]["global_step"] == 2 and m["results"]["train_loss"] > 0
    tok = load_tokenizer(parse_spec(str(tmp_path / "run")))
    assert "<|im_start|>" in tok.chat_template
    model = load_causal_lm(parse_spec(str(tmp_path / "run")))
    assert type(model).__name__.startswith("Peft")
