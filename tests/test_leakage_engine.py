"""The leakage engine against independent implementations: hashing, n-gram containment, MinHash, LSH."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.leakage.chunk import scan_texts
from harness.leakage.holdout import HoldoutItem
from harness.leakage.index import build_index, template_cover
from harness.leakage.minhash import band_keys, candidate_probability, pair_similarity, signatures
from harness.leakage.options import LeakageOptions, make_options
from harness.leakage.tokens import (
    hash_words,
    key_filter,
    lookup,
    mix64,
    ngram_hashes,
    normal_form,
    normal_words,
    text_hashes,
)

WORDS = ["alpha", "beta", "gamma", "delta", "eps"]


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


def test_normalisation_folds_case_width_and_punctuation():
    assert normal_words("Straße, ＦＵＬＬ-width!  It’s") == ["strasse", "full", "width", "it", "s"]
    assert normal_form("  A\tb\n\nC.  ") == "a b c"


def test_word_hashes_equal_iff_words_equal():
    vocab = sorted(set(_words(Path(re.__file__).read_text(encoding="utf-8"))))
    batch = hash_words([" ".join(vocab), " ".join(reversed(vocab))])
    first = batch.hashes[: len(vocab)]
    assert np.unique(first).size == len(vocab)  # no collision among distinct words
    assert np.array_equal(first, batch.hashes[len(vocab) :][::-1])
    assert batch.offsets.tolist() == [0, len(vocab), 2 * len(vocab)]


def test_word_hashes_are_stable_across_batches_and_unicode():
    a = hash_words(["naïve café déjà vu"]).hashes
    b = hash_words(["x", "", "naïve café déjà vu"]).hashes[1:]
    assert np.array_equal(a, b)
    assert hash_words([]).offsets.tolist() == [0]
    assert hash_words(["", ""]).offsets.tolist() == [0, 0, 0]


@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=12), min_size=1, max_size=6), st.integers(1, 5))
@settings(max_examples=60, deadline=None)
def test_ngrams_never_cross_texts_and_match_a_python_reference(texts, n):
    batch = hash_words([" ".join(t) for t in texts])
    h, start = ngram_hashes(batch, n)
    expected = [(d, i) for d, t in enumerate(texts) for i in range(len(t) - n + 1)]
    got = [(int(batch.doc[s]), int(s - batch.offsets[batch.doc[s]])) for s in start]
    assert got == expected
    grams = [tuple(t[i : i + n]) for t in texts for i in range(len(t) - n + 1)]
    for i in range(len(grams)):
        for j in range(len(grams)):
            assert (h[i] == h[j]) == (grams[i] == grams[j])


@given(st.lists(st.integers(0, 20), max_size=30), st.lists(st.integers(0, 25), max_size=30))
def test_lookup_returns_every_match(keys, queries):
    k = np.sort(np.array(keys, dtype=np.uint64))
    q = np.array(queries, dtype=np.uint64)
    qi, ki = lookup(k, q)
    got = sorted(zip(qi.tolist(), ki.tolist(), strict=True))
    want = sorted((i, j) for i, x in enumerate(queries) for j, y in enumerate(k.tolist()) if x == y)
    assert got == want


@given(st.integers(0, 70_000), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_lookup_through_a_filter_of_any_size_finds_the_same_matches(n_keys, seed):
    """The filter's size follows the key count (2**12 to 2**22 entries); it only ever drops non-matches."""
    rng = np.random.default_rng(seed)
    keys = mix64(rng.integers(0, 2**40, size=n_keys, dtype=np.uint64))
    keys.sort()
    queries = np.concatenate([keys[rng.integers(0, max(1, n_keys), size=min(n_keys, 500))],
                              mix64(rng.integers(2**40, 2**41, size=5000, dtype=np.uint64))])  # fmt: skip
    bitmap = key_filter(keys)
    entries = bitmap.size * 8 if bitmap.dtype == np.uint8 else bitmap.size  # large filters: 8 to a byte
    assert 2**12 <= entries <= 2**22 and entries >= min(2**22, 64 * n_keys)
    assert (bitmap.dtype == np.uint8) == (entries > 2**16)
    got, want = lookup(keys, queries, bitmap), lookup(keys, queries)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_text_hash_is_the_normal_form():
    h = text_hashes(hash_words([normal_form("Hello, World!"), "hello world", "world hello", "hello"]))
    assert h[0] == h[1] and len({int(h[1]), int(h[2]), int(h[3])}) == 3


# ---------------------------------------------------------------------------- n-gram containment
def _index(texts: list[str], **opts) -> tuple:
    options = LeakageOptions(paraphrase=False, min_words=1, **opts)
    items = [HoldoutItem(id=f"h{i}", texts={"prompt": t}, source="x", line=i + 1) for i, t in enumerate(texts)]
    return build_index([("h", items)], options), options


