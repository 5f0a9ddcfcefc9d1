"""The price of per-item durability: one committed SQLite transaction per generation vs one per batch.

``harness eval`` commits each generation to the cache (SQLite, WAL, ``synchronous=NORMAL``) the
moment the generator yields it, so a SIGKILL loses only the items in flight. The peer is the
cheapest alternative that gives up that guarantee: the same cache written in one transaction when
the batch ends. Both sides run ``evaluate_suite`` in one process on the same synthetic suite with a
zero-cost fake generator, so the figures isolate the cache writes (a real model spends ~0.35 s of
CPU per item, see "Evaluation generation" in RESULTS.md). A third side runs without a cache.
Rounds alternate the sides; the median counts.

    python benchmarks/cache_commits.py [--items 2000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite
from harness.eval.suite import load_suite
from harness.models.fake import FakeGenerator


class BatchEndCache(GenerationCache):
    """The peer: puts are held in memory and committed in one transaction when the batch ends."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._held: list[tuple[Any, ...]] = []

    def put(self, key: str, text: str, **kw: Any) -> None:  # type: ignore[override]
        self._held.append((key, text, kw))

    def flush(self) -> None:
        self._db.execute("BEGIN")
        for key, text, kw in self._held:
            super().put(key, text, **kw)
        self._db.execute("COMMIT")
        self._held.clear()


def make_suite(root: Path, n: int) -> Path:
    root.mkdir(parents=True)
    (root / "suite.yaml").write_text(
        "name: bench\nrubric:\n  name: r\n  criteria:\n    - {id: right, scale: binary, scorer: {type: exact}}\n"
    )
    (root / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"What is {i} + {i}?", "reference": str(2 * i)}) + "\n"
                for i in range(n))
    )  # fmt: skip
    return root


def one(side: str, suite_dir: Path, work: Path) -> float:
    suite = load_suite(suite_dir)
    gen = FakeGenerator(lambda r: f"The answer is {r.item_id} " * 4, fingerprint=f"{side}-{time.time_ns()}")
    path = work / f"{side}-{time.time_ns()}.sqlite"
    cache = None if side == "no cache" else (BatchEndCache(path) if side == "batch end" else GenerationCache(path))
    t0 = time.perf_counter()
    evaluate_suite(suite, gen, cache=cache)
    if isinstance(cache, BatchEndCache):
        cache.flush()
    elapsed = time.perf_counter() - t0
    if cache is not None:
        assert len(cache) == len(suite.items)
        cache.close()
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cache-bench-"))
    suite_dir = make_suite(work / "suite", args.items)
    sides = ["per item", "batch end", "no cache"]
    times: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(args.rounds):
        for s in sides if r % 2 == 0 else reversed(sides):
            times[s].append(one(s, suite_dir, work))
    base = statistics.median(times["batch end"])
    print(f"{args.items} items, {args.rounds} rounds (median, min)")
    print("| side | s, median (min) | ms per item | / batch end |")
    print("| --- | --- | --- | --- |")
    for s in sides:
        med = statistics.median(times[s])
        print(f"| {s} | {med:.3f} ({min(times[s]):.3f}) | {1000 * med / args.items:.3f} | {med / base:.2f} |")
    extra = (statistics.median(times["per item"]) - base) / args.items
    print(f"per-item commit costs {1000 * extra:.3f} ms more per item than one commit per batch")


if __name__ == "__main__":
    main()
