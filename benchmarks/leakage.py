"""Leakage scan speed and memory per method, side by side with datasketch's MinHash LSH.

    PYTHONPATH=. python benchmarks/leakage.py [--n 200000] [--holdout 2000] [--paraphrase-n 1000]

Builds a training file of ``--n`` examples (JSONL: prompt + completion made of real sentences of
the standard library's documentation, with 1,000 planted leaks of five kinds) and a holdout of
``--holdout`` items, then times each method end to end from the file (``scan_leakage``, one
method at a time) and the same near-duplicate job done with ``datasketch`` (MinHash with the same
128 values over the same word 2-gram shingles of the same normalised, template-free words, LSH
with the same 42 bands x 3 rows, candidates kept at Jaccard >= 0.4). Each measurement runs in a
fresh process so its peak memory (max RSS) is its own. Recall on the planted leaks is printed for
both near-duplicate implementations.

    PYTHONPATH=. python benchmarks/leakage.py --paraphrase-n 0 --speed-only [--rounds 3]

gives each method's rate (one worker) as a share of the read-and-parse floor (the same reader,
doing nothing else): every measurement ``--rounds`` times in turn, the median and the range shown,
and the findings of every run checked equal.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.planted import HOLDOUT_TEMPLATE, TRAIN_TEMPLATES, embed_span, prose_units, recase, replace_words

KINDS = ("exact", "recased", "span20", "two_words", "one_in_eight")


def build_data(folder: Path, n: int, n_holdout: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    units = prose_units()
    rng.shuffle(units)
    held, rest = units[:n_holdout], units[n_holdout:]
    sentences = [s for u in rest for s in re.split(r"(?<=[.;:])\s+(?=[A-Z])", u.text) if len(s.split()) >= 5]
    vocab = sorted({w for u in units for w in re.findall(r"\b[a-z]{4,}\b", u.text)})
    holdout = [{"id": f"h{i:05d}", "prompt": HOLDOUT_TEMPLATE + u.text} for i, u in enumerate(held)]
    leak_rows = rng.sample(range(n), 1000)
    leaks = {r: (KINDS[i % 5], rng.randrange(n_holdout)) for i, r in enumerate(leak_rows)}
    with (folder / "holdout.jsonl").open("w") as fh:
        for item in holdout:
            fh.write(json.dumps(item) + "\n")
    with (folder / "train.jsonl").open("w") as fh:
        for i in range(n):
            prompt = rng.choice(TRAIN_TEMPLATES) + " ".join(rng.sample(sentences, rng.randint(2, 4)))
            completion = " ".join(rng.sample(sentences, rng.randint(2, 4)))
            if i in leaks:
                kind, h = leaks[i]
                text = holdout[h]["prompt"]
                passage = text[len(HOLDOUT_TEMPLATE) :]
                prompt = {
                    "exact": lambda t=text: t,
                    "recased": lambda t=text: recase(t, rng),
                    "span20": lambda p=passage, c=completion: embed_span(p, c, rng),
                    "two_words": lambda p=passage: HOLDOUT_TEMPLATE + replace_words(p, 2, vocab, rng),
                    "one_in_eight": lambda p=passage: (
                        HOLDOUT_TEMPLATE + replace_words(p, max(1, round(len(p.split()) / 8)), vocab, rng)
                    ),
                }[kind]()
            fh.write(json.dumps({"id": f"t{i:06d}", "prompt": prompt, "completion": completion}) + "\n")
    labels = {f"t{r:06d}": (k, f"h{h:05d}") for r, (k, h) in leaks.items()}
    return {"labels": labels, "sentences": len(sentences)}


def _recall(pairs: set[tuple[str, str]], labels: dict[str, tuple[str, str]]) -> dict[str, float]:
    out = {}
    for kind in KINDS:
        want = [(rid, h) for rid, (k, h) in labels.items() if k == kind]
        out[kind] = round(sum(p in pairs for p in want) / len(want), 3)
    return out


# ---------------------------------------------------------------------------- measurements (child processes)
def m_read(folder: Path, lines: int | None) -> dict[str, Any]:
    from harness.leakage.api import _rows

    n = 0
    t, cpu = time.perf_counter(), _cpu_seconds()
    for _ in _rows(folder / "train.jsonl"):
        n += 1
    return {"seconds": time.perf_counter() - t, "cpu_seconds": _cpu_seconds() - cpu, "n": n}


def m_ours(folder: Path, methods: tuple[str, ...], workers: int, train: str = "train.jsonl") -> dict[str, Any]:
    from harness.leakage import scan_leakage

    t, cpu = time.perf_counter(), _cpu_seconds()
    r = scan_leakage(folder / train, [folder / "holdout.jsonl"], methods=methods, paraphrase=False, workers=workers)
    secs, cpu = time.perf_counter() - t, _cpu_seconds() - cpu
    pairs = {(f.ids[0], f.holdout_ids[0]) for f in r.findings if f.data and methods[0] in f.data["methods"]}
    return {"seconds": secs, "cpu_seconds": cpu, "n": r.n_examples, "pairs": sorted(pairs), "findings": len(r.findings)}


def m_paraphrase(folder: Path, n: int) -> dict[str, Any]:
    from harness.leakage.api import _rows, prepare
    from harness.leakage.options import make_options
    from harness.leakage.scan import Scanner

    prep = prepare([folder / "holdout.jsonl"], make_options(methods=("paraphrase",), paraphrase=True, workers=1))
    t0 = time.perf_counter()
    scanner = Scanner(prep.holdout_index, prep.options, embedder=prep.embedder)  # embeds the holdout
    t1 = time.perf_counter()
    count = 0
    for rid, line, texts in _rows(folder / "train.jsonl"):
        if count == n:
            break
        count += 1
        scanner.add(rid, line, texts)
    scanner.close()
    return {"seconds": time.perf_counter() - t1, "n": count, "holdout_seconds": t1 - t0, "hits": len(scanner.hits)}


def m_datasketch(folder: Path) -> dict[str, Any]:
    import numpy as np
    from datasketch import MinHash, MinHashLSH

    from harness.leakage.api import _rows, prepare
    from harness.leakage.index import template_cover
    from harness.leakage.options import LeakageOptions
    from harness.leakage.tokens import hash_words, normal_form

    opts = LeakageOptions(paraphrase=False, methods=("near_duplicate",))
    t = time.perf_counter()
    prep = prepare([folder / "holdout.jsonl"], opts)
    index, k, thr = prep.holdout_index, opts.shingle, opts.threshold

    def content_shingles(texts: list[str]) -> list[list[bytes]]:
        normal = [normal_form(x) for x in texts]
        batch = hash_words(normal)
        cov = template_cover(batch, index.template, opts.template_n)
        out = []
        for i, text in enumerate(normal):
            words = text.split(" ") if text else []
            c = cov[batch.offsets[i] : batch.offsets[i + 1]]
            w = [x for x, flag in zip(words, c, strict=True) if not flag] if c.any() else words
            out.append(
                [" ".join(w[j : j + k]).encode() for j in range(len(w) - k + 1)] if len(w) >= opts.min_words else []
            )
        return out

    lsh = MinHashLSH(num_perm=opts.num_perm, params=(opts.bands, opts.rows))
    hold_ids = [t_.item_id for t_ in index.texts]
    hsh = content_shingles([t_.text for t_ in index.texts])
    hmin = MinHash.bulk(hsh, num_perm=opts.num_perm)
    for i, (m, s) in enumerate(zip(hmin, hsh, strict=True)):
        if s:
            lsh.insert(str(i), m)
    pairs: set[tuple[str, str]] = set()
    n = 0
    buf: list[tuple[str, str]] = []

    def flush() -> None:
        sh = content_shingles([x for _, x in buf])
        for (rid, _), s, m in zip(buf, sh, MinHash.bulk(sh, num_perm=opts.num_perm), strict=True):
            if not s:
                continue
            for key in lsh.query(m):
                if m.jaccard(hmin[int(key)]) >= thr:
                    pairs.add((rid, hold_ids[int(key)]))
        buf.clear()

    for rid, _line, texts in _rows(folder / "train.jsonl"):
        n += 1
        buf.extend((rid, x) for x in texts.values())
        if len(buf) >= 2048:
            flush()
    flush()
    del np
    return {"seconds": time.perf_counter() - t, "n": n, "pairs": sorted(pairs)}


def _peak_rss_mib() -> float:
    """Peak resident memory of this process (VmHWM; unlike ru_maxrss it starts afresh at exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def _cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (pool workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _child(func_name: str, args: tuple, queue: Any) -> None:
    from harness.allocator import keep_freed_memory

    keep_freed_memory()  # every measurement runs as the harness command does (it calls this at start)
    result = globals()[func_name](*args)
    result["max_rss_mib"] = _peak_rss_mib()
    queue.put(result)


def measure(func_name: str, *args: Any) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(func_name, args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


FLOOR = "read + parse JSONL only"


def _label(methods: tuple[str, ...], workers: int) -> str:
    return f"ours {'+'.join(methods)}, {workers} worker(s)"


def _speed_rounds(folder: Path, runs: list[tuple[tuple[str, ...], int]], rounds: int) -> list[tuple[str, list]]:
    """Each measurement ``rounds`` times, in turn (floor, every method, floor...), each in a fresh process."""
    results: dict[str, list[dict[str, Any]]] = {}
    for _ in range(rounds):
        results.setdefault(FLOOR, []).append(measure("m_read", folder, None))
        for methods, workers in runs:
            name = _label(methods, workers)
            results.setdefault(name, []).append(measure("m_ours", folder, methods, workers))
    results[FLOOR].append(measure("m_read", folder, None))
    return list(results.items())


def _print_speed(rows: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """Rates against the read-and-parse floor, by wall time and by CPU time (the machine may be
    shared): the median of each measurement's runs, and the range of its CPU share of the floor."""
    floor = dict(rows)[FLOOR]
    f_wall = statistics.median(r["n"] / r["seconds"] for r in floor)
    f_cpu = statistics.median(r["n"] / r["cpu_seconds"] for r in floor)
    print("\n| measurement | runs | examples/s (wall) | % of floor | examples/s (CPU) | % of floor | CPU % range "
          "| max RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, runs in rows:
        wall = statistics.median(r["n"] / r["seconds"] for r in runs)
        cpus = sorted(r["n"] / r["cpu_seconds"] for r in runs)
        cpu = statistics.median(cpus)
        rss = max(r["max_rss_mib"] for r in runs)
        spread = f"{cpus[0] / f_cpu:.0%}–{cpus[-1] / f_cpu:.0%}"
        shares = f"{wall / f_wall:.0%} | {cpu:,.0f} | {cpu / f_cpu:.0%} | {spread}"
        print(f"| {name} | {len(runs)} | {wall:,.0f} | {shares} | {rss:.0f} |")
    found = {name: sorted({r["findings"] for r in runs}) for name, runs in rows if "findings" in runs[0]}
    assert all(len(v) == 1 for v in found.values()), f"findings differ between runs: {found}"
    print(f"floor: median of the {len(floor)} read-only runs; findings per method: "
          + ", ".join(f"{n}: {v[0]}" for n, v in found.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--holdout", type=int, default=2000)
    ap.add_argument("--paraphrase-n", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--speed-only", action="store_true", help="One worker, no datasketch: the floor ratios only.")
    ap.add_argument("--rounds", type=int, default=3, help="With --speed-only: times each measurement runs (median).")
    args = ap.parse_args()
    folder = args.dir or Path(tempfile.mkdtemp(prefix="leakbench-"))
    folder.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    info = build_data(folder, args.n, args.holdout)
    size = (folder / "train.jsonl").stat().st_size / 2**20
    print(
        f"data: {args.n} training examples ({size:.0f} MiB JSONL, {info['sentences']} distinct sentences), "
        f"{args.holdout} holdout items, 1000 planted leaks; built in {time.perf_counter() - t:.0f} s"
    )
    quarter = folder / "train_quarter.jsonl"
    with (folder / "train.jsonl").open() as src, quarter.open("w") as dst:
        for _, line in zip(range(args.n // 4), src, strict=False):
            dst.write(line)

    runs = [(("exact",), 1), (("ngram",), 1), (("near_duplicate",), 1), (("exact", "ngram", "near_duplicate"), 1)]
    if args.speed_only:
        _print_speed(_speed_rounds(folder, runs, args.rounds))
        return
    rows: list[tuple[str, dict[str, Any]]] = []
    rows.append((FLOOR, measure("m_read", folder, None)))
    runs += [(("ngram",), 2), (("exact", "ngram", "near_duplicate"), 2)]
    for methods, workers in runs:
        rows.append((_label(methods, workers), measure("m_ours", folder, methods, workers)))
    rows.append((f"{FLOOR} (again, after the scans)", measure("m_read", folder, None)))
    rows.append(
        (f"ours ngram, 1 worker, first {args.n // 4} examples", measure("m_ours", folder, ("ngram",), 1, quarter.name))
    )
    rows.append(("datasketch MinHash + MinHashLSH", measure("m_datasketch", folder)))
    if args.paraphrase_n:
        rows.append(
            (
                f"ours paraphrase (first {args.paraphrase_n} examples)",
                measure("m_paraphrase", folder, args.paraphrase_n),
            )
        )

    labels = info["labels"]
    print(f"\n{'measurement':58s} {'examples/s':>11s} {'seconds':>8s} {'max RSS MiB':>12s}")
    results = {}
    for name, r in rows:
        rate = r["n"] / r["seconds"]
        results[name] = {
            "examples_per_s": round(rate),
            "seconds": round(r["seconds"], 2),
            "max_rss_mib": round(r["max_rss_mib"]),
        }
        print(f"{name:58s} {rate:11,.0f} {r['seconds']:8.1f} {r['max_rss_mib']:12.0f}")
        if "holdout_seconds" in r:
            print(f"{'  (embedding the holdout first: ' + format(r['holdout_seconds'], '.1f') + ' s)':58s}")
    ours_nd = dict(rows)["ours near_duplicate, 1 worker(s)"]
    ds = dict(rows)["datasketch MinHash + MinHashLSH"]
    rec_ours = _recall({tuple(p) for p in ours_nd["pairs"]}, labels)
    rec_ds = _recall({tuple(p) for p in ds["pairs"]}, labels)
    print(f"\nnear-duplicate recall on planted leaks: ours {rec_ours}; datasketch {rec_ds}")
    print(f"near-duplicate stage speed-up over datasketch (1 worker): {ds['seconds'] / ours_nd['seconds']:.1f}x")
    print(json.dumps({"results": results, "recall": {"ours": rec_ours, "datasketch": rec_ds}}))


if __name__ == "__main__":
    main()
