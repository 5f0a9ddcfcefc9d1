"""Weights on disk: the harness cache, content hashes, and GGUF files converted once to safetensors.

De-quantising a GGUF file takes seconds and the resulting model refuses ``save_pretrained``; so
the first load converts it once into a plain safetensors folder (a model built ``from_config``
takes the de-quantised state dict) under the harness cache, keyed by the GGUF's content hash.
Later loads, by the harness or by peers such as ``lm-eval``, read that folder in a fraction of a
second with identical logits.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.errors import ModelError
from harness.provenance import file_hash

__all__ = ["cache_root", "file_hash", "files_hash", "materialize_gguf"]


def cache_root() -> Path:
    """The harness cache folder (``$HARNESS_CACHE``, else ``~/.cache/harness``)."""
    return Path(os.environ.get("HARNESS_CACHE") or Path.home() / ".cache" / "harness")


def files_hash(paths: Sequence[Path]) -> str:
    """BLAKE2b-128 over the names and content hashes of several files (order does not matter)."""
    h = hashlib.blake2b(digest_size=16)
    for p in sorted(paths):
        h.update(p.name.encode() + b"\0" + file_hash(p).encode())
    return h.hexdigest()


def materialize_gguf(gguf: Path, digest: str | None = None) -> Path:
    """Return a safetensors model folder for a GGUF file, converting it on first use.

    ``digest`` is the file's :func:`file_hash` when the caller has it already.
    """
    digest = digest or file_hash(gguf)
    target = cache_root() / "models" / f"{gguf.stem}-{digest[:16]}"
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
        (tmp / "SOURCE").write_text(f"converted from {gguf} ({digest})\n")
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
