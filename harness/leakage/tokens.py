"""Word normalisation and vectorised 64-bit hashing of words, n-grams and whole texts.

Every leakage method sees text the same way: Unicode NFKC, case-folded, split into word
characters (``\\w+``), so punctuation, case and spacing never hide a copy. Hashing is done on a
whole batch of texts at once with numpy (no per-word Python work, but for the rare word longer
than 32 bytes): the batch becomes one byte buffer, each word a 64-bit hash of its bytes, an
n-gram a polynomial of its words' hashes, so lookups against a holdout index are sorted-array
searches.

Example:
    >>> normal_words("Hello,   WORLD! It's")
    ['hello', 'world', 'it', 's']
    >>> b = hash_texts(["A b, c!", "", "a B"])
    >>> b.offsets.tolist(), bool(b.hashes[0] == b.hashes[3])
    ([0, 3, 3, 5], True)
"""

from __future__ import annotations

import re
import unicodedata
from hashlib import blake2b
from itertools import compress
from operator import not_

import numpy as np

from harness.arrays import run_positions

_WORD = re.compile(r"\w+")
_NON_ASCII = re.compile(r"[^\0-\x7f]")
# For ASCII text, \w is [A-Za-z0-9_]: every other ASCII character separates words.
_ASCII_SEP = str.maketrans({chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")})
U64 = np.uint64
U8 = np.uint8
MASK64 = (1 << 64) - 1
_BASE = 0x100000001B3  # FNV-1a 64-bit prime: odd, so its powers never vanish mod 2**64
_GOLD = U64(0x9E3779B97F4A7C15)
WORD_BLOCKS = 4  # words of up to 4 x 8 bytes are hashed with array operations, longer ones by BLAKE2b


# Punctuation common in English text that can be made a space before NFKC without changing any
# text's words: not a word character, nor anything in its NFKC form; canonical combining class 0;
# in no canonical decomposition, so it composes with nothing (tests/test_leakage_batch.py checks).
SPACE_LIKE = "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0\u00ab\u00bb\u2022\u2212"


def normal_words(text: str) -> list[str]:
    """The words of a text after NFKC and case folding; punctuation and spacing dropped.

    >>> normal_words("Re-cased,  re-SPACED.")
    ['re', 'cased', 're', 'spaced']
    """
    if text.isascii():  # the same words as the regular expression, several times faster
        return text.lower().translate(_ASCII_SEP).split()
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def normal_form(text: str) -> str:
    """The normalised words joined by single spaces (what exact matching compares).

    >>> normal_form("  The QUICK, brown fox!")
    'the quick brown fox'
    """
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_SEP).split())
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def word_spans(text: str) -> list[tuple[int, int]] | None:
    """Character spans of each normalised word in the original text, or None if they do not line up.

    NFKC or case folding can change a word's length or split it (``"ﬁ"`` stays one word, but
    ``"¼"`` becomes three characters); the spans are only returned when the words found in the
    original text normalise one to one to :func:`normal_words`.
    """
    if text.isascii():  # ASCII words are their own normal forms, lower-cased
        return [m.span() for m in _WORD.finditer(text)]
    spans, words = [], []
    for m in _WORD.finditer(text):
        spans.append((m.start(), m.end()))
        words.append(unicodedata.normalize("NFKC", m.group()).casefold())
    return spans if words == normal_words(text) else None


def fold_texts(texts: list[str]) -> list[str]:
    r"""The texts with the Unicode part of normalisation done; :func:`hash_texts` does the rest on bytes.

    ASCII texts are returned as they are. The others lose the punctuation of :data:`SPACE_LIKE`
    (str.replace, C speed); those still not ASCII are joined, put in NFKC and case-folded in one
    call each (NUL, which joins them, is a starter that NFKC neither composes nor reorders) and
    their few distinct non-word characters (``\w`` as the regular expression reads it) made spaces.
    One that holds NUL itself is replaced by its :func:`normal_form`.

    Example:
        >>> fold_texts(["Hello, World", "Straße’s ﬁne"])
        ['Hello, World', 'strasse s fine']
    """
    return _fold(texts)[0]


