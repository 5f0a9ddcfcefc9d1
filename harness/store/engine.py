"""Where the store lives and how it is opened: URL resolution, SQLite set-up, migrations.

The store is ``--store URL``, else ``$HARNESS_STORE``, else the SQLite file
``$HARNESS_HOME/store.sqlite`` (``HARNESS_HOME`` defaults to ``~/.local/share/harness``).
``--no-store`` or ``HARNESS_STORE=none`` records nothing. A URL is any SQLAlchemy URL of a
supported back-end (``sqlite:///path``, ``postgresql://user@host/db``, which uses psycopg 3);
a bare path means a SQLite file.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``, so writers from parallel processes queue instead of failing (a deferred
transaction that reads and then writes could otherwise be refused with "database is locked").
Opening a store upgrades its schema to this version's head inside one transaction (under an
advisory lock on PostgreSQL); a store whose schema revision this version does not know was
written by a newer harness and is refused.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from harness.errors import HarnessError, InputError

__all__ = [
    "NO_STORE",
    "StoreUnavailableError",
    "StoreVersionError",
    "connect",
    "default_store_path",
    "head_revision",
    "resolve_store_url",
]

NO_STORE = ("none", "off", "no", "false", "0")
_PG_LOCK = 0x6861726E  # "harn": one advisory lock id for schema upgrades
_TIMEOUT_S = 60.0


class StoreVersionError(InputError):
    """The store was written by a newer version of the harness (its schema is unknown here)."""


class StoreUnavailableError(HarnessError, OSError):
    """The store's server cannot be reached or the file cannot be opened (infrastructure: exit 4)."""

    exit_code = 4


def default_store_path() -> Path:
    """``$HARNESS_HOME/store.sqlite`` (``HARNESS_HOME`` defaults to ``~/.local/share/harness``)."""
    home = os.environ.get("HARNESS_HOME") or Path.home() / ".local" / "share" / "harness"
    return Path(home) / "store.sqlite"


def resolve_store_url(store: str | None = None, *, no_store: bool = False) -> str | None:
    """The store URL from the option, the environment or the default; None when recording is off.

    >>> resolve_store_url("none") is None
    True
    >>> resolve_store_url("/tmp/x.sqlite")
    'sqlite:////tmp/x.sqlite'
    """
    if no_store:
        return None
    raw = store if store is not None else os.environ.get("HARNESS_STORE")
    if raw is None or raw.strip() == "":
        return f"sqlite:///{default_store_path()}"
    raw = raw.strip()
    if raw.lower() in NO_STORE:
        return None
    if "://" not in raw:
        return f"sqlite:///{Path(raw).expanduser().absolute()}"
    return raw


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise InputError(f"not a store URL: {url!r} ({exc})", field="store") from exc
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        # psycopg 3 whatever driver the URL names by default (psycopg2 is not a dependency)
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise InputError(
            f"unsupported store back-end {backend!r} in {parsed.render_as_string(hide_password=True)!r}; "
            "use sqlite:///PATH or postgresql://USER@HOST/DB",
            field="store",
        )
    return parsed


def _sqlite_engine(url: URL) -> Engine:
    path = url.database
    if not path or path == ":memory:":
        raise InputError("a SQLite store needs a file path (sqlite:///PATH)", field="store")
    file = Path(path)
    if file.is_dir():
        raise InputError("the store path is a folder; give a file such as store.sqlite", file=file, field="store")
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreUnavailableError(f"cannot create the store's folder: {exc}", file=file.parent) from exc
    engine = create_engine(url, connect_args={"timeout": _TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(_TIMEOUT_S * 1000)}")
        _wal(cur)
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # a reader (execution option readonly=True) shares the WAL; a writer takes the lock up front
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("readonly") else "BEGIN IMMEDIATE")

    return engine


def _wal(cur: Any) -> None:
    # Switching to WAL needs a moment with no other connection: SQLite answers "locked" at once
    # (the busy handler does not cover it), so wait here; later opens find WAL already on.
    deadline = time.monotonic() + _TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode = WAL")
            return
        except Exception as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "harness.store:migrations")
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    """The schema revision this version of the harness writes."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None
    return head


def _current_revision(conn: Any) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def _upgrade(engine: Engine, display: str) -> None:
    from alembic import command
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None))
    known = {r.revision for r in script.walk_revisions()}
    head = script.get_current_head()
    with engine.connect().execution_options(readonly=True) as conn:
        current = _current_revision(conn)
    if current == head:
        return
    if current is not None and current not in known:
        raise StoreVersionError(
            f"the store {display} was written by a newer version of harness (schema revision {current!r}; "
            f"this version knows up to {head!r}); upgrade harness to read it",
            field="store",
        )
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
        command.upgrade(_alembic_config(conn), "head")


def connect(url: str) -> Engine:
    """An engine on the store at ``url``, its schema upgraded to this version's head.

    Raises:
        InputError: a malformed URL or an unsupported back-end (exit 2).
        StoreVersionError: the store was written by a newer harness (exit 2).
        StoreUnavailableError: the server or file cannot be reached (exit 4).
    """
    parsed = _parse(url)
    display = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        _upgrade(engine, display)
    except NoSuchModuleError as exc:
        raise InputError(f"no driver for the store {display}: {exc}", field="store") from exc
    except ModuleNotFoundError as exc:
        raise InputError(f"the store {display} needs {exc.name}; install harness[postgresql]", field="store") from exc
    except (OperationalError, DBAPIError) as exc:
        msg = str(exc.orig) if getattr(exc, "orig", None) is not None else str(exc)
        raise StoreUnavailableError(f"cannot open the store {display}: {msg.strip().splitlines()[0]}") from exc
    return engine
