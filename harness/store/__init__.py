"""The results store: every eval, comparison, gate and leaderboard recorded, read back as history.

SQLite file by default (``$HARNESS_HOME/store.sqlite``), PostgreSQL when ``--store`` or
``$HARNESS_STORE`` names one; schema migrations (Alembic) ship with the package. See
``docs/store.md``.
"""

from harness.store.engine import (
    StoreUnavailableError,
    StoreVersionError,
    default_store_path,
    head_revision,
    resolve_store_url,
)
from harness.store.store import Recorded, Store, StoredRecord

__all__ = [
    "Recorded",
    "Store",
    "StoreUnavailableError",
    "StoreVersionError",
    "StoredRecord",
    "default_store_path",
    "head_revision",
    "resolve_store_url",
]
