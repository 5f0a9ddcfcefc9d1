"""Loading local models: the tokenizer and the causal LM of a parsed spec (adapters as PEFT models).

Where the weights are (a Hugging Face folder, a GGUF file converted once, an adapter's base) is the
spec's own answer (:meth:`harness.models.spec.ModelSpec.weights_folder`, resolved once). Weights
never load from pickle unless ``allow_pickle`` is set.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import ModelError
from harness.models.spec import ModelSpec

__all__ = ["load_causal_lm", "load_tokenizer", "peft_wrapping"]


def _check_no_pickle(folder: Path, allow_pickle: bool) -> None:
    has_safe = any(folder.glob("*.safetensors"))
    if not has_safe and any(folder.glob("*.bin")) and not allow_pickle:
        raise ModelError(
            "weights are only in pickle (.bin) files, which can run code when loaded; "
            "convert them to safetensors or pass --allow-pickle if you trust the source",
            file=folder,
        )


def load_tokenizer(spec: ModelSpec) -> Any:
    """The tokenizer of a local spec (a run folder's own tokenizer and chat template first).

    Example:
        >>> from harness.models.spec import parse_spec
        >>> tok = load_tokenizer(parse_spec("smollm2-135m"))  # doctest: +SKIP
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(spec.tokenizer_folder())
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


def load_causal_lm(spec: ModelSpec, *, allow_pickle: bool = False, dtype: Any = None) -> Any:
    """Load a causal LM for a local spec; adapters and run folders come back as PEFT models."""
    import torch
    from transformers import AutoModelForCausalLM

    folder = spec.weights_folder()
    _check_no_pickle(folder, allow_pickle)
    model: Any = AutoModelForCausalLM.from_pretrained(  # a PeftModel for an adapter or run (below)
        folder, dtype=dtype or torch.float32, use_safetensors=not allow_pickle, trust_remote_code=False
    )
    adapter_dir = spec.adapter_dir()
    if adapter_dir is not None:
        from peft import PeftModel

        with peft_wrapping():
            model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model
