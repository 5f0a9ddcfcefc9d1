"""Paired bootstrap: harness.compare vs scipy.stats.bootstrap on the same data, in one process run.

Run: ``python benchmarks/compare.py`` (add ``--quick`` for a smoke run). For each case both
libraries compute the 95% BCa interval of the mean paired difference with the same number of
resamples; the script prints each one's time, peak traced memory and interval, and the speed ratio.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.stats as sps

from harness.stats.bootstrap import paired_bootstrap


def _measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time of ``repeat`` runs, peak traced memory (MiB) of one run, and its result."""
    tracemalloc.start()
    result = fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best, peak, result


def _ours(base: np.ndarray, cand: np.ndarray, resamples: int) -> tuple[float, float]:
    return tuple(paired_bootstrap(base, cand, resamples=resamples, seed=0, method="bca").interval(0.95))


def _scipy(base: np.ndarray, cand: np.ndarray, resamples: int) -> tuple[float, float]:
    res = sps.bootstrap(
        (base, cand),
        lambda x, y, axis: y.mean(axis=axis) - x.mean(axis=axis),
        paired=True,
        vectorized=True,
        n_resamples=resamples,
        method="BCa",
        rng=np.random.default_rng(0),
    )
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def cases(quick: bool) -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(42)
    out = []
    for n in (200, 2000) if quick else (200, 1000, 5000):
        base = (rng.random(n) < 0.5).astype(float)
        cand = np.where(rng.random(n) < 0.1, 1.0, base)
        out.append((f"binary, {n} items", base, cand))
        b = rng.beta(2, 3, n)
        out.append((f"continuous, {n} items", b, np.clip(b + rng.normal(0.02, 0.1, n), 0, 1)))
        lv = rng.integers(0, 5, n) / 4
        out.append((f"5 levels, {n} items", lv, np.clip(lv + rng.integers(-1, 2, n) / 4, 0, 1)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, smaller cases")
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"95% BCa interval of the mean paired difference, {args.resamples:,} resamples, best of {args.repeat}")
    head = f"{'case':24} {'harness s':>10} {'scipy s':>10} {'ratio':>7} {'harness MiB':>12} {'scipy MiB':>10}"
    print(head + "  intervals")
    for name, base, cand in cases(args.quick):
        t_ours, m_ours, ci_ours = _measure(lambda b=base, c=cand: _ours(b, c, args.resamples), args.repeat)
        t_sp, m_sp, ci_sp = _measure(lambda b=base, c=cand: _scipy(b, c, args.resamples), args.repeat)
        print(
            f"{name:24} {t_ours:10.4f} {t_sp:10.4f} {t_sp / t_ours:6.1f}x {m_ours:12.1f} {m_sp:10.1f}  "
            f"[{ci_ours[0]:.4f}, {ci_ours[1]:.4f}] vs [{ci_sp[0]:.4f}, {ci_sp[1]:.4f}]"
        )


if __name__ == "__main__":
    main()
