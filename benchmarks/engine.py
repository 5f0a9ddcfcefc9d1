"""``harness validate`` on shards: the single-process pass against the Dask engine with N workers.

Synthetic prompt-completion rows (Zipf-distributed words, ~45 words a row) split into shards,
with planted exact duplicates, near duplicates and leaks of a holdout of 300 items; the same rows
also written as one file. Timed, in one run:

- ``validate_file`` on the one file with ``workers=1`` (the single-process path, one core);
- ``validate_shards(engine="dask")`` on the shards, a ``LocalCluster`` of N one-thread worker
  processes started beforehand (its start-up time is printed apart).

The findings are checked to be the same (per check: count, and the (shard, line) of every line).
Peak memory: the caller's resident set (``ru_maxrss``) and each worker's, read from the workers.

    PYTHONPATH=$PWD python benchmarks/engine.py --rows 1000000 --shards 8 --workers 2
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any


def make_rows(n: int, seed: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(holdout items, training rows) with planted duplicates and leaks."""
    rng = random.Random(seed)
    vocab = [f"w{i}" for i in range(20_000)]
    cum, total = [], 0.0
    for i in range(len(vocab)):
        total += 1 / (i + 1)
        cum.append(total)

    def text(k: int) -> str:
        return " ".join(rng.choices(vocab, cum_weights=cum, k=k))

    holdout = [{"id": f"h{i}", "prompt": text(30), "reference": text(20)} for i in range(300)]
    rows: list[dict[str, Any]] = []
    for _ in range(n):
        r = rng.random()
        if r < 0.001 and rows:  # exact duplicate of an earlier row (re-cased)
            src = rows[rng.randrange(len(rows))]
            rows.append({"prompt": src["prompt"].upper(), "completion": src["completion"]})
        elif r < 0.002:  # a holdout prompt leaked
            rows.append({"prompt": rng.choice(holdout)["prompt"], "completion": text(15)})
        else:
            rows.append({"prompt": text(30), "completion": text(15)})
    return holdout, rows


def write(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")


def peak_mib() -> float:
    """This process's peak resident set (VmHWM: reset by exec, unlike ru_maxrss of a spawned worker)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def signature(report: Any, one_file: bool, sizes: list[int], files: list[str]) -> Counter[tuple]:
    """Each finding as (check, ((shard, line), ...)), counted."""
    out: Counter[tuple] = Counter()
    for f in report.findings:
        if one_file:
            where = []
            for line in f.lines:
                k = 0
                while line > sizes[k]:
                    line -= sizes[k]
                    k += 1
                where.append((files[k], line))
        else:
            where = list(zip(f.files or [], f.lines, strict=True))
        out[(f.check, tuple(where))] += 1
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    import dask
    from distributed import Client, LocalCluster

    from harness.validate import validate_file
    from harness.validate.distributed import validate_shards

    d = Path(tempfile.mkdtemp(prefix="bench-engine-"))
    holdout, rows = make_rows(args.rows)
    write(holdout, d / "holdout.jsonl")
    (d / "shards").mkdir()
    per = -(-len(rows) // args.shards)
    files, sizes = [], []
    for s in range(args.shards):
        part = rows[s * per : (s + 1) * per]
        path = d / "shards" / f"part-{s:03d}.jsonl"
        write(part, path)
        files.append(str(path))
        sizes.append(len(part))
    write(rows, d / "all.jsonl")
    del rows
    holdouts = [d / "holdout.jsonl"]
    print(f"{args.rows:,} rows in {args.shards} shards, {len(holdout)} holdout items; data in {d}", flush=True)

    t, cpu = time.perf_counter(), time.process_time()
    single = validate_file(d / "all.jsonl", holdouts=holdouts, paraphrase=False, workers=1)
    t_single, cpu_single = time.perf_counter() - t, time.process_time() - cpu
    print(
        f"single process (validate_file, workers=1): {t_single:.1f} s wall, {cpu_single:.1f} s CPU, "
        f"peak {peak_mib():.0f} MiB",
        flush=True,
    )

    t = time.perf_counter()
    with dask.config.set({"distributed.worker.profile.enabled": False}):  # as harness's own LocalCluster
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0")
    t_start = time.perf_counter() - t
    try:
        with Client(cluster) as client:
            cpu_before = client.run(time.process_time)
        t, cpu = time.perf_counter(), time.process_time()
        dask = validate_shards(
            d / "shards", engine="dask", scheduler=cluster.scheduler_address, holdouts=holdouts, paraphrase=False
        )
        t_dask, cpu_caller = time.perf_counter() - t, time.process_time() - cpu
        with Client(cluster) as client:
            cpu_after = client.run(time.process_time)
            worker_peaks = client.run(peak_mib)
    finally:
        cluster.close()
    cpu_workers = sum(cpu_after[w] - cpu_before[w] for w in cpu_after)
    same = signature(single, True, sizes, files) == signature(dask, False, sizes, files)
    counts = Counter(f.check for f in dask.findings)
    print(f"dask, {args.workers} workers: {t_dask:.1f} s wall (+ {t_start:.1f} s cluster start)")
    print(f"CPU s: single {cpu_single:.1f}; dask workers {cpu_workers:.1f} + caller (index, join) {cpu_caller:.1f}")
    print(f"ratio dask / single process: {t_dask / t_single:.2f}x; speed-up {t_single / t_dask:.2f}x")
    peaks = sorted(round(v) for v in worker_peaks.values())
    print(f"peak MiB: caller {peak_mib():.0f} (both runs); workers {peaks}")
    print(f"same findings (check, shard, line): {same}; findings by check: {dict(sorted(counts.items()))}")
    print(f"rows/s: single {args.rows / t_single:,.0f}, dask {args.rows / t_dask:,.0f}")


if __name__ == "__main__":
    main()