def _reference_containment(train: list[str], hold: list[str], n: int) -> tuple[float, int]:
    """Share of the holdout's n-gram positions found in the train text, and the longest common word run."""
    tgrams = {tuple(train[i : i + n]) for i in range(len(train) - n + 1)}
    positions = [tuple(hold[i : i + n]) for i in range(len(hold) - n + 1)]
    frac = sum(g in tgrams for g in positions) / len(positions) if positions else 0.0
    best = 0
    for i in range(len(train)):
        for j in range(len(hold)):
            k = 0
            while i + k < len(train) and j + k < len(hold) and train[i + k] == hold[j + k]:
                k += 1
            best = max(best, k)
    return frac, best


@given(
    st.lists(st.lists(st.sampled_from(WORDS[:3]), min_size=0, max_size=25), min_size=1, max_size=4),
    st.lists(st.sampled_from(WORDS[:3]), max_size=25),
    st.integers(2, 5),
)
@settings(max_examples=80, deadline=None)
def test_ngram_containment_and_longest_span_match_brute_force(holds, train, n):
    texts = [" ".join(h) for h in holds]
    index, opts = _index(texts, n=n, template_min_items=99)
    hits = scan_texts(index, [" ".join(train)], np.zeros(1, dtype=np.int64), 1, opts, within=False)
    got = {int(r[1]): r for r in hits.ngram}
    for t, hold in enumerate(holds):
        frac, longest = _reference_containment(train, hold, n)
        if frac == 0:
            assert t not in got
            continue
        row = got[t]
        assert row[2] / index.ngram_total[t] == pytest.approx(frac)
        assert row[5] - row[4] == longest and row[7] - row[6] == longest
        # the reported spans hold the same words
        assert train[row[4] : row[5]] == hold[row[6] : row[7]]


def test_template_words_are_left_out_of_ngrams():
    template = "please read the passage below and answer the question about it in one sentence"
    holds = [f"{template} passage {i}: " + " ".join(f"w{i}x{j}" for j in range(20)) for i in range(4)]
    index, opts = _index(holds)
    assert index.template.size > 0
    clean = f"{template} passage 9: " + " ".join(f"other{j}" for j in range(20))
    leak = holds[2]
    hits = scan_texts(index, [clean, leak], np.array([0, 1]), 2, opts, within=False)
    assert {int(d) for d in hits.ngram[:, 0]} == {1}
    assert {int(d) for d in hits.exact_doc} == {1}


@given(
    st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=14), min_size=3, max_size=6),
    st.lists(st.lists(st.sampled_from(WORDS), max_size=30), min_size=1, max_size=5),
    st.integers(2, 4),
)
@settings(max_examples=120, deadline=None)
def test_template_cover_through_the_filter_equals_the_full_search(holds, train, n):
    """``HoldoutIndex.cover`` looks positions up through the small template filter; the same words."""
    index, _ = _index([" ".join(h) for h in holds], template_n=n, template_min_items=2, template_min_share=0.0)
    batch = hash_words([" ".join(t) for t in train])
    expect = template_cover(batch, index.template, n)
    assert np.array_equal(index.cover(batch), expect)


def _whole_batch_reference(index, texts, opts):
    """n-gram rows and near-duplicate pairs with every text's template words removed up front."""
    from harness.leakage.chunk import ChunkHits, _ngram_pairs
    from harness.leakage.index import compress
    from harness.leakage.minhash import shingle_hashes
    from harness.leakage.tokens import hash_texts

    batch = hash_texts(texts)
    content, kept = compress(batch, template_cover(batch, index.template, opts.template_n))
    rows = _ngram_pairs(index, batch, content, kept, opts.n)
    sh, text = shingle_hashes(content.hashes, content.offsets, opts.shingle)
    sig = signatures(sh, text, len(texts), num_perm=opts.num_perm)
    return rows, sig, ChunkHits


@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3), st.lists(st.sampled_from(WORDS), max_size=20)),
                min_size=1, max_size=8))  # fmt: skip
