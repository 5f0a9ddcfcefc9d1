"""The CUSUM of ``harness monitor --cusum-arl``: its real in-control run length and detection delay on binomial windows.

The threshold h is set from Siegmund's approximation for N(0, 1) values; real windows are shares of
n rows, standardised with a reference share estimated from ``--ref-rows`` rows. This simulates
exactly that (a fresh reference per run) and reports the mean run length in windows with its 95%
interval, in control (the share stays p0) and after a drop to p1 from the first window.

    python benchmarks/monitor_cusum.py [--arl 100] [--p0 0.9] [--p1 0.85] [--rows 120] [--ref-rows 120]
"""

from __future__ import annotations

import argparse

import numpy as np

from harness.monitor.cusum import cusum_threshold, standardised


def _run_lengths(p: float, args: argparse.Namespace, h: float, rng: np.random.Generator) -> np.ndarray:
    runs, n, n_ref = args.runs, args.rows, args.ref_rows
    ref_hits = rng.binomial(n_ref, args.p0, runs)
    p0 = np.clip(ref_hits / n_ref, 0.5 / n_ref, 1 - 0.5 / n_ref)
    # The same standardisation as harness.monitor.cusum.standardised (checked on the first run below).
    hits0 = int(rng.binomial(n, p))
    ref0 = [1.0] * int(ref_hits[0]) + [0.0] * (n_ref - int(ref_hits[0]))
    z0 = -(hits0 / n - p0[0]) / np.sqrt(p0[0] * (1 - p0[0]) * (1 / n + 1 / n_ref))
    assert abs(z0 - standardised(hits0 / n, n, ref0, kind="rate", higher_better=True)) < 1e-9  # type: ignore[operator]
    c = np.zeros(runs)
    stopped = np.zeros(runs, dtype=int)
    for t in range(1, args.max_windows + 1):
        live = stopped == 0
        if not live.any():
            break
        share = rng.binomial(n, p, runs) / n
        z = -(share - p0) / np.sqrt(p0 * (1 - p0) * (1 / n + 1 / n_ref))
        c = np.where(live, np.maximum(0.0, c + z - args.k), c)
        stopped[live & (c > h)] = t
    return stopped


def _summary(rl: np.ndarray, max_windows: int) -> str:
    done = rl[rl > 0]
    within = ", ".join(f"P(signal by window {w}) {np.mean((rl > 0) & (rl <= w)):.3f}" for w in (10, 100))
    if len(done) == len(rl):
        mean, se = done.mean(), done.std(ddof=1) / np.sqrt(len(done))
        head = f"mean run length {mean:.1f} windows [{mean - 1.96 * se:.1f}, {mean + 1.96 * se:.1f}]"
    else:
        head = f"{len(rl) - len(done)}/{len(rl)} runs never signalled in {max_windows} windows"
    return f"{head}, median {np.median(np.where(rl > 0, rl, max_windows + 1)):.0f}; {within}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--arl", type=float, default=100.0)
    ap.add_argument("--k", type=float, default=0.5)
    ap.add_argument("--p0", type=float, default=0.9)
    ap.add_argument("--p1", type=float, default=0.85)
    ap.add_argument("--rows", type=int, default=120)
    ap.add_argument("--ref-rows", type=int, default=120)
    ap.add_argument("--runs", type=int, default=4000)
    ap.add_argument("--max-windows", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    h = cusum_threshold(args.arl, args.k)
    rng = np.random.default_rng(args.seed)
    print(f"h {h:.3f} for a stated in-control ARL of {args.arl:g} windows (k {args.k:g}); windows of {args.rows} rows, "
          f"reference of {args.ref_rows} rows, {args.runs} runs")  # fmt: skip
    geo = ", ".join(f"{1 - (1 - 1 / args.arl) ** w:.3f} by window {w}" for w in (10, 100))
    print(f"a geometric run length with mean {args.arl:g} would signal with probability {geo}")
    m = args.max_windows
    print(f"in control (p = {args.p0}): {_summary(_run_lengths(args.p0, args, h, rng), m)}")
    print(f"after a drop to p = {args.p1}: {_summary(_run_lengths(args.p1, args, h, rng), m)}")


if __name__ == "__main__":
    main()
