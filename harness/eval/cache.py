"""The generation cache: every output stored in SQLite (WAL) the moment it is produced.

Keyed by the model's fingerprint (weights/adapter hashes, or the spec for API models), the
prompt and the generation settings, so a run killed with SIGKILL and started again generates
only what is missing, and two processes may share one cache file: SQLite's write-ahead log lets
readers and a writer work at once, each ``put`` is its own committed transaction, and a busy
timeout waits for the other writer instead of failing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import InputFileError, OutputError

SCHEMA_VERSION = 1
_CREATE = """
CREATE TABLE IF NOT EXISTS generations (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    seconds REAL,
    tokens INTEGER,
    meta TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL
)
"""


class CacheEntry(NamedTuple):
    """A cached output."""

    text: str
    seconds: float | None
    tokens: int | None
    meta: dict[str, Any]


def cache_key(fingerprint: str, payload: str, settings: dict[str, Any]) -> str:
    """The key of one generation: model fingerprint, prompt payload and generation settings.

    >>> cache_key("m", "p", {"t": 0}) == cache_key("m", "p", {"t": 0})
    True
    """
    h = hashlib.blake2b(digest_size=20)
    for part in (fingerprint, payload, json.dumps(settings, sort_keys=True, ensure_ascii=False)):
        b = part.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def default_cache_path() -> Path:
    """``$HARNESS_CACHE/generations.sqlite`` (default ``~/.cache/harness/generations.sqlite``)."""
    from harness.models.weights import cache_root

    return cache_root() / "generations.sqlite"


class GenerationCache:
    """A SQLite cache of generations, safe to share between processes.

    Example:
        >>> import tempfile, pathlib
        >>> c = GenerationCache(pathlib.Path(tempfile.mkdtemp()) / "c.sqlite")
        >>> c.put("k", "hello", model="m")
        >>> c.get("k").text
        'hello'
    """

    def __init__(self, path: str | Path, *, timeout: float = 60.0) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise InputFileError("the cache path is a directory; give a file such as cache.sqlite", file=self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit: every put is one durable transaction, written before the next item starts
            self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            self._db.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            self._set_wal(timeout)
            # NORMAL in WAL mode loses nothing on a process crash (only, at worst, on power loss)
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.execute(_CREATE)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from exc
        self.hits = 0
        self.misses = 0

    def _set_wal(self, timeout: float) -> None:
        # Switching to WAL needs a moment with no other connection in the file; SQLite answers
        # "database is locked" at once (the busy handler does not cover it), so wait here.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _unwritable(self, exc: Exception) -> OutputError:
        """A failed open or write as an error naming the cache file (what was committed stays)."""
        if isinstance(exc, sqlite3.DatabaseError) and "not a database" in str(exc):
            return OutputError("the cache file is not a SQLite database; give another --cache", file=self.path)
        return OutputError(
            f"cannot write the generation cache ({exc}); generations cached so far are kept, "
            "free space or give another --cache and run again to resume",
            file=self.path,
        )

    def get(self, key: str) -> CacheEntry | None:
        """The entry for a key, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        """Entries for the keys that are cached."""
        keys = list(keys)
        out: dict[str, CacheEntry] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i : i + 500]
            rows = self._db.execute(
                f"SELECT key, text, seconds, tokens, meta FROM generations WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for k, text, seconds, tokens, meta in rows:
                out[k] = CacheEntry(text, seconds, tokens, json.loads(meta))
        self.hits += len(out)
        self.misses += len(keys) - len(out)
        return out

    def put(
        self,
        key: str,
        text: str,
        *,
        model: str = "",
        seconds: float | None = None,
        tokens: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Store one output (committed at once; a second writer of the same key is harmless).

        Raises:
            OutputError: the cache cannot be written (full disk, read-only); earlier puts are kept.
        """
        try:
            self._db.execute(
                "INSERT OR REPLACE INTO generations (key, model, text, seconds, tokens, meta, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, model, text, seconds, tokens, json.dumps(meta or {}, sort_keys=True), time.time()),
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._unwritable(exc) from exc

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
