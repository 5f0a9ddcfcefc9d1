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

__all__ = ["check_written", "write_atomic", "write_json"]


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
    """Write a JSON document atomically (UTF-8, indented, NaN refused).

    With ``HARNESS_CHECK_DOCUMENTS=1`` (the test suite sets it) a harness document is first
    validated against its JSON Schema (:func:`harness.documents.check_document`).
    """
    check_written(doc, where=str(path))
    return write_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def check_written(doc: Any, *, where: str) -> None:
    """Validate a document about to be written against its schema, when ``HARNESS_CHECK_DOCUMENTS=1``.

    Raises:
        SchemaError: the document does not match the schema of the kind it names.
    """
    if os.environ.get("HARNESS_CHECK_DOCUMENTS") != "1":
        return
    from harness.documents import check_document  # only under the test flag: documents sit above this module

    if check_document(doc, where=where) is not None and (log := os.environ.get("HARNESS_CHECKED_LOG")):
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(f"{doc.get('schema') or doc.get('kind')}\t{where}\n")