def _fold(texts: list[str]) -> tuple[list[str], list[int]]:
    """:func:`fold_texts`, and the index of each text that was not ASCII (the only ones whose UTF-8
    length may differ from their length in characters)."""
    wide = _non_ascii(texts)
    if not wide:
        return texts, []
    out = list(texts)
    todo = wide
    joined = "\0".join([texts[i] for i in todo])
    if joined.count("\0") != len(todo) - 1:  # rare: a text holds NUL itself
        for i in [i for i in todo if "\0" in texts[i]]:
            out[i] = normal_form(texts[i])
        todo = [i for i in todo if "\0" not in texts[i]]
        if not todo:
            return out, wide
        joined = "\0".join([texts[i] for i in todo])
    for c in SPACE_LIKE:
        if c in joined:
            joined = joined.replace(c, " ")
    if not joined.isascii():
        joined = _fold_unicode(joined)
    for i, t in zip(todo, joined.split("\0"), strict=True):
        out[i] = t
    return out, wide


def _non_ascii(texts: list[str]) -> list[int]:
    """The index of each text that is not ASCII."""
    wide = list(map(str.isascii, texts))  # C loops: a third of the time of a comprehension
    return list(compress(range(len(texts)), map(not_, wide))) if not all(wide) else []


def _utf8_lengths(texts: list[str], wide: list[int] | None = None) -> np.ndarray:
    """The UTF-8 length of each text: its length in characters, but for the texts listed in
    ``wide`` (None: those not ASCII), which are encoded to count."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    for i in _non_ascii(texts) if wide is None else wide:
        lengths[i] = len(texts[i].encode("utf-8"))
    return lengths


def _fold_unicode(joined: str) -> str:
    if not unicodedata.is_normalized("NFKC", joined):
        joined = unicodedata.normalize("NFKC", joined)
    folded = joined.casefold()
    for c in set(_NON_ASCII.findall(folded)):  # the few distinct characters: str.replace is C speed
        if not _WORD.fullmatch(c):
            folded = folded.replace(c, " ")
    return folded


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective mix of 64-bit values (array in, new array out)."""
    return mix64_inplace(np.array(x, dtype=np.uint64))


def mix64_inplace(x: np.ndarray) -> np.ndarray:
    """:func:`mix64` of a uint64 array, written over it (one scratch array, not four: these run
    over every word and every shingle of a batch)."""
    tmp = np.right_shift(x, U64(30))
    x ^= tmp
    x *= U64(0xBF58476D1CE4E5B9)
    np.right_shift(x, U64(27), out=tmp)
    x ^= tmp
    x *= U64(0x94D049BB133111EB)
    np.right_shift(x, U64(31), out=tmp)
    x ^= tmp
    return x


def constants(n: int, seed: int) -> np.ndarray:
    """``n`` fixed pseudo-random odd 64-bit constants (deterministic across processes and runs)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**63, size=n, dtype=np.uint64) * U64(2) + U64(1)


_BLOCK_C = constants(WORD_BLOCKS, seed=29)  # the block weights of a word's hash (the first is unused)
_INV_BASE = pow(_BASE, -1, 1 << 64)
_POW_CACHE: dict[str, np.ndarray] = {}


def _powers(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``BASE**i`` and ``BASE**-i`` modulo 2**64 for ``i < n`` (cached, grown by doubling)."""
    have = _POW_CACHE.get("pow")
    if have is None or have.size < n:
        size = max(n, 2 * (0 if have is None else have.size), 1 << 16)
        _POW_CACHE["pow"] = np.cumprod(np.full(size, _BASE, dtype=np.uint64)) * U64(_INV_BASE)
        _POW_CACHE["inv"] = np.cumprod(np.full(size, _INV_BASE, dtype=np.uint64)) * U64(_BASE)
    return _POW_CACHE["pow"][:n], _POW_CACHE["inv"][:n]


class TokenBatch:
    """Word hashes of a batch of texts, concatenated.

    ``hashes[offsets[i]:offsets[i + 1]]`` are the words of text ``i``; ``doc[t]`` is the text of
    word ``t``. ``doc`` (8 bytes a word) is made on first use: the n-gram method needs the text
    of its few matches only (:meth:`doc_of`), MinHash shingles need it for every word.
    """

    __slots__ = ("_doc", "hashes", "offsets")

    def __init__(self, hashes: np.ndarray, doc: np.ndarray | None, offsets: np.ndarray) -> None:
        self.hashes, self._doc, self.offsets = hashes, doc, offsets

    @property
    def doc(self) -> np.ndarray:
        """The text of every word."""
        if self._doc is None:
            n_docs = self.offsets.size - 1
            self._doc = np.repeat(np.arange(n_docs, dtype=np.int64), np.diff(self.offsets))
        return self._doc

    def doc_of(self, words: np.ndarray) -> np.ndarray:
        """The text of each of these words (indices into ``hashes``)."""
        if self._doc is not None:
            return self._doc.take(words)
        return np.searchsorted(self.offsets, words, side="right") - 1

    def count(self, i: int) -> int:
        """Number of words in text ``i``."""
        return int(self.offsets[i + 1] - self.offsets[i])


