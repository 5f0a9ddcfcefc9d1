"""Reading speed of ``harness.records.iter_records`` against the pandas / pyarrow floors.

Writes ``--rows`` prompt-completion examples (seed 0) as JSONL, CSV and Parquet, then times, in
one process and alternating, the harness reader (every row made a record, problems collected) in
its two paths, batches (the default: pyarrow batches, records built from checked columns) and row
by row (``batched=False``: pydantic per row), against ``pandas.read_json(lines=True)`` /
``pyarrow.json.read_json`` (JSONL), ``pandas.read_csv`` (CSV) and ``pyarrow.parquet.read_table``
(Parquet). Prints rows per CPU second (process time, all threads; medians): the machine is shared.

    python benchmarks/records_read.py [--rows 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from harness.records import iter_records


def write_files(folder: Path, rows: int) -> dict[str, Path]:
    """The same examples as JSONL, CSV and Parquet."""
    rng = random.Random(0)
    data = [
        {
            "prompt": f"Question {i}: what is {i} plus {i + 1}?",
            "completion": f"It is {2 * i + 1}. " + "word " * rng.randint(5, 40),
        }
        for i in range(rows)
    ]
    paths = {"jsonl": folder / "d.jsonl", "csv": folder / "d.csv", "parquet": folder / "d.parquet"}
    paths["jsonl"].write_text("".join(json.dumps(r) + "\n" for r in data))
    pd.DataFrame(data).to_csv(paths["csv"], index=False)
    pq.write_table(pa.Table.from_pylist(data), paths["parquet"])
    return paths


def median_seconds(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median CPU seconds (process time) of each function, calls interleaved."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.process_time()
            fn()
            times[k].append(time.process_time() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    """Print a Markdown table of rows/s."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = write_files(Path(tempfile.mkdtemp()), args.rows)

    def ours(fmt: str, batched: bool) -> Callable[[], object]:
        def read() -> int:
            n = sum(1 for _ in iter_records(paths[fmt], batched=batched))
            assert n == args.rows, n
            return n

        return read

    floors: dict[str, list[tuple[str, Callable[[], object]]]] = {
        "jsonl": [
            ("pandas.read_json(lines=True)", lambda: pd.read_json(paths["jsonl"], lines=True)),
            ("pyarrow.json.read_json", lambda: pajson.read_json(paths["jsonl"])),
        ],
        "csv": [("pandas.read_csv", lambda: pd.read_csv(paths["csv"]))],
        "parquet": [("pyarrow.parquet.read_table", lambda: pq.read_table(paths["parquet"]))],
    }
    for fmt in floors:  # imports and first-touch costs out of the timings
        ours(fmt, True)()
    print(f"{args.rows} prompt-completion rows; rows per CPU second, median of {args.repeats} interleaved runs\n")
    print("| format | batched rows/s | row-by-row rows/s | floor | floor rows/s | batched / floor | rows / floor |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for fmt, peers in floors.items():
        times = median_seconds([ours(fmt, True), ours(fmt, False), *(fn for _, fn in peers)], args.repeats)
        fast, slow = times[0], times[1]
        for (name, _), t_floor in zip(peers, times[2:], strict=True):
            print(
                f"| {fmt} | {args.rows / fast:,.0f} | {args.rows / slow:,.0f} | {name} | {args.rows / t_floor:,.0f} "
                f"| {t_floor / fast:.2f} | {t_floor / slow:.2f} |"
            )


if __name__ == "__main__":
    main()
