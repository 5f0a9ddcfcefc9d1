"""Krippendorff's alpha: harness vs the ``krippendorff`` package, and the vectorised bootstrap.

Same input for both (20,000 items x 10 raters, scores 1-5, 30% missing, seed 0), in one process:
for each level, the two computations alternate for ``--repeats`` rounds (fair under a shared
machine's load); the script checks that the values agree to 1e-9, prints median times, the ratio
harness / krippendorff, and peak memory (tracemalloc, one separate call each). Then it times a
1,000-resample bootstrap interval (building the statistics included) against one computation, and
a naive loop of recomputations with the peer (a few resamples, extrapolated to 1,000). Last, the
whole processes a user runs (``--process-runs`` alternating runs of ``harness agreement`` and a
pandas + ``krippendorff`` script on the same data written as CSV, start-up and reading included;
see ``benchmarks/agreement_process.py``), beside the compute-only times above.

    python benchmarks/agreement.py [--items 20000] [--raters 10] [--missing 0.3] [--repeats 15]
        [--process-runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import krippendorff
import numpy as np

from harness.agreement.bootstrap import bootstrap_ci
from harness.agreement.coefficients import LEVELS, krippendorff_alpha, krippendorff_alpha_stat


def make_data(items: int, raters: int, missing: float, seed: int = 0) -> np.ndarray:
    """Scores 1-5: a true grade per item, each rater off by one step a third of the time, cells missing at random."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=(items, 1))
    data = np.clip(truth + rng.integers(-1, 2, size=(items, raters)), 1, 5).astype(float)
    data[rng.random(data.shape) < missing] = np.nan
    return data


def peak_mib(fn: Callable[[], object]) -> float:
    """Peak traced allocation of one call, in MiB."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def alternate(fns: list[Callable[[], object]], repeats: int) -> list[float]:
    """Median seconds of each function, calls interleaved round by round."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t0)
    return [statistics.median(t) for t in times]


def main() -> None:
    """Run the comparison and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--raters", type=int, default=10)
    parser.add_argument("--missing", type=float, default=0.3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--process-runs", type=int, default=5, help="whole-process runs (0: skip)")
    args = parser.parse_args()
    data = make_data(args.items, args.raters, args.missing)
    peer_input = data.T  # the package takes raters x items
    print(
        f"{args.items} items x {args.raters} raters, {np.isnan(data).mean():.1%} missing, scores 1-5; "
        f"krippendorff {version('krippendorff')}, numpy {np.__version__}; "
        f"median of {args.repeats} alternating runs\n"
    )
    print("| level | harness ms | krippendorff ms | ratio | abs diff | peak MiB harness / peer |")
    print("| --- | --- | --- | --- | --- | --- |")
    ours_ms: dict[str, float] = {}
    peer_ms: dict[str, float] = {}
    for level in LEVELS:
        ours = krippendorff_alpha(data, level=level)
        theirs = float(krippendorff.alpha(peer_input, level_of_measurement=level))
        diff = abs(ours - theirs)
        assert diff < 1e-9, (level, ours, theirs)
        t_ours, t_peer = alternate(
            [
                lambda level=level: krippendorff_alpha(data, level=level),
                lambda level=level: krippendorff.alpha(peer_input, level_of_measurement=level),
            ],
            args.repeats,
        )
        ours_ms[level], peer_ms[level] = t_ours * 1e3, t_peer * 1e3
        m_ours = peak_mib(lambda level=level: krippendorff_alpha(data, level=level))
        m_peer = peak_mib(lambda level=level: krippendorff.alpha(peer_input, level_of_measurement=level))
        print(
            f"| {level} | {t_ours * 1e3:.1f} | {t_peer * 1e3:.1f} | {t_ours / t_peer:.2f}x | {diff:.1e} "
            f"| {m_ours:.1f} / {m_peer:.1f} |"
        )

    print(
        f"\n| level | bootstrap {args.resamples} resamples ms | x one harness computation "
        "| x one krippendorff computation | naive loop with the peer, extrapolated s | 95% CI |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    rng = np.random.default_rng(1)
    for level in LEVELS:

        def boot(level: str = level) -> object:
            return bootstrap_ci(krippendorff_alpha_stat(data, level=level), n_resamples=args.resamples, seed=0)

        res = boot()
        t_boot = statistics.median(_time(boot) for _ in range(max(3, args.repeats // 3)))
        loop_n = 5
        t0 = time.perf_counter()
        for _ in range(loop_n):
            idx = rng.integers(0, len(data), size=len(data))
            krippendorff.alpha(data[idx].T, level_of_measurement=level)
        t_loop = (time.perf_counter() - t0) / loop_n * args.resamples
        boot_ms = t_boot * 1e3
        print(
            f"| {level} | {boot_ms:.0f} | {boot_ms / ours_ms[level]:.1f}x | {boot_ms / peer_ms[level]:.1f}x "
            f"| {t_loop:.1f} | [{res.ci_low:.4f}, {res.ci_high:.4f}] |"
        )
    if args.process_runs:
        sys.path.insert(0, str(Path(__file__).parent))
        from agreement_process import whole_process

        print("\nWhole processes (nominal, `harness agreement --bootstrap 0 --json` vs the peer script):\n")
        whole_process(args.items, args.raters, args.missing, args.process_runs)


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
