"""Shared test set-up: offline, warnings from our own code are errors (pyproject)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The results store every eval/compare/gate records into: a throwaway one, never the user's.
os.environ["HARNESS_HOME"] = tempfile.mkdtemp(prefix="harness-home-")
os.environ.pop("HARNESS_STORE", None)

from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (`make test`, CI): a verdict on a change must
# not depend on luck. HYPOTHESIS_PROFILE=explore draws new random examples each run, to hunt for
# failures; a failing example it finds belongs in a test of its own.
settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a BPE tokenizer and ChatML template, saved as safetensors."""
    from harness.models.tiny import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