def hash_texts(texts: list[str]) -> TokenBatch:
    """Hash every word of a batch of texts, normalised as :func:`normal_words` does.

    A word's hash is built from its UTF-8 bytes read eight at a time (see :func:`_hash_bytes`);
    equal words get equal hashes in every process and on every machine.

    Example:
        >>> a, b = hash_texts(["The QUICK, fox!", ""]), hash_words(["the quick fox", ""])
        >>> bool((a.hashes == b.hashes).all()), a.offsets.tolist() == b.offsets.tolist()
        (True, True)
    """
    folded, wide = _fold(texts)
    return _hash_bytes(_joined(folded), _utf8_lengths(folded, wide))  # ASCII texts are not copied


_PAD = " " * 16  # separators after the last text: a word's 8-byte blocks may be read past its end


def _joined(texts: list[str]) -> bytes:
    """``NUL text NUL text ... NUL`` and the padding, as UTF-8 (what :func:`_hash_bytes` reads)."""
    return "\0".join(["", *texts, _PAD]).encode("utf-8")


def hash_words(normal_texts: list[str]) -> TokenBatch:
    """Hash every word of already normalised texts (lower-case words separated by spaces)."""
    return _hash_bytes(_joined(normal_texts), _utf8_lengths(normal_texts))


# A word's first k bytes as one little-endian 64-bit value: MASKS[k] keeps k bytes (k <= 8).
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_MASKS[8] = U64(MASK64)


