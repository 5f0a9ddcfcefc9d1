"""Measure the near-duplicate defaults (shingle size, Jaccard threshold, LSH bands x rows) on the planted-leak set.

    PYTHONPATH=. python benchmarks/leakage_threshold.py

1. Exact Jaccard similarity (Python sets, no MinHash) between each planted leak and its holdout
   text, and between each clean row and its most similar holdout text, over word k-gram shingles
   of the non-template words, for k = 1..5: which k separates leaks from look-alikes best.
2. For the chosen k and threshold, the LSH S-curve of each bands x rows split of 128 values.
3. The engine itself (``scan_leakage``, near_duplicate only) with those settings: recall per
   leak kind and clean rows flagged.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness.leakage import scan_leakage
from harness.leakage.holdout import load_holdout
from harness.leakage.index import build_index, template_cover
from harness.leakage.minhash import candidate_probability
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import hash_words, normal_form
from harness.records import dump_jsonl
from tests.fixtures.planted import KINDS, build

TRAIN_FIELDS = {"sft": ("prompt", "completion"), "chat": ("messages",), "preference": ("prompt", "chosen", "rejected")}


def content_words(texts: list[str], template: np.ndarray, n: int) -> list[list[str]]:
    normal = [normal_form(t) for t in texts]
    batch = hash_words(normal)
    cov = template_cover(batch, template, n)
    out = []
    for i, t in enumerate(normal):
        words = t.split(" ") if t else []
        c = cov[batch.offsets[i] : batch.offsets[i + 1]]
        out.append([w for w, x in zip(words, c, strict=True) if not x])
    return out


def shingles(words: list[str], k: int) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def row_texts(kind: str, row: dict) -> list[str]:
    if kind == "chat":
        return [m["content"] for m in row["messages"][1:]]
    return [row[f] for f in TRAIN_FIELDS[kind]]


def main() -> None:
    planted = build()
    tmp = Path(tempfile.mkdtemp())
    (tmp / "holdout.jsonl").write_text(dump_jsonl(planted.holdout))
    opts = LeakageOptions(paraphrase=False)
    index = build_index([("h", load_holdout(tmp / "holdout.jsonl"))], opts)
    h_words = content_words([t.text for t in index.texts], index.template, opts.template_n)
    h_key = {(t.item_id, t.field): i for i, t in enumerate(index.texts)}
    print(f"holdout: {len(planted.holdout)} items, {len(index.texts)} texts, template n-grams: {index.template.size}")

    for k in (1, 2, 3, 4, 5):
        h_sets = [shingles(w, k) for w in h_words]
        inv: dict[tuple, list[int]] = defaultdict(list)
        for i, s in enumerate(h_sets):
            for sh in s:
                inv[sh].append(i)
        leak_j: dict[str, list[float]] = defaultdict(list)
        clean_j: list[float] = []
        look_j: list[float] = []
        for kind, rows in planted.train.items():
            for row in rows:
                label = planted.labels[kind][row["id"]]
                words = content_words(row_texts(kind, row), index.template, opts.template_n)
                sets = [shingles(w, k) for w in words]
                if label["kind"] == "clean":
                    best = 0.0
                    for s in sets:
                        counts: dict[int, int] = defaultdict(int)
                        for sh in s:
                            for i in inv.get(sh, ()):
                                counts[i] += 1
                        for i, c in counts.items():
                            best = max(best, c / (len(s) + len(h_sets[i]) - c))
                    (look_j if label["lookalike"] else clean_j).append(best)
                else:
                    h = h_sets[h_key[(label["holdout_id"], label["holdout_field"])]]
                    leak_j[label["kind"]].append(jaccard(sets[label["slot"]], h))
        print(f"\nshingle k={k}: exact Jaccard, leak vs its holdout text (min / 5th pct / median)")
        for kind in KINDS:
            a = np.array(leak_j[kind])
            print(f"  {kind:13s} {a.min():.3f} / {np.percentile(a, 5):.3f} / {np.median(a):.3f}")
        for name, vals in (("look-alikes", look_j), ("other clean", clean_j)):
            a = np.array(vals)
            print(f"  {name:13s} max {a.max():.3f}, 99th pct {np.percentile(a, 99):.3f}, median {np.median(a):.3f}")
        for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5):
            rec = {kind: float(np.mean(np.array(leak_j[kind]) >= t)) for kind in ("two_words", "one_in_eight")}
            fp = float(np.mean(np.array(look_j + clean_j) >= t))
            print(
                f"  t={t:.2f}: recall two_words {rec['two_words']:.3f}, one_in_eight {rec['one_in_eight']:.3f}; "
                f"clean rows >= t: {fp:.4f}"
            )

    t = opts.threshold
    print(f"\nLSH S-curve for 128 values at the threshold t={t} (P[candidate] at J = t, t+0.1 and at J = 0.15)")
    for bands, rows in ((64, 2), (42, 3), (32, 4), (25, 5), (21, 6), (16, 8)):
        print(
            f"  {bands:2d} x {rows}: P(J={t}) {candidate_probability(t, bands, rows):.3f}, "
            f"P(J={t + 0.1:.1f}) {candidate_probability(t + 0.1, bands, rows):.3f}, "
            f"P(J=0.15) {candidate_probability(0.15, bands, rows):.4f}, "
            f"P(J=0.05) {candidate_probability(0.05, bands, rows):.4f}"
        )

    print("\nengine (near_duplicate only, MinHash estimate) per setting: recall per kind; clean rows flagged")
    for kind, rows in planted.train.items():
        (tmp / f"{kind}.jsonl").write_text(dump_jsonl(rows))
    settings = [
        (opts.shingle, 42, 3, 0.4),
        (opts.shingle, 64, 2, 0.4),
        (opts.shingle, 32, 4, 0.4),
        (opts.shingle, 42, 3, 0.35),
        (opts.shingle, 42, 3, 0.45),
        (3, 64, 2, 0.3),
        (3, 42, 3, 0.3),
    ]
    for k, bands, rows_, thr in settings:
        found: dict[str, int] = defaultdict(int)
        total: dict[str, int] = defaultdict(int)
        flagged_clean = n_clean = 0
        for kind in planted.train:
            res = scan_leakage(
                tmp / f"{kind}.jsonl",
                [tmp / "holdout.jsonl"],
                methods=("near_duplicate",),
                paraphrase=False,
                shingle=k,
                bands=bands,
                rows=rows_,
                threshold=thr,
                workers=1,
            )
            hit = {(f.ids[0], f.holdout_ids[0]) for f in res.findings}
            hit_rows = {f.ids[0] for f in res.findings}
            for rid, label in planted.labels[kind].items():
                if label["kind"] == "clean":
                    n_clean += 1
                    flagged_clean += rid in hit_rows
                else:
                    total[label["kind"]] += 1
                    found[label["kind"]] += (rid, label["holdout_id"]) in hit
        rec = ", ".join(f"{k} {found[k] / total[k]:.3f}" for k in KINDS)
        print(f"  k={k} {bands}x{rows_} t={thr}: {rec}; clean flagged {flagged_clean}/{n_clean}")
    print(json.dumps({"python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
