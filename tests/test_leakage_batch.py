"""The batch normalisation and hashing of the leakage scan equal the text-by-text reference.

``hash_texts`` normalises a whole batch of texts at once (``fold_texts`` does the Unicode part for
the texts that are not ASCII, byte arithmetic the rest for all) and hashes every word from one byte
buffer; ``hash_words`` over ``normal_form`` of each text is the reference path, and a word's hash
is checked against a plain Python statement of its definition. Findings depend only on these
hashes, so equal hashes mean equal findings.
"""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.leakage import minhash
from harness.leakage.tokens import (
    SPACE_LIKE,
    constants,
    coverage,
    fold_texts,
    hash_texts,
    hash_words,
    normal_form,
    normal_words,
)

# Letters, digits, ASCII punctuation and spacing, and characters that NFKC or case folding change
# (ligatures, full-width letters, the long s, German sharp s, Turkish dotted I, superscripts,
# combining marks, curly quotes, dashes, NUL and other controls).
_ALPHABET = st.sampled_from(
    list("abcXYZ019 _-.,;:'\"!?\n\t\r")
    + list("ﬁＡｂſßİ²¼é\u0301\u0327’“”—…\u00a0\x00\x7f")
    + ["Ω", "Ǆ", "ǅ", "«", "»", "•", "\u2212", "\u2013", "\u2018", "\u1100", "\u1161"]
)
_TEXT = st.text(alphabet=_ALPHABET, max_size=40)


def _reference(texts: list[str]):
    return hash_words([normal_form(t) for t in texts])


def _mix64(h: int) -> int:
    mask = (1 << 64) - 1
    h ^= h >> 30
    h = (h * 0xBF58476D1CE4E5B9) & mask
    h ^= h >> 27
    h = (h * 0x94D049BB133111EB) & mask
    return h ^ (h >> 31)


_BLOCK_WEIGHTS = [int(c) for c in constants(4, seed=29)]


def _word_hash(word: str) -> int:
    """A word's hash as defined: its UTF-8 bytes as little-endian 8-byte blocks, the first, plus the
    last 8 bytes and the whole blocks at 8 and 16 that end before the last byte times fixed odd
    weights (BLAKE2b beyond 32 bytes), xor its length times the golden ratio, splitmix64."""
    data, mask = word.encode("utf-8"), (1 << 64) - 1
    size = len(data)
    if size > 32:
        h = int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")
    else:
        h = int.from_bytes(data[:8], "little")
        if size > 8:
            h += int.from_bytes(data[-8:], "little") * _BLOCK_WEIGHTS[1]
        for k, at in enumerate((8, 16), start=2):
            if at + 8 < size:
                h += int.from_bytes(data[at : at + 8], "little") * _BLOCK_WEIGHTS[k]
    return _mix64((h & mask) ^ ((len(data) * 0x9E3779B97F4A7C15) & mask))


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=12))
def test_batch_hashes_equal_the_reference(texts):
    fast, ref = hash_texts(texts), _reference(texts)
    assert np.array_equal(fast.hashes, ref.hashes)
    assert np.array_equal(fast.doc, ref.doc)
    assert np.array_equal(fast.offsets, ref.offsets)
    words = [w for t in texts for w in normal_words(t)]
    assert fast.hashes.tolist() == [_word_hash(w) for w in words]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="abzAZ09_éßﬁ\u4e00", min_size=1, max_size=80), min_size=1, max_size=8))
def test_words_of_every_length_hash_as_defined(words):
    """Words across the 8-byte block edges and past 32 bytes (the BLAKE2b path), ASCII or not."""
    text = " ".join(words)
    got = hash_texts(["x", text]).hashes[1:]
    assert got.tolist() == [_word_hash(w) for w in normal_words(text)]


def test_words_that_differ_in_one_byte_or_in_length_hash_apart():
    words = [c * k for k in range(1, 70) for c in "ab"] + ["a" * (k - 1) + "b" for k in range(1, 70)]
    words += ["a" * k + "_" for k in range(70)] + ["é" * k for k in range(1, 40)]
    words = sorted(set(words))
    h = hash_words([" ".join(words)]).hashes
    assert h.size == len(words) and np.unique(h).size == len(words)


def _byte_words(folded: str) -> list[str]:
    """The words ``hash_texts`` reads in a folded text: runs of ASCII letters, digits, "_" and
    non-ASCII bytes, lower-cased."""
    return [w.decode().lower() for w in re.findall(rb"[A-Za-z0-9_\x80-\xff]+", folded.encode())]


@settings(max_examples=300, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=12))
def test_folded_words_equal_normal_words(texts):
    assert [_byte_words(p) for p in fold_texts(texts)] == [normal_words(t) for t in texts]


def test_ascii_and_unicode_texts_mixed():
    texts = ["The QUICK, brown fox!", "Straße’s ﬁne", "", "a\x00b", "x\ny", "naïve café"]
    assert [_byte_words(p) for p in fold_texts(texts)] == [
        ["the", "quick", "brown", "fox"], ["strasse", "s", "fine"], [], ["a", "b"], ["x", "y"], ["naïve", "café"]
    ]
    assert fold_texts(texts[:1]) == texts[:1]  # ASCII texts are left to the byte rule of hash_texts


