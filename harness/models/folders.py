"""Model folders checked before transformers or peft read them: the files named when they are wrong.

A corrupt ``config.json``, a folder without a tokenizer, an ``auto_map`` that needs remote code for
a ``model_type`` transformers does not know, an ``adapter_config.json`` that is not JSON, or
weights only in pickle (``.bin``) files: each is an error naming the file here, with exit code 2,
instead of an internal error from deep inside a loader. Pickle can run code when it is read, so a
folder whose weights (base, adapter, reward head, judge) are only ``.bin`` files is refused unless
``--allow-pickle`` says the source is trusted; ``trust_remote_code`` is never turned on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.errors import HarnessError, ModelError

__all__ = [
    "check_adapter_folder",
    "check_model_folder",
    "check_no_pickle",
    "check_tokenizer_folder",
    "loader_errors",
    "read_json_object",
]

_TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt", "spiece.model")


def read_json_object(path: Path) -> dict[str, Any]:
    """A JSON object read from a model folder's config file, or a ModelError naming the file."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelError(f"not UTF-8 text at byte {exc.start}", file=path) from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})", file=path) from exc
    except OSError as exc:
        raise ModelError(f"cannot read: {exc.strerror or exc}", file=path) from exc
    if not isinstance(data, dict):
        raise ModelError(f"expected a JSON object, got {type(data).__name__}", file=path)
    return data


def check_no_pickle(folder: Path, *, allow_pickle: bool, what: str = "weights") -> None:
    """Refuse a folder whose weights are only in pickle files (``*.bin``, ``*.pt``, ``*.pth``, ``*.ckpt``).

    Raises:
        ModelError: naming the pickle file and ``--allow-pickle``.
    """
    if allow_pickle or any(folder.glob("*.safetensors")):
        return
    pickles = sorted(p for pat in ("*.bin", "*.pt", "*.pth", "*.ckpt") for p in folder.glob(pat))
    if pickles:
        raise ModelError(
            f"{what} are only in pickle files ({', '.join(p.name for p in pickles[:3])}), which can run code "
            "when loaded; convert them to safetensors or pass --allow-pickle if you trust the source",
            file=pickles[0],
        )


def check_model_folder(folder: Path, *, allow_pickle: bool) -> dict[str, Any]:
    """Check a Hugging Face model folder before loading it; return its config.

    Raises:
        ModelError: ``config.json`` missing, not JSON, without a usable ``model_type``, an
            ``auto_map`` whose ``model_type`` transformers does not know (it would need remote
            code, which stays off), or weights only in pickle files.
    """
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise ModelError("not a model folder: no config.json", file=folder)
    config = read_json_object(config_file)
    model_type = config.get("model_type")
    if not isinstance(model_type, str) or not model_type:
        raise ModelError("config has no 'model_type'", file=config_file, field="model_type")
    from transformers import CONFIG_MAPPING

    if model_type not in CONFIG_MAPPING:
        why = (
            "its auto_map points at custom code in the folder, which the harness never runs "
            "(trust_remote_code stays off)"
            if "auto_map" in config
            else "transformers has no such architecture"
        )
        raise ModelError(f"unknown model_type {model_type!r}: {why}", file=config_file, field="model_type")
    check_no_pickle(folder, allow_pickle=allow_pickle)
    return config


def check_adapter_folder(folder: Path, *, allow_pickle: bool) -> dict[str, Any]:
    """Check a PEFT adapter folder before peft reads it: its config is JSON, its weights not pickle only.

    Raises:
        ModelError: ``adapter_config.json`` missing or not a JSON object, no adapter weights, or
            only ``adapter_model.bin`` without ``allow_pickle``.
    """
    config_file = folder / "adapter_config.json"
    if not config_file.is_file():
        raise ModelError("not an adapter folder: no adapter_config.json", file=folder)
    config = read_json_object(config_file)
    if not (folder / "adapter_model.safetensors").is_file():
        if (folder / "adapter_model.bin").is_file():
            check_no_pickle(folder, allow_pickle=allow_pickle, what="adapter weights")
        else:
            raise ModelError("no adapter weights (adapter_model.safetensors)", file=folder)
    return config


def check_tokenizer_folder(folder: Path) -> None:
    """Check that a folder holds a tokenizer transformers can read.

    Raises:
        ModelError: no tokenizer file, or a tokenizer config that is not JSON.
    """
    if not any((folder / name).is_file() for name in _TOKENIZER_FILES):
        raise ModelError(f"no tokenizer: expected one of {', '.join(_TOKENIZER_FILES)} in the folder", file=folder)
    for name in ("tokenizer_config.json", "special_tokens_map.json"):
        if (folder / name).is_file():
            read_json_object(folder / name)


@contextmanager
def loader_errors(folder: Path, what: str) -> Iterator[None]:
    """Turn an error from transformers or peft while loading ``folder`` into a ModelError naming it.

    The checks above catch the common cases by name; this is the net for the rest (a truncated
    safetensors file, a config whose values the architecture rejects), so no loader error reaches
    the user as an internal error.
    """
    try:
        yield
    except HarnessError:
        raise
    except Exception as exc:  # loaders raise many types (SafetensorError, OSError, ValueError...)
        raise ModelError(f"cannot load the {what}: {type(exc).__name__}: {exc}", file=folder) from exc
