"""Crowd-shaped ratings: many raters, few ratings each; whole-process time and peak memory.

Writes ``--rows`` long-form ratings (``--per-item`` raters drawn at random for each item out of
``--raters``, scores 1-5 around a true grade, seed 0) and runs ``harness agreement FILE --level
nominal --bootstrap 0 --json`` in a child process, printing wall and CPU seconds and its peak RSS.

    python benchmarks/agreement_crowd.py [--rows 200000] [--raters 1000] [--per-item 5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def write_crowd(path: Path, rows: int, raters: int, per_item: int, seed: int = 0) -> int:
    """The ratings file; returns the number of items."""
    rng = np.random.default_rng(seed)
    items = rows // per_item
    truth = rng.integers(1, 6, size=items)
    with path.open("w") as fh:
        fh.write("item_id,rater_id,score\n")
        for i in range(items):
            who = rng.choice(raters, size=per_item, replace=False)
            scores = np.clip(truth[i] + rng.integers(-1, 2, size=per_item), 1, 5)
            fh.writelines(f"i{i},r{w},{s}\n" for w, s in zip(who.tolist(), scores.tolist(), strict=True))
    return items


def main() -> None:
    """Write the file, run the command, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--raters", type=int, default=1_000)
    parser.add_argument("--per-item", type=int, default=5)
    args = parser.parse_args()
    path = Path(tempfile.mkdtemp()) / "crowd.csv"
    items = write_crowd(path, args.rows, args.raters, args.per_item)
    cmd = [sys.executable, "-m", "harness", "agreement", str(path), "--level", "nominal"]
    cmd += ["--bootstrap", "0", "--json"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, err = proc.communicate()
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the only child of this process
    print(
        f"{args.rows} rows, {items} items x {args.raters} raters ({args.per_item} per item): "
        f"exit {proc.returncode}, {wall:.1f} s wall, {usage.ru_utime + usage.ru_stime:.1f} s CPU, "
        f"peak RSS {usage.ru_maxrss / 2**20:.2f} GiB"
    )
    if proc.returncode not in (0, 1, 3):
        print(err.decode()[-2000:])


if __name__ == "__main__":
    main()
