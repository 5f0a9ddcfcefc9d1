"""Shared test set-up: offline, warnings from our own code are errors (pyproject)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from collections import Counter

# The results store every eval/compare/gate records into: a throwaway one, never the user's.
os.environ["HARNESS_HOME"] = tempfile.mkdtemp(prefix="harness-home-")
os.environ.pop("HARNESS_STORE", None)

from pathlib import Path

import pytest
from hypothesis import settings

# Every harness document the tests write (files and --json output, in this process and in the CLI
# subprocesses) is validated against the JSON Schema of its model before it is written; a document
# that does not match fails the test that wrote it. Each check is logged, and the summary at the
# end of the session counts them per kind.
os.environ["HARNESS_CHECK_DOCUMENTS"] = "1"
_CHECKED_LOG = Path(tempfile.mkdtemp(prefix="harness-checked-")) / "documents.tsv"
os.environ["HARNESS_CHECKED_LOG"] = str(_CHECKED_LOG)

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


@pytest.fixture(scope="session")
def lively_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with larger random weights (seed 1, N(0, 0.15)): its greedy outputs vary by prompt and
    its choices get clearly different log-likelihoods (the default weights repeat one token). Read-only."""
    import shutil

    import torch
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("lively")
    shutil.copytree(tiny_model_dir, folder, dirs_exist_ok=True)
    model = AutoModelForCausalLM.from_pretrained(folder)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 2:
                p.normal_(0, 0.15)
    model.save_pretrained(folder)
    return folder


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """How many documents of each kind were validated against their schemas this session."""
    if not _CHECKED_LOG.is_file():
        return
    kinds = Counter(line.split("\t", 1)[0] for line in _CHECKED_LOG.read_text(encoding="utf-8").splitlines())
    terminalreporter.write_line(
        "documents validated against their JSON Schemas: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items()))
    )