@settings(max_examples=80, deadline=None)
def test_texts_with_templates_scanned_apart_give_the_whole_batch_results(rows):
    """Texts holding a template are re-scanned without it, the others as they are: the same n-gram
    rows and the same MinHash signatures as removing template words from every text first."""
    import harness.leakage.chunk as chunk

    template = "please read the passage below and answer the question about it"
    holds = [f"{template} " + " ".join(f"w{i}x{j}" for j in range(14)) for i in range(4)]
    index, opts = _index(holds, n=4)
    texts = []
    for with_template, h, words in rows:
        body = " ".join(holds[h].split()[len(template.split()) : len(template.split()) + 8] + words)
        texts.append(f"{template} {body}" if with_template else body)
    seen = []  # the signatures the LSH bands are made of
    original = chunk.band_keys
    chunk.band_keys = lambda sig, *a: seen.append(sig.copy()) or original(sig, *a)
    try:
        hits = scan_texts(index, texts, np.arange(len(texts)), len(texts), opts, within=False)
    finally:
        chunk.band_keys = original
    want, sig, _ = _whole_batch_reference(index, texts, opts)
    assert hits.ngram.shape[0] > 0 and np.array_equal(hits.ngram, want)
    assert len(seen) == 1 and np.array_equal(seen[0], sig)


# ---------------------------------------------------------------------------- MinHash and LSH
def _pair(rng: np.random.Generator, m: int, shared: int) -> tuple[np.ndarray, np.ndarray]:
    a = rng.integers(0, 2**62, size=m, dtype=np.uint64)
    b = np.concatenate([a[:shared], rng.integers(0, 2**62, size=m - shared, dtype=np.uint64)])
    return a, b


def test_minhash_estimates_jaccard_as_well_as_datasketch():
    datasketch = pytest.importorskip("datasketch")
    rng = np.random.default_rng(1)
    ours, theirs = [], []
    for _ in range(150):
        m = int(rng.integers(5, 200))
        shared = int(rng.integers(0, m + 1))
        a, b = _pair(rng, m, shared)
        exact = shared / (2 * m - shared)
        sig = signatures(mix64(np.concatenate([a, b])), np.repeat([0, 1], m), 2, num_perm=128)
        ours.append(pair_similarity(sig[:1], sig[1:])[0] - exact)
        ma, mb = datasketch.MinHash(num_perm=128), datasketch.MinHash(num_perm=128)
        ma.update_batch([x.tobytes() for x in a])
        mb.update_batch([x.tobytes() for x in b])
        theirs.append(ma.jaccard(mb) - exact)
    ours_a, theirs_a = np.array(ours), np.array(theirs)
    assert abs(ours_a.mean()) < 0.01  # unbiased
    assert np.sqrt((ours_a**2).mean()) < 1.25 * np.sqrt((theirs_a**2).mean()) + 0.005


def test_minhash_identical_disjoint_and_empty_sets():
    x = mix64(np.arange(50, dtype=np.uint64))
    y = mix64(np.arange(1000, 1050, dtype=np.uint64))
    sig = signatures(np.concatenate([x, x, y]), np.repeat([0, 1, 2], 50), 4, num_perm=64)
    assert pair_similarity(sig[[0, 0, 0]], sig[[1, 2, 3]]).tolist() == [1.0, 0.0, 0.0]
    # the bins x texts layout (one column a text) gives the same, text 3 (no shingles) included
    assert pair_similarity(sig.T[:, [0, 0, 0]], sig.T[:, [1, 2, 3]], axis=0).tolist() == [1.0, 0.0, 0.0]
    z = mix64(np.arange(25, 75, dtype=np.uint64))  # Jaccard 25/75 with x
    half = signatures(np.concatenate([x, z]), np.repeat([0, 1], 50), 2, num_perm=256)
    rows = pair_similarity(half[:1], half[1:])
    assert pair_similarity(half.T[:, :1], half.T[:, 1:], axis=0).tolist() == rows.tolist()
    assert 0.2 < rows[0] < 0.5


@pytest.mark.parametrize(("bands", "rows", "s"), [(42, 3, 0.4), (32, 4, 0.5), (16, 8, 0.8)])
def test_lsh_candidate_rate_follows_the_s_curve(bands, rows, s):
    rng = np.random.default_rng(bands)
    trials, m = 400, 60
    shared = round(2 * m * s / (1 + s))  # Jaccard shared / (2m - shared) = s
    hits = 0
    for _ in range(trials):
        a, b = _pair(rng, m, shared)
        sig = signatures(mix64(np.concatenate([a, b])), np.repeat([0, 1], m), 2, num_perm=128)
        keys = band_keys(sig, bands, rows)
        hits += bool((keys[0] == keys[1]).any())
    expected = candidate_probability(shared / (2 * m - shared), bands, rows)
    assert abs(hits / trials - expected) < 4 * np.sqrt(expected * (1 - expected) / trials) + 0.02


def test_options_are_validated_with_the_project_message_shape():
    with pytest.raises(ValueError, match="Did you mean 'threshold'"):
        make_options(treshold=0.3)
    with pytest.raises(ValueError, match="bands x rows"):
        make_options(bands=64, rows=4)
    with pytest.raises(ValueError, match="threshold"):
        make_options(threshold=1.5)
