"""The batch normalisation and hashing of the leakage scan equal the text-by-text reference.

``hash_texts`` normalises a whole batch of texts at once (ASCII texts with one translation
table, the others joined by NUL, put in NFKC and case-folded together); ``hash_words`` over
``normal_form`` of each text is the reference path. Findings depend only on these hashes, so equal
hashes mean equal findings.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.leakage import minhash
from harness.leakage.tokens import hash_texts, hash_words, normal_batch, normal_form, normal_words

# Letters, digits, ASCII punctuation and spacing, and characters that NFKC or case folding change
# (ligatures, full-width letters, the long s, German sharp s, Turkish dotted I, superscripts,
# combining marks, curly quotes, dashes, NUL and other controls).
_ALPHABET = st.sampled_from(
    list("abcXYZ019 _-.,;:'\"!?\n\t\r") + list("ﬁＡｂſßİ²¼é\u0301’“”—…\u00a0\x00\x7f") + ["Ω", "Ǆ", "ǅ"]
)
_TEXT = st.text(alphabet=_ALPHABET, max_size=40)


def _reference(texts: list[str]):
    return hash_words([normal_form(t) for t in texts])


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=12))
def test_batch_hashes_equal_the_reference(texts):
    fast, ref = hash_texts(texts), _reference(texts)
    assert np.array_equal(fast.hashes, ref.hashes)
    assert np.array_equal(fast.doc, ref.doc)
    assert np.array_equal(fast.offsets, ref.offsets)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=12))
def test_batch_words_equal_normal_words(texts):
    parts = normal_batch(texts).split("\n")
    assert [p.split() for p in parts] == [normal_words(t) for t in texts]


def test_ascii_and_unicode_texts_mixed():
    texts = ["The QUICK, brown fox!", "Straße’s ﬁne", "", "a\x00b", "x\ny"]
    assert [p.split() for p in normal_batch(texts).split("\n")] == [normal_words(t) for t in texts]
    texts = ["The QUICK, brown fox!", "Straße’s ﬁne", "", "x\ny", "naïve café"]
    assert [p.split() for p in normal_batch(texts).split("\n")] == [
        ["the", "quick", "brown", "fox"], ["strasse", "s", "fine"], [], ["x", "y"], ["naïve", "café"]
    ]


# ---------------------------------------------------------------------------- MinHash densification
# The previous implementation (block of 8 probes over the whole bins x texts grid), kept as the
# reference: the new one follows only the empty cells and must fill every bin the same way.
_BLOCK = 8
_LOWEST_BIT = np.array([(v & -v).bit_length() - 1 if v else 0 for v in range(256)], dtype=np.intp)


def _densify_reference(sig: np.ndarray, num_perm: int) -> np.ndarray:
    """Fill empty bins: bin ``j`` takes the value of the first non-empty bin of its probe sequence."""
    empty = sig == minhash.EMPTY
    need = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if need.size == 0:
        return sig
    probes = minhash._PROBE_CACHE.get(num_perm)
    if probes is None:
        probes = minhash._PROBE_CACHE[num_perm] = minhash._probes(num_perm)
    # Bins x texts layout: following a probe is then a gather of whole rows.
    s = np.ascontiguousarray(sig[need].T)
    e = s == minhash.EMPTY
    n = need.size
    # The first 8 probes of every bin at once: bit a of ``hits`` says probe a lands on a non-empty
    # bin; the lowest set bit is the probe to take.
    hits = np.zeros(e.shape, dtype=np.uint8)
    for a in range(_BLOCK - 1, -1, -1):
        hits <<= 1
        hits |= ~e[probes[a]]
    first = _LOWEST_BIT.take(hits)
    src = probes[:_BLOCK].T[np.arange(num_perm)[:, None], first]
    fill = e & (hits != 0)
    cols = np.broadcast_to(np.arange(n), e.shape)
    o = s.copy()
    o[fill] = s.ravel().take(src[fill] * n + cols[fill])
    bins, rows = np.nonzero(e & ~fill)
    for attempt in range(_BLOCK, minhash._MAX_PROBES):  # the rare cells still empty: probe on, one step at a time
        if rows.size == 0:
            break
        src1 = probes[attempt, bins]
        found = ~e[src1, rows]
        o[bins[found], rows[found]] = s[src1[found], rows[found]]
        rows, bins = rows[~found], bins[~found]
    for shift in range(1, num_perm):  # very sparse sets: the next non-empty bin to the right
        if rows.size == 0:
            break
        src1 = (bins + shift) % num_perm
        found = ~e[src1, rows]
        o[bins[found], rows[found]] = s[src1[found], rows[found]]
        rows, bins = rows[~found], bins[~found]
    out = sig.copy()
    out[need] = o.T
    return out


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 40),
    st.sampled_from([16, 64, 128]),
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_densify_equals_the_reference(n_texts, num_perm, fill, seed):
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32, size=(n_texts, num_perm), dtype=np.uint64)
    sig[rng.random(sig.shape) >= fill] = minhash.EMPTY  # from all empty to all full
    sig[rng.random(n_texts) < 0.2] = minhash.EMPTY  # some texts without shingles
    assert np.array_equal(minhash._densify(sig.copy(), num_perm), _densify_reference(sig.copy(), num_perm))


def test_signatures_of_real_batches_equal_the_reference():
    texts = [" ".join(f"w{(i * 7 + j * 13) % 97}" for j in range(i % 60)) for i in range(300)]
    batch = hash_texts(texts)
    sh, start = minhash.shingle_hashes(batch.hashes, batch.doc, 2)
    doc = batch.doc[start]
    raw = np.full(len(texts) * 128, minhash.EMPTY, dtype=np.uint64)
    bins = ((sh >> np.uint64(32)) * np.uint64(128)) >> np.uint64(32)
    np.minimum.at(raw, doc.astype(np.int64) * 128 + bins.astype(np.int64), sh & np.uint64(0xFFFFFFFF))
    expect = _densify_reference(raw.reshape(len(texts), 128), 128)
    assert np.array_equal(minhash.signatures(sh, doc, len(texts), num_perm=128), expect)