def test_space_like_punctuation_composes_with_nothing():
    """Making these characters spaces before NFKC cannot change a text's words (see tokens.SPACE_LIKE)."""
    in_decomposition = set()
    for cp in range(sys.maxunicode + 1):
        d = unicodedata.decomposition(chr(cp))
        if d and not d.startswith("<"):  # canonical decompositions: what composition can rebuild
            in_decomposition.update(chr(int(x, 16)) for x in d.split())
    for c in SPACE_LIKE:
        assert unicodedata.combining(c) == 0
        assert not re.search(r"\w", unicodedata.normalize("NFKC", c).casefold())
        for part in unicodedata.normalize("NFKC", c) + " ":
            assert part not in in_decomposition and unicodedata.combining(part) == 0


# ---------------------------------------------------------------------------- MinHash densification
# An earlier implementation (block of 8 probes over the whole bins x texts grid, then one probe at a
# time), kept as the reference: the current one reads the first 8 probes through a table and
# follows later probes 8 at a time, and must fill every bin the same way.
_BLOCK = 8
_LOWEST_BIT = np.array([(v & -v).bit_length() - 1 if v else 0 for v in range(256)], dtype=np.intp)


def _densify_reference(sig: np.ndarray, num_perm: int) -> np.ndarray:
    """Fill empty bins: bin ``j`` takes the value of the first non-empty bin of its probe sequence."""
    empty = sig == minhash.EMPTY
    need = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if need.size == 0:
        return sig
    probes = minhash._probes(num_perm)
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
    st.sampled_from([12, 16, 64, 128]),  # 12 x an odd number of texts: cells not a multiple of 8
    st.floats(0.0, 1.0),
    st.integers(0, 2**32 - 1),
)
def test_densify_equals_the_reference(n_texts, num_perm, fill, seed):
    rng = np.random.default_rng(seed)
    sig = rng.integers(0, 2**32, size=(n_texts, num_perm), dtype=np.uint64)
    sig[rng.random(sig.shape) >= fill] = minhash.EMPTY  # from all empty to all full
    sig[rng.random(n_texts) < 0.2] = minhash.EMPTY  # some texts without shingles
    got = minhash._densify(np.ascontiguousarray(sig.T), num_perm).T  # bins x texts in, bins x texts out
    assert np.array_equal(got, _densify_reference(sig.copy(), num_perm))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=12), st.integers(1, 5))
def test_shingles_stay_inside_their_text(lengths, k):
    """Each text's shingles are its own k consecutive words, hashed as defined, none across texts."""
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    words = np.arange(1, int(offsets[-1]) + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    got, text = minhash.shingle_hashes(words, offsets, k)
    coef = [int(c) for c in minhash._SHINGLE_C[:k]]
    expect, owner = [], []
    for i, (lo, hi) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)):
        for t in range(lo, hi - k + 1):
            acc = sum(int(words[t + j]) * coef[j] for j in range(k)) & ((1 << 64) - 1)
            expect.append(_mix64(acc ^ k))
            owner.append(i)
    assert got.tolist() == expect and text.tolist() == owner


def test_signatures_of_real_batches_equal_the_reference():
    texts = [" ".join(f"w{(i * 7 + j * 13) % 97}" for j in range(i % 60)) for i in range(300)]
    batch = hash_texts(texts)
    sh, doc = minhash.shingle_hashes(batch.hashes, batch.offsets, 2)
    raw = np.full(len(texts) * 128, minhash.EMPTY, dtype=np.uint64)
    bins = ((sh >> np.uint64(32)) * np.uint64(128)) >> np.uint64(32)
    np.minimum.at(raw, doc.astype(np.int64) * 128 + bins.astype(np.int64), sh & np.uint64(0xFFFFFFFF))
    expect = _densify_reference(raw.reshape(len(texts), 128), 128)
    assert np.array_equal(minhash.signatures(sh, doc, len(texts), num_perm=128), expect)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 7), min_size=1, max_size=12), st.integers(1, 9), st.randoms(use_true_random=False))
def test_block_rows_read_as_the_joined_array(sizes, rows, rnd):
    """Within-file near duplicates read the store's chunks in blocks: rows and columns as a join gives."""
    from harness.leakage.result import BlockRows, _blocks

    rng = np.random.default_rng(rnd.randrange(1 << 30))
    parts = [rng.integers(0, 255, size=(n, 3), dtype=np.uint8) for n in sizes]
    whole = np.concatenate(parts)
    blocks = BlockRows(_blocks(list(parts), rows=rows))
    assert sum(map(len, blocks.blocks)) == len(whole)
    assert all(len(b) >= rows for b in blocks.blocks[:-1])
    idx = rng.integers(0, len(whole), size=20) if len(whole) else np.zeros(0, dtype=np.int64)
    assert np.array_equal(blocks.take(idx), whole[idx])
    assert all(np.array_equal(blocks.column(c), whole[:, c]) for c in range(3))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 300), st.integers(1, 14), st.lists(st.integers(0, 299), max_size=40))
def test_coverage_equals_the_windows_set_one_by_one(size, width, starts):
    """Both ways of marking the words under windows (few windows set directly, many by a running
    sum of window starts and ends) mark exactly the words of every window, clipped at the end."""
    at = np.array([s for s in starts if s < size], dtype=np.int64)
    want = np.zeros(size, dtype=bool)
    for s in at.tolist():
        want[s : s + width] = True
    assert np.array_equal(coverage(at, width, size), want)
