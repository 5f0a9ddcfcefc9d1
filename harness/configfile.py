"""YAML configuration files: safe loading and pydantic validation with the file and key in errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from harness.errors import ConfigError, InputFileError

M = TypeVar("M", bound=BaseModel)


def load_yaml(path: str | Path, *, what: str = "file") -> Any:
    """Read a YAML file with ``yaml.safe_load``; errors name the file and line.

    ``what`` names the file in the error for a missing one ("no such policy file").

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "c.yaml"
        >>> _ = p.write_text("name: x\\n")
        >>> load_yaml(p)
        {'name': 'x'}
    """
    path = Path(path)
    return parse_yaml(read_yaml_text(path, what=what), file=path)


MAX_CONFIG_BYTES = 16 * 2**20  # a policy, suite or train config is kilobytes; reading stops here


def read_yaml_text(path: str | Path, *, what: str = "file") -> str:
    """The text of a YAML file; a missing file, a folder or non-UTF-8 bytes raise a clear error."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"no such {what}", file=path)
    if path.is_dir():
        raise InputFileError("is a directory, expected a YAML file", file=path)
    if not path.is_file():
        raise InputFileError("is a device, pipe or socket, expected a YAML file", file=path)
    with path.open("rb") as fh:
        raw = fh.read(MAX_CONFIG_BYTES + 1)
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"larger than {MAX_CONFIG_BYTES // 2**20} MiB: not a configuration file", file=path)
    if b"\x00" in raw:
        raise ConfigError("binary data (NUL bytes): expected UTF-8 YAML text", file=path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text: {exc}", file=path) from exc


def parse_yaml(text: str, *, file: str | Path) -> Any:
    """``yaml.safe_load`` of ``text``; invalid YAML raises :class:`ConfigError` with ``file`` and the line."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {problem}", file=file, line=line) from exc


def yaml_mapping(data: Any, *, file: str | Path) -> dict[str, Any]:
    """A YAML document that must be a mapping of keys (an empty document is an empty mapping)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping of keys, got {type(data).__name__}", file=file)
    return data


def key_path(loc: tuple[int | str, ...] | list[int | str], prefix: str = "") -> str:
    """Join a pydantic error location into a dotted key such as ``criteria[1].scorer.type``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def raise_validation(exc: ValidationError, *, file: str | Path, prefix: str = "", line: int | None = None) -> NoReturn:
    """Turn the first pydantic error into a :class:`ConfigError` naming the file and key."""
    err = exc.errors()[0]
    loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
    msg = err["msg"].removeprefix("Value error, ")
    extra = f" (and {len(exc.errors()) - 1} more problem(s))" if len(exc.errors()) > 1 else ""
    raise ConfigError(msg + extra, file=file, line=line, field=key_path(loc, prefix) or None) from exc


def validate_config(model: type[M], data: Any, *, file: str | Path, prefix: str = "") -> M:
    """Validate ``data`` against a pydantic model; errors name the file and key."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise_validation(exc, file=file, prefix=prefix)
