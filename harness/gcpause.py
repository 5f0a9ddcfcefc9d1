"""Pause Python's cyclic garbage collector while a step builds many long-lived, acyclic objects.

Reference counting frees such objects; the collector's passes only walk them, again and again as
they accumulate (importing numpy, or building a document with 20,000 item entries, runs dozens of
passes). A paused collector is restored when the step ends, even on an error.

Example:
    >>> import gc
    >>> with paused_gc():
    ...     gc.isenabled()
    False
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused_gc"]


@contextmanager
def paused_gc() -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block; re-enable it after when it was on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()
