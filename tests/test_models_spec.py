"""Model specs resolve without torch; local folders and the bundled GGUF load."""

from __future__ import annotations

import json

import pytest

from harness.errors import HarnessError, InputFileError
from harness.models.spec import parse_spec


def test_spec_kinds(tmp_path, tiny_model_dir):
    assert parse_spec("openai:my-model").name == "my-model"
    out = tmp_path / "o.jsonl"
    out.write_text('{"id": "a", "output": "x"}\n')
    assert parse_spec(f"outputs:{out}").kind == "outputs"
    assert parse_spec(str(tiny_model_dir)).kind == "hf"
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_model_dir)}))
    spec = parse_spec(str(adapter))
    assert spec.kind == "adapter" and spec.base is not None and spec.base.kind == "hf"


def test_bad_specs_name_the_problem(tmp_path):
    with pytest.raises(InputFileError, match="Did you mean 'smollm2-135m'"):
        parse_spec("smollm2-135")
    with pytest.raises(HarnessError, match="not a model"):
        parse_spec(str(tmp_path))
    with pytest.raises(HarnessError, match="needs a model name"):
        parse_spec("openai:")


def test_a_parsed_spec_resolves_its_weights_and_hashes_once(tmp_path, tiny_model_dir, monkeypatch):
    import harness.models.spec as spec_module

    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(tiny_model_dir)}))
    (adapter / "tokenizer_config.json").write_text("{}")
    spec = parse_spec(str(adapter))
    calls: list[str] = []
    real = spec_module.ModelSpec._find_weights

    def counted(self):
        calls.append(self.raw)
        return real(self)

    monkeypatch.setattr(spec_module.ModelSpec, "_find_weights", counted)
    for _ in range(3):
        assert spec.weights_folder() == tiny_model_dir
    assert calls == [str(adapter), str(tiny_model_dir)]  # the adapter's, then its base's: each once
    assert spec.tokenizer_folder() == adapter and spec.adapter_dir() == adapter
    assert parse_spec(str(tiny_model_dir)).adapter_dir() is None

    hashed: list[object] = []
    monkeypatch.setattr(spec_module, "file_hash", lambda path: hashed.append(path) or "h")
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    g = parse_spec(str(gguf))
    assert g.source_hash() == g.source_hash() == "h" and hashed == [gguf]


def test_the_endpoint_belongs_to_openai_specs():
    assert parse_spec("openai:m", endpoint="http://h/v1").endpoint == "http://h/v1"
    with pytest.raises(HarnessError, match="only for 'openai"):
        parse_spec("smollm2-135m", endpoint="http://h/v1")


def test_tiny_model_generates(tiny_model_dir):
    import torch

    from harness.models.loading import load_causal_lm, load_tokenizer

    model = load_causal_lm(parse_spec(str(tiny_model_dir)))
    tok = load_tokenizer(parse_spec(str(tiny_model_dir)))
    ids = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, return_tensors="pt")
    ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
    out = model.generate(ids, max_new_tokens=3, do_sample=False)
    assert out.shape[1] == ids.shape[1] + 3 or int(out[0, -1]) == tok.eos_token_id


def test_pickle_weights_refused(tmp_path, tiny_model_dir):
    import shutil

    from harness.errors import ModelError
    from harness.models.loading import load_causal_lm

    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    (folder / "model.safetensors").unlink()
    (folder / "pytorch_model.bin").write_bytes(b"not really")
    with pytest.raises(ModelError, match="allow-pickle"):
        load_causal_lm(parse_spec(str(folder)))