def _gather8(blocks: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The 8 bytes from each byte offset ``at`` as little-endian 64-bit values, from ``blocks``,
    the same bytes read as aligned 64-bit values (each offset at least 16 bytes before their end):
    two aligned reads and shifts, not a copy of the bytes at every offset (8 bytes a byte)."""
    word = at >> 3
    shift = (at & 7).view(np.uint64)
    shift <<= U64(3)  # bits below the offset in its aligned block
    out = blocks.take(word)
    out >>= shift
    word += 1
    high = blocks.take(word)
    np.subtract(U64(64), shift, out=shift)  # 64 when aligned: a shift of 64 gives 0 in numpy
    high <<= shift
    out |= high
    return out


def _hash_bytes(raw: bytes, lengths: np.ndarray) -> TokenBatch:
    """Word hashes of folded texts encoded as ``NUL text NUL text ... NUL`` and 16 spaces
    (:func:`_joined`), text ``i`` of ``lengths[i]`` bytes. The texts' bounds come from their
    lengths, so a NUL inside a text is one more separator, as in :func:`normal_words`.

    A word of ``L`` lower-cased bytes is read as little-endian 64-bit blocks: ``f``, its first 8
    bytes (zero-padded if ``L < 8``); if ``L > 8``, ``t``, its last 8 bytes (overlapping ``f`` when
    ``L < 16``), and ``m1``, ``m2``, the whole blocks at bytes 8 and 16 that end before the last
    byte. Its hash is ``h = f + t * C1 + m1 * C2 + m2 * C3`` (mod 2**64, fixed odd constants, absent
    blocks 0; words of up to ``8 * WORD_BLOCKS`` bytes; a longer word takes the first 8 bytes of
    its BLAKE2b digest), then ``mix64(h ^ L * GOLD)``: only a short word's block is masked, the
    blocks of longer words lie inside them. The cost is a few passes over the bytes
    and a few over the words (no 64-bit value per byte), with few temporary buffers.
    """
    lowered = raw.lower()  # bytes.lower: ASCII letters only
    low = np.frombuffer(lowered, dtype=np.uint8)
    nul = np.zeros(lengths.size + 1, dtype=np.int64)  # the NUL before each text, and the last
    np.cumsum(lengths + 1, out=nul[1:])
    # Folded text is ASCII but for its non-ASCII word characters (bytes >= 0x80): a byte is part of
    # a word if it is one of those, a letter, a digit or "_". Only a word's own bytes enter its hash
    # (the blocks are masked to its length), so separators keep any value.
    tmp = low - U8(0x61)
    is_word = tmp < U8(26)
    test = np.empty_like(is_word)
    np.subtract(low, U8(0x30), out=tmp)
    is_word |= np.less(tmp, U8(10), out=test)
    is_word |= np.equal(low, U8(0x5F), out=test)
    is_word |= np.greater_equal(low, U8(0x80), out=test)
    # Word bytes change to separators and back: word k is bytes (edge[2k], edge[2k + 1]].
    edge = np.flatnonzero(np.not_equal(is_word[1:], is_word[:-1], out=test[:-1]))
    start = edge[0::2] + 1
    length = edge[1::2] - edge[0::2]
    blocks = np.frombuffer(lowered, dtype="<u8", count=low.size // 8)  # aligned: no copy
    h = _gather8(blocks, start)
    h &= _MASKS.take(length, mode="clip")  # a length over 8 keeps all 8 bytes
    sub = np.flatnonzero(length > 8)
    if sub.size:
        block = _gather8(blocks, edge[1::2].take(sub) - 7)  # the last 8 bytes (a word ends at edge + 1)
        block *= _BLOCK_C[1]
        h[sub] += block
        sub = sub[length.take(sub) > 16]
    for k in range(1, WORD_BLOCKS - 1):  # whole blocks in the middle: words of more than 8k + 8 bytes
        if sub.size == 0:
            break
        block = _gather8(blocks, start.take(sub) + 8 * k)
        block *= _BLOCK_C[k + 1]
        h[sub] += block
        sub = sub[length.take(sub) > 8 * k + 16]
    for i in sub.tolist():  # rare: words longer than 8 * WORD_BLOCKS bytes
        a = int(start[i])
        h[i] = int.from_bytes(blake2b(low[a : a + int(length[i])].tobytes(), digest_size=8).digest(), "little")
    h ^= length.view(np.uint64) * _GOLD  # lengths are positive: the same bits
    return TokenBatch(mix64_inplace(h), None, np.searchsorted(start, nul).astype(np.int64, copy=False))


def prefix_sums(batch: TokenBatch) -> np.ndarray:
    """``P[j] = sum(hashes[t] * BASE**t for t < j)`` (length ``len(hashes) + 1``): every n-gram hash
    and whole-text hash of the batch is read off them; compute them once and pass them on."""
    prefix = np.zeros(batch.hashes.size + 1, dtype=np.uint64)
    np.multiply(batch.hashes, _powers(batch.hashes.size)[0], out=prefix[1:])
    np.cumsum(prefix[1:], out=prefix[1:])
    return prefix


def _all_ngrams(batch: TokenBatch, n: int, prefix: np.ndarray | None = None) -> np.ndarray:
    """The n-gram hash at every word position ``t <= len - n``, across text boundaries too.

    The hash of words ``t .. t+n-1`` is ``sum(hashes[t + k] * BASE**k)`` (mod 2**64), read off
    prefix sums, so its cost does not grow with ``n``. Word hashes are well mixed, so n-gram
    hashes are uniform and two different n-grams collide with probability about 2**-63.
    """
    m = batch.hashes.size - n + 1
    if prefix is None:
        prefix = prefix_sums(batch)
    grams = np.subtract(prefix[n:], prefix[:m])
    grams *= _powers(m)[1]
    return grams


def ngram_hashes(batch: TokenBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every word n-gram that lies inside one text, and the index of its first word.

    Example:
        >>> b = hash_words(["a b c d", "a b c"])
        >>> h, start = ngram_hashes(b, 3)
        >>> start.tolist(), bool(h[0] == h[2])
        ([0, 1, 4], True)
    """
    total = batch.hashes.size
    if total < n:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    start = np.flatnonzero(batch.doc[: total - n + 1] == batch.doc[n - 1 :])
    return _all_ngrams(batch, n).take(start), start


def find_ngrams(
    batch: TokenBatch,
    n: int,
    sorted_keys: np.ndarray,
    bitmap: np.ndarray | None = None,
    prefix: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Every n-gram inside one text that equals a key: (index of its first word, key index) pairs.

    The same matches as :func:`lookup` on :func:`ngram_hashes`, with the text boundaries checked
    on the few matches only (``bitmap``: see :func:`key_filter`; ``prefix``: the batch's
    :func:`prefix_sums`, if already computed).
    """
    if batch.hashes.size < n or sorted_keys.size == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    start, ki = lookup(sorted_keys, _all_ngrams(batch, n, prefix), bitmap)
    inside = batch.doc_of(start) == batch.doc_of(start + (n - 1))
    return start[inside], ki[inside]


def text_hashes(batch: TokenBatch, prefix: np.ndarray | None = None) -> np.ndarray:
    """One 64-bit hash per text of its whole word sequence (equal normal forms, equal hashes)."""
    lo, hi = batch.offsets[:-1], batch.offsets[1:]
    if prefix is None:
        prefix = prefix_sums(batch)
    inv = _powers(batch.hashes.size + 1)[1]
    whole = (prefix.take(hi) - prefix.take(lo)) * inv.take(lo)
    whole ^= (hi - lo).view(np.uint64) * _GOLD
    return mix64_inplace(whole)


def coverage(starts: np.ndarray, width: int, size: int) -> np.ndarray:
    """A boolean mask of length ``size`` of the words covered by windows starting at ``starts``.

    >>> coverage(np.array([0, 5]), 2, 7).astype(int).tolist()
    [1, 1, 0, 0, 0, 1, 1]
    """
    if starts.size * width <= size // 16:  # few windows (a batch's template words): set them directly
        mask = np.zeros(size, dtype=bool)
        words = (starts[:, None] + np.arange(width)).ravel()
        mask[words[words < size]] = True
        return mask
    diff = np.zeros(size + 1, dtype=np.int64)
    np.add.at(diff, starts, 1)
    np.add.at(diff, np.minimum(starts + width, size), -1)
    return np.cumsum(diff[:size]) > 0


FILTER_BITS = 22  # the most bits a filter uses (4 Mi entries)
PACK_FROM_BITS = 16  # filters of more entries are kept 8 to a byte (512 KiB at most: in cache)
_INTP64 = np.dtype(np.intp).itemsize == 8


def key_filter(sorted_keys: np.ndarray) -> np.ndarray:
    """A bitmap over the top bits of the keys: a cheap first test before a binary search.

    About 128 entries a key (1 in 128 of other values gets through), from 2**12 to 2**FILTER_BITS
    entries: a filter over a few keys stays in the processor's cache as one byte an entry; a large
    one is packed 8 entries to a byte (``uint8``), so that random lookups stay in cache too.
    """
    bits = min(FILTER_BITS, max(12, int(sorted_keys.size).bit_length() + 7))
    bitmap = np.zeros(1 << bits, dtype=bool)
    bitmap[(sorted_keys >> U64(64 - bits)).astype(np.intp)] = True
    return np.packbits(bitmap, bitorder="little") if bits > PACK_FROM_BITS else bitmap


def _passes(bitmap: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """The indices of the queries whose top bits are set in ``bitmap`` (see :func:`key_filter`)."""
    packed = bitmap.dtype == np.uint8
    entries = bitmap.size * 8 if packed else bitmap.size
    top = queries >> U64(64 - (entries.bit_length() - 1))  # below 2**22: the same bits as an index
    index = top.view(np.intp) if _INTP64 else top.astype(np.intp)
    if not packed:
        return np.flatnonzero(bitmap.take(index))
    bit = index.astype(np.uint8)  # few full-width temporaries: each is a pass over memory
    bit &= np.uint8(7)
    index >>= 3
    byte = bitmap.take(index)
    byte >>= bit
    byte &= np.uint8(1)
    return np.flatnonzero(byte.view(np.bool_))  # 0 or 1: a bool view takes the fast path


def lookup(
    sorted_keys: np.ndarray, queries: np.ndarray, bitmap: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """All matches of ``queries`` in a sorted key array: (query index, key index) pairs.

    With ``bitmap`` (from :func:`key_filter`), queries whose top bits match no key are dropped
    first, so the binary search runs on the few that may match.

    Example:
        >>> q, k = lookup(np.array([1, 3, 3, 7], dtype=np.uint64), np.array([3, 5, 7], dtype=np.uint64))
        >>> q.tolist(), k.tolist()
        ([0, 0, 2], [1, 2, 3])
    """
    z = np.zeros(0, dtype=np.int64)
    if sorted_keys.size == 0 or queries.size == 0:
        return z, z.copy()
    if bitmap is not None:
        maybe = _passes(bitmap, queries)
        qi, ki = lookup(sorted_keys, queries[maybe])
        return maybe[qi], ki
    lo = np.searchsorted(sorted_keys, queries, side="left")
    # the right end only for the queries found (most of those the bitmap lets through are not)
    hit = np.flatnonzero(sorted_keys.take(np.minimum(lo, sorted_keys.size - 1)) == queries)
    if hit.size == 0:
        return z, z.copy()
    lo = lo[hit]
    counts = np.searchsorted(sorted_keys, queries[hit], side="right") - lo
    qi = np.repeat(hit, counts)
    ki = run_positions(lo, counts)
    return qi.astype(np.int64), ki.astype(np.int64)
