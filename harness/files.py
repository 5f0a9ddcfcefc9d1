"""File writers shared by every stage: atomic writes and JSON documents.

Every report, run document, manifest and model card is written through :func:`write_atomic`, so a
reader never sees a half-written file and a crash leaves the old one intact. This module sits
below everything that writes (validate, train, eval, gate, report) and imports nothing of the
harness.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["write_atomic", "write_json"]


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write a file via a temporary file in the same folder and an atomic rename.

    A reader never sees a half-written report, and a crash leaves the old file intact.

    Example:
        >>> import tempfile, pathlib
        >>> p = write_atomic(pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt", "hi")
        >>> p.read_text()
        'hi'
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
