"""Reports: atomic file writers here; views rendered through Jinja2 templates (``templates/``), see docs/reports.md."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from harness.report.formatting import md_escape

__all__ = ["md_escape", "write_atomic", "write_json"]


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write a file via a temporary file in the same folder and an atomic rename.

    A reader never sees a half-written report, and a crash leaves the old file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8") if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | Path, doc: dict[str, Any]) -> Path:
    """Write a JSON document atomically (UTF-8, indented, NaN refused)."""
    return write_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
