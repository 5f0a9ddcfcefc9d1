"""File writers shared by every stage: atomic writes and JSON documents.

Every report, run document, manifest and model card is written through :func:`write_atomic`, so a
reader never sees a half-written file and a crash leaves the old one intact. This module sits
below everything that writes (validate, train, eval, gate, report) and imports nothing of the
harness but its errors.

Output locations are checked before any work (:func:`check_output`: the CLI does it for every
``--out``, ``--junit``, ``--cache``... as the command line is parsed), and a write that fails later
anyway (a full disk, a folder made read-only meanwhile) becomes an :class:`OutputError` naming the
file, never a bare ``OSError``. Text is written as valid UTF-8: a lone surrogate that reached a
document (input readers report them as findings) is written as U+FFFD.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from harness.errors import OutputError

__all__ = ["check_output", "check_written", "json_text", "utf8_text", "write_atomic", "write_json"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def utf8_text(text: str) -> str:
    """The text with every lone surrogate (not encodable as UTF-8) replaced by U+FFFD.

    >>> utf8_text("a\\ud800b")
    'a�b'
    """
    return _SURROGATE.sub("\ufffd", text)


def json_text(doc: Any, *, indent: int | None = 2) -> str:
    """A JSON document as text that encodes to valid UTF-8 (NaN refused, lone surrogates as U+FFFD).

    >>> json_text({"a": "\\ud800"}, indent=None)
    '{"a": "�"}'
    """
    return utf8_text(json.dumps(doc, indent=indent, ensure_ascii=False, allow_nan=False))


def _why(exc: OSError) -> str:
    code = exc.errno
    name = errno.errorcode.get(code, "") if code is not None else ""
    reason = os.strerror(code) if code is not None else str(exc)
    return f"{reason} ({name})" if name else reason


def check_output(path: str | Path, *, option: str, folder: bool) -> Path:
    """Check, before any work, that an output can be written at ``path``; return it.

    Args:
        path: the folder (``folder=True``) or file the command will write.
        option: the option that named it (``--out``), for the message.
        folder: whether ``path`` must be a folder (created if missing) or a file.

    Raises:
        OutputError: a file where a folder is needed (or the reverse), a parent that is a file, a
            folder that is not writable or on a read-only file system.

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> check_output(d / "new" / "out", option="--out", folder=True).name
        'out'
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise OutputError(f"{option} must be a folder, but this is a file", file=path)
        if not folder and path.is_dir():
            raise OutputError(f"{option} must be a file, but this is a folder", file=path)
    parent = path if folder else path.parent
    existing = parent.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{option} cannot be created: {existing} is a file, not a folder", file=path)
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "read-only file system" if _read_only_fs(existing) else "no permission to write"
        raise OutputError(f"{option} cannot be written: {why} in {existing}", file=path)
    if path.exists() and not folder and not os.access(path, os.W_OK):
        raise OutputError(f"{option} cannot be written: no permission to write the file", file=path)
    return path


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):
        return False


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
    data = utf8_text(text).encode("utf-8") if isinstance(text, str) else text
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write: {_why(exc)}", file=path) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, OutputError):
            raise OutputError(f"cannot write: {_why(exc)}", file=path) from exc
        raise
    return path


def write_json(path: str | Path, doc: dict[str, Any]) -> Path:
    """Write a JSON document atomically (UTF-8, indented, NaN refused).

    With ``HARNESS_CHECK_DOCUMENTS=1`` (the test suite sets it) a harness document is first
    validated against its JSON Schema (:func:`harness.documents.check_document`).
    """
    check_written(doc, where=str(path))
    return write_atomic(path, json_text(doc) + "\n")


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
