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

With ``--rubric examples/monitor/rubric.yaml`` the rubric's reference-free criteria are scored per
window too, and two more plants can be set: ``--schema-at W`` (from window W, 30% of the JSON
replies name a category outside the schema's enum: still valid JSON; ``--schema-share``) and
``--long-at W`` (30% of the JSON replies run to 38 words, over the rubric's 30; ``--long-share``).
Their delays count windows to the first window where the criterion (``--schema-criterion``,
``--length-criterion``) is degraded. ``none`` switches a plant off::

    python benchmarks/monitor.py --rubric examples/monitor/rubric.yaml --shift-at none --drop-at none \
        --schema-at 4 --long-at 7
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

from harness.monitor import MonitorReport, MonitorSettings, monitor_logs, parse_window


def _first(statuses: list[str], start: int, wanted: set[str]) -> int | None:
    return next((i - start for i in range(start, len(statuses)) if statuses[i] in wanted), None)


def _at(text: str) -> int | None:
    return None if text.lower() == "none" else int(text)


def _degraded_on(report: MonitorReport, criterion: str) -> list[str]:
    """Per window: 'degraded' when this criterion degraded it (whatever else did), else 'not by it'."""
    return [
        "degraded" if any(q.degraded and q.criterion == criterion for q in w.quality) else "not by it"
        for w in report.windows
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--per-window", type=int, default=120)
    ap.add_argument("--windows", type=int, default=10)
    ap.add_argument("--shift-at", type=_at, default=4)
    ap.add_argument("--drop-at", type=_at, default=7)
    ap.add_argument("--schema-at", type=_at, default=None)
    ap.add_argument("--long-at", type=_at, default=None)
    ap.add_argument("--schema-share", type=float, default=0.3, help="share of JSON replies that break the schema")
    ap.add_argument("--long-share", type=float, default=0.3, help="share of JSON replies that get long")
    ap.add_argument("--rubric", default=None)
    ap.add_argument("--schema-criterion", default="schema")
    ap.add_argument("--length-criterion", default="short")
    ap.add_argument("--embedder", default="hashing")
    ap.add_argument("--cusum-arl", type=float, default=None, help="also run the CUSUM with this in-control ARL")
    args = ap.parse_args()
    settings = MonitorSettings(window=parse_window("1d"), embedder=args.embedder, cusum_arl=args.cusum_arl)
    plants = {"shift": args.shift_at, "drop": args.drop_at, "schema": args.schema_at, "long": args.long_at}
    first_plant = min((v for v in plants.values() if v is not None), default=args.windows)
    delay: dict[str, list[int | None]] = {k: [] for k, v in plants.items() if v is not None}
    stable_flags, stable_windows, stable_runs_alarmed, seconds = 0, 0, 0, []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            for planted in (True, False):
                at = plants if planted else dict.fromkeys(plants)
                rows = planted_logs(
                    seed=seed if planted else 10_000 + seed, windows=args.windows, per_window=args.per_window,
                    shift_at=at["shift"], drop_at=at["drop"], schema_at=at["schema"], long_at=at["long"],
                    schema_break=args.schema_share, long_share=args.long_share,
                )  # fmt: skip
                path = Path(tmp) / "logs.jsonl"
                write_jsonl(rows, path)
                t0 = time.perf_counter()
                report = monitor_logs(path, settings, rubric=args.rubric)
                seconds.append(time.perf_counter() - t0)
                statuses = [w.status for w in report.windows]
                if planted:
                    stable_part = statuses[1:first_plant]
                    stable_flags += sum(s != "ok" for s in stable_part)
                    stable_windows += len(stable_part)
                    for name, start in plants.items():
                        if start is None:
                            continue
                        if name == "shift":
                            delay[name].append(_first(statuses, start, {"drift", "degraded"}))
                        elif name == "drop":
                            delay[name].append(_first(statuses, start, {"degraded"}))
                        else:
                            crit = args.schema_criterion if name == "schema" else args.length_criterion
                            delay[name].append(_first(_degraded_on(report, crit), start, {"degraded"}))
                else:
                    stable_flags += sum(s != "ok" for s in statuses[1:])
                    stable_windows += len(statuses) - 1
                    stable_runs_alarmed += report.verdict != "ok"

    def delays(xs: list[int | None]) -> str:
        found = [x for x in xs if x is not None]
        hist = {d: found.count(d) for d in sorted(set(found))}
        return f"found in {len(found)}/{len(xs)} runs; delay (windows) {hist}"

    print(f"embedder {args.embedder}, {args.seeds} planted + {args.seeds} stable runs, {args.windows} windows of "
          f"{args.per_window} rows, alpha {settings.alpha}, rubric {args.rubric}, "
          f"CUSUM ARL {args.cusum_arl}")  # fmt: skip
    names = {
        "shift": "topic shift",
        "drop": "quality drop (json_valid, rating)",
        "schema": f"schema break ({args.schema_criterion})",
        "long": f"long replies ({args.length_criterion})",
    }
    for name, found in delay.items():
        print(f"{names[name]} at window {plants[name]}: {delays(found)}")
    print(f"stable windows flagged: {stable_flags}/{stable_windows} = {stable_flags / stable_windows:.3%}")
    print(f"stable runs with any alarm: {stable_runs_alarmed}/{args.seeds} = {stable_runs_alarmed / args.seeds:.1%}")
    print(f"seconds per run: median {statistics.median(seconds):.2f}, max {max(seconds):.2f}")


if __name__ == "__main__":
    main()
