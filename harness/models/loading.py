"""Loading local weights: Hugging Face folders, GGUF files (via a safetensors cache), adapters.

De-quantising a GGUF file takes seconds and the resulting model refuses ``save_pretrained``; so
the first load converts it once into a plain safetensors folder (a model built ``from_config``
takes the de-quantised state dict) under the harness cache, keyed by the GGUF's content hash.
Later loads, by the harness or by peers such as ``lm-eval``, read that folder in a fraction of a
second with identical logits. Weights never load from pickle unless ``allow_pickle`` is set.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import ModelError
from harness.models.spec import ModelSpec, parse_spec
from harness.provenance import file_hash


def cache_root() -> Path:
    """The harness cache folder (``$HARNESS_CACHE``, else ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def materialize_gguf(gguf: Path) -> Path:
    """Return a safetensors model folder for a GGUF file, converting it on first use."""
    target = cache_root() / "models" / f"{gguf.stem}-{file_hash(gguf)[:16]}"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    try:
        loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as exc:
        raise ModelError(f"cannot load GGUF file: {exc}", file=gguf) from exc
    config = AutoConfig.for_model(
        **{k: v for k, v in loaded.config.to_dict().items() if k not in ("quantization_config", "model_type")},
        model_type=loaded.config.model_type,
    )
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    plain.load_state_dict(loaded.state_dict())
    plain.generation_config = loaded.generation_config
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".convert-"))
    try:
        plain.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(f"converted from {gguf} ({file_hash(gguf)})\n")
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def weights_folder(spec: ModelSpec) -> Path:
    """The local folder holding a spec's full weights (the base's for adapters and runs)."""
    if spec.kind == "run" and spec.path is not None and (spec.path / "model" / "config.json").is_file():
        return spec.path / "model"  # a full fine-tuning run carries its own weights
    if spec.kind in ("adapter", "run"):
        assert spec.base is not None
        return weights_folder(spec.base)
    if spec.kind == "gguf":
        assert spec.path is not None
        return materialize_gguf(spec.path)
    if spec.kind == "hf":
        assert spec.path is not None
        return spec.path
    raise ModelError(f"{spec.raw!r} is not a local model; it has no weights to load")


def _check_no_pickle(folder: Path, allow_pickle: bool) -> None:
    has_safe = any(folder.glob("*.safetensors"))
    if not has_safe and any(folder.glob("*.bin")) and not allow_pickle:
        raise ModelError(
            "weights are only in pickle (.bin) files, which can run code when loaded; "
            "convert them to safetensors or pass --allow-pickle if you trust the source",
            file=folder,
        )


def load_tokenizer(spec: ModelSpec | str) -> Any:
    """The tokenizer of a local spec (a run folder's own tokenizer and chat template first)."""
    from transformers import AutoTokenizer

    spec = parse_spec(spec) if isinstance(spec, str) else spec
    folder = (
        spec.path
        if spec.kind in ("run", "adapter") and spec.path and (spec.path / "tokenizer_config.json").is_file()
        else weights_folder(spec)
    )
    tok = AutoTokenizer.from_pretrained(folder)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


@contextmanager
def peft_wrapping() -> Iterator[None]:
    """Silence the deprecation warning peft triggers in transformers when it wraps a model.

    peft reads ``is_gradient_checkpointing``, which transformers 5 deprecates; the warning is about
    their code, not the user's, so it is not shown. Other warnings pass through.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*deprecated", category=FutureWarning)
        yield


def load_causal_lm(spec: ModelSpec | str, *, allow_pickle: bool = False, dtype: Any = None) -> Any:
    """Load a causal LM for a local spec; adapters and run folders come back as PEFT models."""
    import torch
    from transformers import AutoModelForCausalLM

    spec = parse_spec(spec) if isinstance(spec, str) else spec
    folder = weights_folder(spec)
    _check_no_pickle(folder, allow_pickle)
    model: Any = AutoModelForCausalLM.from_pretrained(  # a PeftModel for an adapter or run (below)
        folder, dtype=dtype or torch.float32, use_safetensors=not allow_pickle, trust_remote_code=False
    )
    full_run = spec.kind == "run" and spec.path is not None and folder == spec.path / "model"
    if spec.kind == "adapter" or (spec.kind == "run" and not full_run):
        from peft import PeftModel

        assert spec.path is not None
        adapter_dir = spec.path / "adapter" if (spec.path / "adapter").is_dir() else spec.path
        with peft_wrapping():
            model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model
