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
