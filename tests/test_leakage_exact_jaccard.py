"""Near-duplicate leaks are decided by the exact Jaccard similarity of the pair's shingle sets.

LSH banding over MinHash signatures finds the candidate pairs; a candidate whose MinHash estimate is
at least ``VERIFY_FROM`` x the threshold then has its exact Jaccard similarity computed from the
two texts' distinct word shingles, and that decides the finding and is the similarity it reports.
Checked here against Python sets, end to end against word 2-grams taken with the regular
expression of the reference normalisation, and the screen's cost in recall by simulation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.leakage import scan_leakage
from harness.leakage.chunk import VERIFY_FROM
from harness.leakage.minhash import candidate_probability, set_jaccard, shingle_sets, signatures, similarity
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import mix64

_SETS = st.lists(st.lists(st.integers(0, 30), max_size=25), min_size=1, max_size=8)


def _flat(groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    vals = np.array([v for g in groups for v in g], dtype=np.uint64)
    group = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
    return vals, group


@settings(max_examples=200, deadline=None)
@given(_SETS, st.data())
def test_shingle_sets_are_each_groups_distinct_values_sorted(groups, data):
    vals, group = _flat(groups)
    asked = np.array(data.draw(st.lists(st.integers(0, len(groups) + 2), max_size=6)), dtype=np.int64)
    got, off = shingle_sets(vals, group, asked)
    assert off.tolist()[0] == 0 and off.size == asked.size + 1
    for i, g in enumerate(asked.tolist()):
        want = sorted(set(groups[g])) if g < len(groups) else []
        assert got[off[i] : off[i + 1]].tolist() == want


@settings(max_examples=200, deadline=None)
@given(_SETS, _SETS, st.data())
def test_set_jaccard_equals_python_sets(left, right, data):
    a = shingle_sets(*_flat(left), np.arange(len(left)))
    b = shingle_sets(*_flat(right), np.arange(len(right)))
    pairs = data.draw(st.lists(st.tuples(st.integers(0, len(left) - 1), st.integers(0, len(right) - 1)), max_size=10))
    ra = np.array([p[0] for p in pairs], dtype=np.int64)
    rb = np.array([p[1] for p in pairs], dtype=np.int64)
    got = set_jaccard(a, ra, b, rb)
    for k, (i, j) in enumerate(pairs):
        x, y = set(left[i]), set(right[j])
        assert got[k] == (len(x & y) / len(x | y) if x | y else 0.0)


def _bigrams(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())
    return set(pairwise(words))


def test_findings_report_the_exact_jaccard_of_word_bigrams(tmp_path):
    """Holdout texts and training texts that share a varying part of their words: every flagged
    pair's similarity is the exact Jaccard of the two texts' word-bigram sets (no templates here),
    every pair at or above the threshold that LSH makes a candidate is flagged, none below it."""
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(3000)]
    holdout, train, truth = [], [], {}
    for i in range(60):
        words = list(rng.choice(vocab, size=int(rng.integers(12, 60)), replace=False))
        holdout.append({"id": f"h{i}", "prompt": " ".join(words)})
        copy = [w if rng.random() > i / 80 else str(rng.choice(vocab)) + "z" for w in words]  # 0 to 74% changed
        train.append({"id": f"t{i}", "prompt": " ".join(copy).upper() + "!", "completion": "ok"})
        truth[f"t{i}"] = len(_bigrams(" ".join(words)) & _bigrams(" ".join(copy))) / len(
            _bigrams(" ".join(words)) | _bigrams(" ".join(copy))
        )
    (tmp_path / "h.jsonl").write_text("".join(json.dumps(r) + "\n" for r in holdout))
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in train))
    result = scan_leakage(tmp_path / "t.jsonl", [tmp_path / "h.jsonl"], methods=("near_duplicate",), paraphrase=False)
    threshold = LeakageOptions().threshold
    flagged = {}
    for f in result.findings:
        if f.check == "leakage.near_duplicate":
            flagged[f.ids[0]] = (f.holdout_ids, f.data["evidence"])  # the method's numbers
    assert flagged, "the planted copies must be found"
    for rid, (hids, detail) in flagged.items():
        assert hids == ["h" + rid[1:]]
        assert detail["similarity"] == round(truth[rid], 4) and truth[rid] >= threshold
        assert detail["measure"] == "jaccard" and 0.0 <= detail["minhash_estimate"] <= 1.0
    above = [rid for rid, j in truth.items() if j >= threshold]
    # LSH misses a pair at the threshold with probability 6%, far less above it
    assert len(flagged) >= len(above) - 2 and set(flagged) <= set(above)


def test_the_estimate_screen_costs_far_less_recall_than_lsh():
    """Pairs at the threshold (Jaccard 0.4) of 10 to 400 shingles: the share whose MinHash estimate
    falls below VERIFY_FROM x threshold (never verified) against the share LSH misses (6.2%)."""
    opts = LeakageOptions()
    rng = np.random.default_rng(11)
    low = total = 0
    for union in (10, 20, 40, 100, 400):
        inter = round(opts.threshold * union)
        n_a = (union + inter) // 2
        for _ in range(400):
            pool = mix64(rng.integers(0, 2**62, size=union, dtype=np.uint64))
            a, b = pool[:n_a], np.concatenate([pool[:inter], pool[n_a:]])
            sig = signatures(np.concatenate([a, b]), np.repeat([0, 1], [a.size, b.size]), 2, num_perm=opts.num_perm)
            low += similarity(sig[0], sig[1]) < opts.threshold * VERIFY_FROM
            total += 1
    missed_by_lsh = 1 - candidate_probability(opts.threshold, opts.bands, opts.rows)
    assert missed_by_lsh > 0.05
    assert low / total <= 0.001
