"""Keep freed memory in the process for the next batch instead of giving it back to the kernel.

Batch-at-a-time numpy work (the leakage scan hashes about 1,000 training examples at a time)
allocates and frees arrays of a few MiB per batch. With its default settings glibc serves such
arrays with fresh pages from the kernel (``mmap`` above a threshold of 128 KiB that adapts upward)
and returns the top of its heap once more than a small amount is free there, so every batch pays
page faults again on memory it has just freed. On the 13-gram scan of 200,000 examples that was a
third of the scan's CPU time (325,000 minor faults, 0.7 s of system time, measured with
``/usr/bin/time``). :func:`keep_freed_memory` raises both thresholds once per process: arrays up
to ``MMAP_THRESHOLD`` come from the heap, and up to ``TRIM_THRESHOLD`` bytes of freed heap are kept
for reuse, so a process holds at most that much more than it uses.

The ``harness`` command calls it at start and the scan's worker processes in their initializer; a
program that calls the library's scans in batches may call it too. Elsewhere than glibc (macOS,
musl) it does nothing. ``tests/test_allocator.py`` counts the page faults with and without it.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from typing import Any

__all__ = ["MMAP_THRESHOLD", "TRIM_THRESHOLD", "keep_freed_memory", "release_freed_memory"]

MMAP_THRESHOLD = 32 * 2**20  # glibc's own upper bound for the adaptive threshold on 64-bit systems
TRIM_THRESHOLD = 128 * 2**20
_M_TRIM_THRESHOLD = -1  # glibc <malloc.h>
_M_MMAP_THRESHOLD = -3


def _glibc(name: str, argtypes: list[Any]) -> Any:
    """The C library's function ``name`` with its argument types set and an int result; None where
    the interpreter's C library is not glibc (macOS, musl: no ``mallopt`` nor ``malloc_trim``)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        func = getattr(ctypes.CDLL(None), name)  # the C library the interpreter runs on
    except (OSError, AttributeError):
        return None
    func.argtypes, func.restype = argtypes, ctypes.c_int
    return func


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds for this process (once); True when they were set."""
    mallopt = _glibc("mallopt", [ctypes.c_int, ctypes.c_int])
    if mallopt is None:
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))


@functools.cache
def _malloc_trim() -> Any:
    return _glibc("malloc_trim", [ctypes.c_size_t])


def release_freed_memory() -> bool:
    """Give the free pages of the heap back to the kernel now (glibc's ``malloc_trim(0)``, which
    also releases whole free pages in the middle of the heap); True if some were released.

    For a process that frees many small arrays while it makes large ones (joining a store kept in
    chunks): the freed chunks leave holes the new arrays do not fit, so without this the process
    holds both copies until it ends. Elsewhere than glibc it does nothing.
    """
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
