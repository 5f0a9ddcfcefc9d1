"""``keep_freed_memory``: a batch loop stops paying page faults for memory it has just freed."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

_LOOP = """
import resource, sys
import numpy as np
from harness.allocator import keep_freed_memory
set_ = keep_freed_memory() if sys.argv[1] == "on" else None
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(40):  # a batch: several arrays of a few MiB, all freed at its end
    arrays = [np.ones(k * 2**17) for k in (1, 2, 3, 1, 2)]  # 1 to 3 MiB each
    del arrays
print(set_, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", _LOOP, mode], capture_output=True, text=True, check=True).stdout
    flag, faults = out.split()
    return flag, int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the thresholds are glibc's")
def test_freed_arrays_are_reused_without_new_page_faults():
    flag, on = _faults("on")
    _, off = _faults("off")
    assert flag == "True"
    # Off: glibc gives the freed top of its heap back after each batch, so each batch faults its
    # 9 MiB in again (about 2,300 faults); on: the first batch only.
    assert off > 40 * 1500
    assert on < off / 10


def test_it_runs_once_per_process():
    from harness.allocator import keep_freed_memory

    assert keep_freed_memory() is keep_freed_memory()


_HOLES = """
import sys
import numpy as np
from harness.allocator import keep_freed_memory, release_freed_memory
def rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
keep_freed_memory()
# A store kept in small chunks, interleaved with arrays that stay (the holes a join leaves).
chunks, kept = [], []
for _ in range(400):
    chunks.append(np.ones(2**17))  # 1 MiB each, from the heap
    kept.append(np.ones(512))  # 4 KiB: from the heap too, between the chunks
base = rss_mib()
del chunks
held = rss_mib()
released = release_freed_memory()
print(released, round(base - held), round(held - rss_mib()))
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")
def test_freed_holes_in_the_heap_go_back_to_the_kernel():
    """Freed chunks between live arrays stay in the process (raised trim threshold, holes not at
    the top of the heap) until ``release_freed_memory`` hands their pages back."""
    out = subprocess.run([sys.executable, "-c", _HOLES], capture_output=True, text=True, check=True).stdout
    released, dropped_on_free, dropped_on_release = out.split()
    assert released == "True"
    assert int(dropped_on_free) < 50  # freeing alone returns little of the 400 MiB
    assert int(dropped_on_release) > 300
