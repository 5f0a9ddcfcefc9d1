"""Output locations checked as the command line is parsed, before any data is read or model loaded.

Every verb's output options are found by name on the click command tree (:func:`install`), so a
new verb with an ``--out`` gets the check without a line of its own: ``--out`` that is a file, a
``--junit`` under a read-only folder or a ``--cache`` under a regular file stop the command at
once with exit 2 and the option named, not after minutes of generation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.files import check_output

__all__ = ["OUTPUT_PARAMS", "check_store_option", "install"]

OUTPUT_PARAMS: dict[str, bool] = {"out": True, "dest": True, "junit": False, "cache": False, "html": False}
"""Parameter name → whether it names a folder (True) or a file (False)."""


def check_store_option(value: str | None) -> str | None:
    """Check a ``--store`` that names a SQLite file (a path or ``sqlite:///PATH``); other URLs pass."""
    if value is None or value.strip().lower() in ("", "none", "off", "false", "0"):
        return value
    raw = value.strip()
    if raw.startswith("sqlite:///"):
        raw = raw.removeprefix("sqlite:///")  # sqlite:////abs/path keeps its leading slash
    elif "://" in raw:
        return value
    check_output(Path(raw).expanduser(), option="--store", folder=False)
    return value


def _checker(name: str, folder: bool | None, previous: Any) -> Any:
    option = "--" + name.replace("_", "-")

    def callback(ctx: Any, param: Any, value: Any) -> Any:
        if previous is not None:
            value = previous(ctx, param, value)
        if value is None or ctx.resilient_parsing:
            return value
        if folder is None:
            return check_store_option(value)
        for v in value if isinstance(value, list | tuple) else [value]:
            check_output(v, option=option if param.param_type_name == "option" else name.upper(), folder=folder)
        return value

    return callback


def install(cmd: Any) -> None:
    """Add the output checks to every verb of a click command tree (typer bundles its own click)."""
    for p in getattr(cmd, "params", []):
        if p.name in OUTPUT_PARAMS and _is_path(p):
            p.callback = _checker(p.name, OUTPUT_PARAMS[p.name], p.callback)
        elif p.name == "store" and p.param_type_name == "option":
            p.callback = _checker(p.name, None, p.callback)
    for sub in getattr(cmd, "commands", {}).values():
        install(sub)


def _is_path(p: Any) -> bool:
    desc = getattr(p, "type_descriptor", None)
    return desc is not None and desc.annotation is Path
