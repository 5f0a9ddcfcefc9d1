"""File writers shared by every stage: atomic writes, JSON documents and output folders.

Every report, run document, manifest and model card is written through :func:`write_atomic`, so a
reader never sees a half-written file and a crash leaves the old one intact. This module sits
below everything that writes (validate, train, eval, gate, report) and imports nothing of the
harness but its errors.

Output locations are checked before any work (:func:`check_output`: the CLI does it for every
``--out``, ``--junit``, ``--cache``... as the command line is parsed), and a write that fails later
anyway (a full disk, a folder made read-only meanwhile) becomes an :class:`OutputError` naming the
file, never a bare ``OSError``. Text is written as valid UTF-8: a lone surrogate that reached a
document (input readers report them as findings) is written as U+FFFD.

A written file gets the mode ``0o666 & ~umask`` (``0644`` under the usual umask ``022``), as
``open`` would give it. The temporary file is ``.<name>.<pid>.<random>.tmp`` in the target's
folder; one left behind by a killed process is removed by the next write to that folder (only a
file of that pattern whose process is gone and which is older than this process). An
:class:`OutFolder` makes the files written under an ``--out`` folder one run's output: a reused
folder never mixes two runs."""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from harness.errors import OutputError

__all__ = [
    "OUT_MANIFEST",
    "OutFolder",
    "check_output",
    "check_written",
    "clean_stale_temp_files",
    "json_text",
    "utf8_text",
    "write_atomic",
    "write_json",
]

_SURROGATE = re.compile("[\ud800-\udfff]")
_STARTED = time.time()  # files older than this were not written by this process
_TMP = re.compile(r"^\..+\.(\d+)\.[a-z0-9_]{8}\.tmp$")  # what mkstemp makes from our prefix and suffix
_cleaned: set[str] = set()
_lock = threading.Lock()
_folders: list[OutFolder] = []


def utf8_text(text: str) -> str:
    """The text with every lone surrogate (not encodable as UTF-8) replaced by U+FFFD.

    >>> utf8_text("a\\ud800b")
    'a�b'
    """
    if text.isascii():  # O(1) in CPython: no surrogate in ASCII text (a 3 MB document skips the scan)
        return text
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


def _umask() -> int:
    """The process's umask, read without changing it where the system allows (Linux: /proc)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    with _lock:  # elsewhere: set and restore it (not atomic; other writers wait on the lock)
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (a process of another user counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def clean_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove temporary files that killed writers left in ``folder``; the removed paths.

    Only files named like :func:`write_atomic`'s (``.<name>.<pid>.<8 chars>.tmp``) whose process
    no longer exists and whose last change is older than this process are removed; anything else
    (a live writer's file, a user's file, a symbolic link) is left alone.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _TMP.match(entry.name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if not entry.is_file(follow_symlinks=False) or st.st_mtime >= _STARTED:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed


def write_atomic(path: str | Path, text: str | bytes) -> Path:
    """Write a file via a temporary file in the same folder and an atomic rename.

    A reader never sees a half-written report, and a crash leaves the old file intact. The file's
    mode follows the umask; stale temporary files of killed writers in the folder are removed
    (once per folder and process, see :func:`clean_stale_temp_files`).

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
        folder = str(path.parent.resolve())
        if folder not in _cleaned:
            _cleaned.add(folder)
            clean_stale_temp_files(folder)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    except OSError as exc:
        raise OutputError(f"cannot write: {_why(exc)}", file=path) from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600 whatever the umask
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
    for out in list(_folders):
        out.written(path)
    return path


OUT_MANIFEST = ".harness-out.json"


class OutFolder:
    """The files one command writes under an ``--out`` folder, recorded so a reused folder never mixes runs.

    Inside the ``with`` block every :func:`write_atomic` under ``path`` is noted. On a complete run
    the folder's manifest (``.harness-out.json``) lists each file with this run's id, and the files
    the previous run listed that this one did not write again are removed: only those (never a
    file the harness did not write, nor one changed after the previous manifest), and then any
    folder they leave empty. A run that stops with an error removes nothing; its manifest says
    which run wrote each file.

    Args:
        path: the output folder.
        command: recorded in the manifest (the command line).
        complete: exceptions that still end a complete run (the CLI's exit with a verdict's code).

    Example:
        >>> import tempfile, pathlib
        >>> d = pathlib.Path(tempfile.mkdtemp())
        >>> with OutFolder(d):
        ...     _ = write_atomic(d / "old.md", "1")
        >>> with OutFolder(d):
        ...     _ = write_atomic(d / "new.md", "2")
        >>> sorted(p.name for p in d.iterdir())
        ['.harness-out.json', 'new.md']
    """

    def __init__(
        self, path: str | Path, *, command: list[str] | None = None, complete: tuple[type[BaseException], ...] = ()
    ) -> None:
        self.path = Path(path)
        self.command = command
        self.complete = complete
        self.run_id = f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"
        self.files: set[str] = set()

    def written(self, file: Path) -> None:
        """Note a file written under the folder (called by :func:`write_atomic`)."""
        try:
            rel = file.resolve().relative_to(self.path.resolve())
        except ValueError:
            return
        if rel.as_posix() != OUT_MANIFEST:
            self.files.add(rel.as_posix())

    def __enter__(self) -> OutFolder:
        with _lock:
            _folders.append(self)
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        with _lock:
            _folders.remove(self)
        complete = et is None or isinstance(ev, self.complete)
        if not (self.files or (self.path / OUT_MANIFEST).is_file()):
            return
        try:
            self.finish(complete=complete)
        except OSError:
            if complete:
                raise
            # the run already failed (perhaps on this very folder): its own error is the one to show

    def _previous(self) -> tuple[dict[str, str], float]:
        """The previous manifest's files (path → run id) and its time; empty when there is none or it is unreadable."""
        manifest = self.path / OUT_MANIFEST
        try:
            doc = json.loads(manifest.read_text(encoding="utf-8"))
            files = doc["files"]
            if isinstance(files, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
                return files, manifest.stat().st_mtime
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return {}, 0.0

    def _stale(self, rel: str, since: float) -> Path | None:
        """The previous run's file ``rel`` when it is safe to remove: inside the folder, a plain file, unchanged."""
        root = self.path.resolve()
        target = self.path / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            return None
        try:
            target.parent.resolve().relative_to(root)
            st = target.lstat()
        except (OSError, ValueError):
            return None
        if not target.is_file() or target.is_symlink() or st.st_mtime > since + 1.0:
            return None
        return target

    def finish(self, *, complete: bool) -> None:
        """Write the manifest; on a complete run remove the previous run's files not written again."""
        previous, since = self._previous()
        files = {rel: self.run_id for rel in self.files}
        for rel, run_id in previous.items():
            if rel in files:
                continue
            target = self._stale(rel, since)
            if target is None:
                continue
            if not complete:
                files[rel] = run_id
                continue
            target.unlink(missing_ok=True)
            parent = target.parent
            while parent.resolve() != self.path.resolve():
                try:
                    parent.rmdir()  # only when empty
                except OSError:
                    break
                parent = parent.parent
        doc = {"kind": "harness-out-folder", "version": 1, "run_id": self.run_id, "complete": complete,
               "created": datetime.now(UTC).isoformat(timespec="seconds"), "command": self.command,
               "files": dict(sorted(files.items()))}  # fmt: skip
        write_atomic(self.path / OUT_MANIFEST, json_text(doc) + "\n")


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
