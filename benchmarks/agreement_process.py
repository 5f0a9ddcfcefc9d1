"""Whole-process time of ``harness agreement`` against a five-line peer script with ``krippendorff``.

What a user runs, start-up included: ``harness agreement ratings.csv --level nominal --bootstrap 0
--json`` against a script that reads the same CSV with pandas, pivots it and calls
``krippendorff.alpha``. Both read a long-form CSV of ``--items`` x ``--raters`` scores 1-5 with
``--missing`` of the cells absent (seed 0, as ``benchmarks/agreement.py``). The two commands run
alternately (A B A B ...), each a fresh process with byte-code caches (the first run of each
writes them); the script reports the median wall and CPU seconds (user + system of the child,
from ``os.wait4``) and the median of the per-pair ratios,
and checks that the two alphas agree to 1e-9. Beside them, the compute alone (in this process,
the file already read): the harness's document vs the peer's alpha.

    python benchmarks/agreement_process.py [--items 20000] [--raters 10] [--missing 0.3] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PEER = """import sys, pandas as pd, krippendorff
df = pd.read_csv(sys.argv[1])
m = df.pivot_table(index="rater_id", columns="item_id", values="score", aggfunc="first")
print(repr(float(krippendorff.alpha(reliability_data=m.to_numpy(dtype=float), level_of_measurement="nominal"))))
"""


def write_ratings(path: Path, items: int, raters: int, missing: float, seed: int = 0) -> int:
    """The long-form CSV (item_id, rater_id, score); returns the number of rating rows."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, size=(items, 1))
    data = np.clip(truth + rng.integers(-1, 2, size=(items, raters)), 1, 5)
    keep = rng.random(data.shape) >= missing
    ii, jj = np.nonzero(keep)
    with path.open("w") as fh:
        fh.write("item_id,rater_id,score\n")
        fh.writelines(f"i{i},r{j},{data[i, j]}\n" for i, j in zip(ii.tolist(), jj.tolist(), strict=True))
    return int(keep.sum())


# Both commands run as a user's installed copy does: with byte-code caches. PYTHONDONTWRITEBYTECODE
# (set in some shells and CI images) would leave the harness's own modules to be compiled again in
# every run (about 0.1 s), while the peer's libraries come with their caches from pip.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system) and stdout of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=CHILD_ENV)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1, 3):
        raise SystemExit(f"{cmd[:4]} failed with {status}")
    return wall, usage.ru_utime + usage.ru_stime, out.decode()


def main() -> None:
    """Run both commands alternately and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--raters", type=int, default=10)
    parser.add_argument("--missing", type=float, default=0.3)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    whole_process(args.items, args.raters, args.missing, args.runs)


def whole_process(items: int, raters: int, missing: float, runs: int) -> None:
    """Time both commands alternately on a fresh CSV and print the tables (also used by agreement.py)."""
    args = argparse.Namespace(items=items, raters=raters, missing=missing, runs=runs)
    tmp = Path(tempfile.mkdtemp())
    csv_path, peer_path = tmp / "ratings.csv", tmp / "peer.py"
    n_rows = write_ratings(csv_path, args.items, args.raters, args.missing)
    peer_path.write_text(PEER)
    ours = [sys.executable, "-m", "harness", "agreement", str(csv_path), "--level", "nominal"]
    ours += ["--bootstrap", "0", "--json"]
    peer = [sys.executable, str(peer_path), str(csv_path)]
    run(ours), run(peer)  # warm the file cache and the byte-code caches
    times: dict[str, list[tuple[float, float]]] = {"harness": [], "peer": []}
    for _ in range(args.runs):
        w, c, out_ours = run(ours)
        times["harness"].append((w, c))
        w, c, out_peer = run(peer)
        times["peer"].append((w, c))
    ours_alpha = json.loads(out_ours)["groups"][0]["coefficients"]["krippendorff_alpha"]["value"]
    peer_alpha = float(out_peer.strip())
    diff = abs(ours_alpha - peer_alpha)
    assert diff < 1e-9, (ours_alpha, peer_alpha)
    print(f"{n_rows} rating rows ({args.items} items x {args.raters} raters, {args.missing:.0%} missing); "
          f"median of {args.runs} alternating runs; |alpha diff| = {diff:.1e}\n")
    print("| command | wall s | cpu s |")
    print("| --- | --- | --- |")
    for name, rows in times.items():
        print(f"| {name} | {statistics.median(w for w, _ in rows):.3f} | {statistics.median(c for _, c in rows):.3f} |")
    pairs = list(zip(times["harness"], times["peer"], strict=True))
    print(f"| ratio harness / peer | {statistics.median(a[0] / b[0] for a, b in pairs):.2f}x "
          f"| {statistics.median(a[1] / b[1] for a, b in pairs):.2f}x |")
    _compute(csv_path)


def _compute(csv_path: Path) -> None:
    """Compute alone, the file already read: the harness's whole document vs the peer's alpha."""
    import krippendorff
    import pandas as pd

    from harness.agreement import agreement_report, load_ratings

    ratings = load_ratings(csv_path)
    frame = pd.read_csv(csv_path)
    matrix = frame.pivot_table(index="rater_id", columns="item_id", values="score", aggfunc="first").to_numpy(float)

    def best(fn: object, n: int = 5) -> float:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()  # type: ignore[operator]
            out.append(time.perf_counter() - t0)
        return min(out)

    t_doc = best(lambda: agreement_report(ratings, level="nominal", bootstrap=0))
    t_alpha = best(lambda: krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    t_read = best(lambda: load_ratings(csv_path))
    t_pd = best(lambda: pd.read_csv(csv_path))
    print("\n| compute alone (best of 5) | harness s | peer s |")
    print("| --- | --- | --- |")
    print(f"| read the CSV | {t_read:.3f} | {t_pd:.3f} (pandas.read_csv) |")
    print(f"| coefficients and document / alpha | {t_doc:.3f} | {t_alpha:.3f} (krippendorff.alpha) |")


if __name__ == "__main__":
    main()
