"""Monitoring on planted logs: detection delay and false-alarm rate over many seeds.

Each seed draws fresh logs from tests/fixtures/monitor_logs.py: 10 daily windows of ``--per-window``
rows; a topic shift (60% of prompts on a new product, a quarter of those in Russian) from window
``--shift-at`` on, and a quality drop (JSON validity 0.95 → 0.70, ratings about one point lower)
from window ``--drop-at`` on. A second set of seeds has no shift and no drop (stable traffic).

Printed: the detection delay of the shift (windows from its start to the first ``drift`` or
``degraded`` window) and of the drop (to the first ``degraded`` window), the share of stable
windows flagged, the share of stable runs with any alarm (the family-wise rate the Holm
corrections aim to keep near alpha per family), and seconds per run.

    python benchmarks/monitor.py [--seeds 50] [--per-window 120] [--embedder hashing|minilm]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fixtures.monitor_logs import planted_logs, write_jsonl

from harness.monitor import MonitorSettings, monitor_logs, parse_window


def _first(statuses: list[str], start: int, wanted: set[str]) -> int | None:
    return next((i - start for i in range(start, len(statuses)) if statuses[i] in wanted), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--per-window", type=int, default=120)
    ap.add_argument("--windows", type=int, default=10)
    ap.add_argument("--shift-at", type=int, default=4)
    ap.add_argument("--drop-at", type=int, default=7)
    ap.add_argument("--embedder", default="hashing")
    args = ap.parse_args()
    settings = MonitorSettings(window=parse_window("1d"), embedder=args.embedder)
    shift_delay, drop_delay, stable_flags, stable_windows, stable_runs_alarmed, seconds = [], [], 0, 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for planted in (True, False):
                rows = planted_logs(
                    seed=seed if planted else 10_000 + seed, windows=args.windows, per_window=args.per_window,
                    shift_at=args.shift_at if planted else None, drop_at=args.drop_at if planted else None,
                )  # fmt: skip
                path = Path(tmp) / "logs.jsonl"
                write_jsonl(rows, path)
                t0 = time.perf_counter()
                report = monitor_logs(path, settings)
                seconds.append(time.perf_counter() - t0)
                statuses = [w.status for w in report.windows]
                if planted:
                    stable_part = statuses[1 : args.shift_at]
                    stable_flags += sum(s != "ok" for s in stable_part)
                    stable_windows += len(stable_part)
                    shift_delay.append(_first(statuses, args.shift_at, {"drift", "degraded"}))
                    drop_delay.append(_first(statuses, args.drop_at, {"degraded"}))
                else:
                    stable_flags += sum(s != "ok" for s in statuses[1:])
                    stable_windows += len(statuses) - 1
                    stable_runs_alarmed += report.verdict != "ok"

    def delays(xs: list[int | None]) -> str:
        found = [x for x in xs if x is not None]
        hist = {d: found.count(d) for d in sorted(set(found))}
        return f"found in {len(found)}/{len(xs)} runs; delay (windows) {hist}"

    print(f"embedder {args.embedder}, {args.seeds} planted + {args.seeds} stable runs, {args.windows} windows of "
          f"{args.per_window} rows, alpha {settings.alpha}")  # fmt: skip
    print(f"topic shift at window {args.shift_at}: {delays(shift_delay)}")
    print(f"quality drop at window {args.drop_at}: {delays(drop_delay)}")
    print(f"stable windows flagged: {stable_flags}/{stable_windows} = {stable_flags / stable_windows:.3%}")
    print(f"stable runs with any alarm: {stable_runs_alarmed}/{args.seeds} = {stable_runs_alarmed / args.seeds:.1%}")
    print(f"seconds per run: median {statistics.median(seconds):.2f}, max {max(seconds):.2f}")


if __name__ == "__main__":
    main()
