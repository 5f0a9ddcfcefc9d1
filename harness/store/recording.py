"""Recording from the command line: open the configured store once, record each result into it.

``harness eval``, ``compare`` and ``gate`` open the store before they do any work, so an
unreachable store stops them at once (exit 4) rather than after an hour of generation.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any

from harness.store.engine import resolve_store_url
from harness.store.store import Recorded, Store

__all__ = ["Recorder", "open_recorder"]


class Recorder:
    """Records documents into a store, or does nothing when recording is off."""

    def __init__(self, store: Store | None) -> None:
        self.store = store
        self.recorded: list[Recorded] = []

    @property
    def enabled(self) -> bool:
        """Whether a store is configured."""
        return self.store is not None

    def record(
        self, doc: dict[str, Any], *, runs: Mapping[str, Mapping[str, dict[str, Any]]] | None = None
    ) -> Recorded | None:
        """Record a document (with the runs it was made of); None when recording is off."""
        if self.store is None:
            return None
        rec = self.store.record(doc, source=" ".join(["harness", *sys.argv[1:]]), runs=runs)
        self.recorded.append(rec)
        return rec

    def note(self) -> str | None:
        """A line saying what was recorded where."""
        if self.store is None or not self.recorded:
            return None
        ids = ", ".join(f"#{r.id}" for r in self.recorded)
        return f"Recorded in the store {self.store.display_url} as {ids}"

    def close(self) -> None:
        """Release the store."""
        if self.store is not None:
            self.store.close()


def open_recorder(store: str | None = None, *, no_store: bool = False) -> Recorder:
    """A recorder on the store ``--store``/``$HARNESS_STORE``/the default names (off with ``--no-store``)."""
    url = resolve_store_url(store, no_store=no_store)
    return Recorder(Store.open(url) if url is not None else None)
