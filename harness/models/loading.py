"""Loading local models: the tokenizer and the causal LM of a parsed spec (adapters as PEFT models).

Where the weights are (a Hugging Face folder, a GGUF file converted once, an adapter's base) is the
spec's own answer (:meth:`harness.models.spec.ModelSpec.weights_folder`, resolved once). Weights
never load from pickle unless ``allow_pickle`` is set.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.models.folders import check_adapter_folder, check_model_folder, check_tokenizer_folder, loader_errors
from harness.models.spec import ModelSpec

__all__ = ["load_causal_lm", "load_tokenizer", "peft_wrapping"]


def load_tokenizer(spec: ModelSpec) -> Any:
    """The tokenizer of a local spec (a run folder's own tokenizer and chat template first).

    Example:
        >>> from harness.models.spec import parse_spec
        >>> tok = load_tokenizer(parse_spec("smollm2-135m"))  # doctest: +SKIP
    """
    from transformers import AutoTokenizer

    folder = spec.tokenizer_folder()
    check_tokenizer_folder(folder)
    with loader_errors(folder, "tokenizer"):
        tok = AutoTokenizer.from_pretrained(folder, trust_remote_code=False)
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
    """Load a causal LM for a local spec; adapters and run folders come back as PEFT models.

    Raises:
        ModelError: a broken folder (config not JSON, unknown model_type, no weights), weights or
            adapter weights only in pickle files without ``allow_pickle``, or any loader failure,
            each naming the file or folder.
    """
    import torch
    from transformers import AutoModelForCausalLM

    folder = spec.weights_folder()
    check_model_folder(folder, allow_pickle=allow_pickle)
    adapter_dir = spec.adapter_dir()
    if adapter_dir is not None:  # checked before the base loads: a refused adapter costs nothing
        check_adapter_folder(adapter_dir, allow_pickle=allow_pickle)
    with loader_errors(folder, "model"):
        model: Any = AutoModelForCausalLM.from_pretrained(  # a PeftModel for an adapter or run (below)
            folder, dtype=dtype or torch.float32, use_safetensors=not allow_pickle, trust_remote_code=False
        )
    if adapter_dir is not None:
        from peft import PeftModel

        with peft_wrapping(), loader_errors(adapter_dir, "adapter"):
            model = PeftModel.from_pretrained(model, adapter_dir)
    model.eval()
    return model
