"""Training configuration: a pydantic model loaded from YAML, with ``--set key=value`` overrides.

Every error names the file and the dotted key (and the line, when the key is in the file). Paths
in a config file resolve relative to that file; paths given with ``--set`` resolve relative to
the working directory, where the user typed them.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "train.jsonl").write_text('{"prompt": "a", "completion": "b"}\\n')
    >>> _ = (d / "c.yaml").write_text("base_model: smollm2-135m\\ntrain_data: train.jsonl\\n")
    >>> cfg = load_config(d / "c.yaml", overrides=["lora.r=8", "max_steps=5"])
    >>> (cfg.lora.r, cfg.max_steps, cfg.train_data[0].name)
    (8, 5, 'train.jsonl')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from harness.configfile import parse_yaml, read_yaml_text, yaml_mapping
from harness.errors import ConfigError, InputFileError, RegistryError, did_you_mean
from harness.train.losses import LOSSES

Method = Literal["sft", "dpo"]
Adapter = Literal["lora", "qlora", "full"]
Scheduler = Literal["linear", "cosine", "constant", "constant_with_warmup"]

# Keys whose values are paths (resolved relative to the file that set them).
_PATH_KEYS = ("train_data", "eval_data", "holdouts", "chat_template")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraOptions(_Strict):
    """PEFT LoRA options (used by ``adapter: lora`` and ``adapter: qlora``)."""

    r: int = Field(default=16, gt=0, description="rank of the update matrices")
    alpha: float = Field(default=32, gt=0, description="scaling numerator: the update is scaled by alpha / r")
    dropout: float = Field(default=0.05, ge=0, lt=1)
    target_modules: str | list[str] = Field(
        default="all-linear", description="module names, or 'all-linear' (every linear layer but the output head)"
    )
    bias: Literal["none", "all", "lora_only"] = "none"


class DPOOptions(_Strict):
    """DPO options.

    ``loss`` names the objective; each keeps its published meaning:

    - ``sigmoid``: Rafailov et al. (2023), ``-log σ(β·h)`` with ``h`` the policy-minus-reference
      log-ratio margin of the summed completion log-probs;
    - ``cdpo``: conservative DPO, the sigmoid loss with labels flipped with probability
      ``label_smoothing`` (0 < ε < 0.5);
    - ``ipo``: Azar et al. (2023), ``(h' - 1/(2β))²`` with ``h'`` the margin of per-token mean
      log-ratios (the length-normalised form the IPO authors use; TRL's ``ipo``).
    """

    beta: float = Field(default=0.1, gt=0)
    loss: str = Field(default="sigmoid", description="a registered DPO loss (harness list losses)")
    label_smoothing: float = Field(default=0.0, ge=0, lt=0.5)
    precompute_reference: bool = Field(
        default=False, description="compute reference log-probs once before training (always on for adapter: full)"
    )

    @field_validator("loss")
    @classmethod
    def _known_loss(cls, loss: str) -> str:
        try:
            LOSSES.entry(loss)
        except RegistryError as exc:
            raise ValueError(exc.message) from None
        return loss

    @model_validator(mode="after")
    def _smoothing_matches_loss(self) -> DPOOptions:
        if self.loss == "cdpo" and self.label_smoothing <= 0:
            raise ValueError("loss 'cdpo' needs label_smoothing > 0 (e.g. 0.1); with 0 it is plain 'sigmoid'")
        if self.loss != "cdpo" and self.label_smoothing > 0:
            raise ValueError(
                f"label_smoothing is only used by loss 'cdpo'; loss {self.loss!r} would ignore it. "
                "Set loss: cdpo, or remove label_smoothing"
            )
        return self


class PreflightOptions(_Strict):
    """What stops a run before training."""

    fail_on: Literal["error", "warning"] = "error"


class TrainConfig(_Strict):
    """A ``harness train`` configuration (the resolved form is saved as ``config.yaml`` in the run)."""

    base_model: str = Field(description="model spec: alias, Hugging Face folder, .gguf file")
    method: Method = "sft"
    adapter: Adapter = "lora"
    lora: LoraOptions = Field(default_factory=LoraOptions)
    train_data: list[Path] = Field(description="JSONL/CSV/Parquet: prompt-completion or chat (sft), preference (dpo)")
    eval_data: Path | None = None
    holdouts: list[Path] = Field(
        default_factory=list, description="suite folders (or JSONL item files) checked for leakage in preflight"
    )
    chat_template: str = Field(
        "auto", description="'auto' (the base tokenizer's), 'plain' (prompt then completion then EOS) or a .jinja path"
    )
    completion_only_loss: bool = Field(True, description="loss on completion / assistant tokens only")
    epochs: float = Field(1.0, gt=0)
    max_steps: int | None = Field(None, gt=0, description="overrides epochs when set")
    learning_rate: float = Field(2e-4, gt=0)
    lr_scheduler: Scheduler = "linear"
    warmup: float = Field(0.0, ge=0, description="fraction of the steps when < 1, else a number of steps")
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    batch_size: int = Field(4, gt=0, description="examples (pairs for dpo) per device per step")
    gradient_accumulation_steps: int = Field(1, gt=0)
    max_length: int = Field(1024, gt=1, description="tokens per example (per side for dpo) after truncation")
    group_by_length: bool = Field(True, description="batch examples of similar length together (less padding)")
    seed: int = 42
    dtype: Literal["float32", "bfloat16"] = "float32"
    gradient_checkpointing: bool = False
    logging_steps: int = Field(1, gt=0)
    save_steps: int = Field(50, gt=0)
    save_total_limit: int | None = Field(2, gt=0)
    eval_steps: int | None = Field(None, gt=0, description="evaluate every N steps as well as at the end")
    dpo: DPOOptions = Field(default_factory=DPOOptions)
    preflight: PreflightOptions = Field(default_factory=PreflightOptions)

    @field_validator("train_data", "holdouts", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str | Path) else v

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if not self.train_data:
            raise ValueError("train_data needs at least one file")
        if self.method == "dpo" and not self.completion_only_loss:
            raise ValueError("method 'dpo' scores completions only; completion_only_loss: false has no meaning there")
        return self

    _source: str = PrivateAttr("config")
    _set_keys: frozenset[str] = PrivateAttr(frozenset())

    def source_of(self, key: str) -> str:
        """Where a top-level key was set: the config file, or ``--set``."""
        return "--set" if key.split("[")[0].split(".")[0] in self._set_keys else self._source

    def to_yaml(self) -> str:
        """The resolved configuration as YAML (paths absolute)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)

    def fingerprint(self) -> str:
        """BLAKE2b-128 of the resolved configuration."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


# ---------------------------------------------------------------------------- loading
def _key_lines(text: str) -> dict[str, int]:
    """Map dotted keys of a YAML mapping to their 1-based lines."""
    out: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = f"{prefix}.{k.value}" if prefix else str(k.value)
                out[key] = k.start_mark.line + 1
                walk(v, key)

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return out
    if root is not None:
        walk(root, "")
    return out


def _dotted(loc: Sequence[int | str]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
        else:
            parts.append(str(p))
    return ".".join(parts)


def _fields_of(model: type[BaseModel], dotted: str) -> list[str]:
    """Field names at the level of a dotted key (for 'did you mean')."""
    parts = dotted.split(".")[:-1]
    cls: Any = model
    for p in parts:
        field = cls.model_fields.get(p)
        if field is None or not isinstance(field.annotation, type) or not issubclass(field.annotation, BaseModel):
            return []
        cls = field.annotation
    return list(cls.model_fields)


def _resolve_paths(data: dict[str, Any], base: Path) -> None:
    for key in _PATH_KEYS:
        if key not in data or data[key] is None:
            continue
        value = data[key]
        if key == "chat_template" and value in ("auto", "plain"):
            continue
        if isinstance(value, list):
            data[key] = [str((base / str(v)).resolve()) if isinstance(v, str | Path) else v for v in value]
        elif isinstance(value, str | Path):
            data[key] = str((base / str(value)).resolve())
    spec = data.get("base_model")
    if isinstance(spec, str) and (base / spec).exists() and not Path(spec).is_absolute():
        # A local model path is stored absolute so the run folder resolves from anywhere.
        data["base_model"] = str((base / spec).resolve())


def _parse_override(item: str) -> tuple[list[str], Any]:
    if "=" not in item:
        raise ConfigError(f"expected key=value, got {item!r}", file="--set")
    key, _, raw = item.partition("=")
    key = key.strip()
    if not key or any(not p for p in key.split(".")):
        raise ConfigError(f"bad key in {item!r}", file="--set")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse value {raw!r}: {exc}", file="--set", field=key) from exc
    return key.split("."), value


def load_config(path: str | Path, *, overrides: Sequence[str] = ()) -> TrainConfig:
    """Load and check a training config from YAML, applying ``key=value`` overrides.

    Args:
        path: the YAML file.
        overrides: ``--set`` items such as ``lora.r=8`` or ``holdouts=[]``; values are parsed as
            YAML; paths among them resolve relative to the working directory.

    Raises:
        InputFileError: the file does not exist.
        ConfigError: invalid YAML, an unknown key or a bad value (file, line and key named).
    """
    path = Path(path)
    text = read_yaml_text(path, what="config file")  # kept: the error lines come from it
    data = yaml_mapping(parse_yaml(text, file=path), file=path)
    _resolve_paths(data, path.parent)
    from_set: set[str] = set()
    for item in overrides:
        keys, value = _parse_override(item)
        target = data
        for k in keys[:-1]:
            nxt = target.setdefault(k, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"'{k}' is not a section", file="--set", field=".".join(keys))
            target = nxt
        if len(keys) == 1 and keys[0] in (*_PATH_KEYS, "base_model"):
            tmp = {keys[0]: value}
            _resolve_paths(tmp, Path.cwd())
            value = tmp[keys[0]]
        target[keys[-1]] = value
        from_set.add(".".join(keys))
    lines = _key_lines(text)
    try:
        cfg = TrainConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _dotted(err["loc"])
        top = key.split("[")[0]
        source = "--set" if any(k == top or k.startswith(top + ".") for k in from_set) else path
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key." + did_you_mean(key.split(".")[-1], _fields_of(TrainConfig, key))
        elif err["type"] == "missing":
            msg = "required key is missing"
        elif "input" in err and err["type"] != "value_error":
            msg += f" (got {err['input']!r})"
        line = None if source == "--set" else lines.get(top if top in lines else key.rsplit(".", 1)[0])
        if source != "--set" and key in lines:
            line = lines[key]
        raise ConfigError(msg, file=source, line=line, field=key or None) from exc
    cfg._source = str(path)
    cfg._set_keys = frozenset(k.split(".")[0] for k in from_set)
    return cfg


def check_paths(cfg: TrainConfig) -> None:
    """Fail clearly on a data file, holdout suite or template that does not exist.

    Raises:
        InputFileError: naming the config file, the key and the missing path.
    """
    items: list[tuple[str, Path]] = [(f"train_data[{i}]", p) for i, p in enumerate(cfg.train_data)]
    if cfg.eval_data is not None:
        items.append(("eval_data", cfg.eval_data))
    items += [(f"holdouts[{i}]", p) for i, p in enumerate(cfg.holdouts)]
    if cfg.chat_template not in ("auto", "plain"):
        items.append(("chat_template", Path(cfg.chat_template)))
    for key, p in items:
        if not p.exists():
            kind = "holdout (suite folder or items file)" if key.startswith("holdouts") else "file"
            raise InputFileError(f"{kind} {p} does not exist", file=cfg.source_of(key), field=key)
        if not key.startswith("holdouts") and p.is_dir():
            raise InputFileError(f"{p} is a directory, expected a file", file=cfg.source_of(key), field=key)
