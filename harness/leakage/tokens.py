"""Word normalisation and vectorised 64-bit hashing of words, n-grams and whole texts.

Every leakage method sees text the same way: Unicode NFKC, case-folded, split into word
characters (``\\w+``), so punctuation, case and spacing never hide a copy. Hashing is done on a
whole batch of texts at once with numpy (no per-word Python work): each word becomes a 64-bit
hash, an n-gram is a mix of its words' hashes, so lookups against a holdout index are sorted-array
searches.

Example:
    >>> normal_words("Hello,   WORLD! It's")
    ['hello', 'world', 'it', 's']
    >>> b = hash_words(["a b c", "", "a b"])
    >>> b.offsets.tolist(), bool(b.hashes[0] == b.hashes[3])
    ([0, 3, 3, 5], True)
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

import numpy as np

_WORD = re.compile(r"\w+")
_NON_ASCII = re.compile(r"[^\0-\x7f]")
# For ASCII text, \w is [A-Za-z0-9_]: every other ASCII character separates words.
_ASCII_SEP = str.maketrans({chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")})
# The same for a batch of texts joined by NUL: NUL becomes the newline that separates texts.
_BATCH_SEP = str.maketrans({**{chr(c): " " for c in range(128) if not (chr(c).isalnum() or chr(c) == "_")}, "\0": "\n"})
U64 = np.uint64
MASK64 = (1 << 64) - 1
_BASE = 0x100000001B3  # FNV-1a 64-bit prime: odd, so its powers never vanish mod 2**64


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
    spans, words = [], []
    for m in _WORD.finditer(text):
        spans.append((m.start(), m.end()))
        words.append(unicodedata.normalize("NFKC", m.group()).casefold())
    return spans if words == normal_words(text) else None


def mix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser: a bijective mix of 64-bit values (array in, new array out)."""
    x = x ^ (x >> U64(30))
    x *= U64(0xBF58476D1CE4E5B9)
    x ^= x >> U64(27)
    x *= U64(0x94D049BB133111EB)
    x ^= x >> U64(31)
    return x


def constants(n: int, seed: int) -> np.ndarray:
    """``n`` fixed pseudo-random odd 64-bit constants (deterministic across processes and runs)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**63, size=n, dtype=np.uint64) * U64(2) + U64(1)


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


class TokenBatch(NamedTuple):
    """Word hashes of a batch of texts, concatenated.

    ``hashes[offsets[i]:offsets[i + 1]]`` are the words of text ``i``; ``doc[t]`` is the text of
    word ``t``.
    """

    hashes: np.ndarray
    doc: np.ndarray
    offsets: np.ndarray

    def count(self, i: int) -> int:
        """Number of words in text ``i``."""
        return int(self.offsets[i + 1] - self.offsets[i])


def hash_words(normal_texts: list[str]) -> TokenBatch:
    """Hash every word of already normalised texts (words separated by single spaces).

    A word's hash is a polynomial hash of its UTF-8 bytes and length, finalised by
    :func:`mix64`; equal words get equal hashes in every process.
    """
    return _hash_joined("\n".join(normal_texts), len(normal_texts))


def normal_batch(texts: list[str]) -> str:
    r"""The texts' normalised words, texts separated by newlines and words by runs of spaces.

    The words of text ``i`` are :func:`normal_words` of ``texts[i]``, with no per-text Python
    work: ASCII texts are lower-cased and translated (every non-word character to a space) all
    together; the other texts are joined, put in NFKC and case-folded in one call each (NUL,
    which joins them, is a starter that NFKC neither composes nor reorders), their few distinct
    non-word characters (``\w`` as the regular expression reads it) replaced by spaces and the
    rest translated like ASCII (when non-ASCII word characters remain: word by word). A batch
    where a text holds NUL itself goes text by text.

    Example:
        >>> normal_batch(["Hello,  WORLD!", "It's"]).split("\n")
        ['hello   world ', 'it s']
        >>> normal_batch(["Straße’s", "ﬁne", "A-b"]).split("\n")
        ['strasse s', 'fine', 'a b']
    """
    joined = "\0".join(texts)
    if joined.count("\0") != len(texts) - 1:
        return "\n".join(normal_form(t) for t in texts)
    if joined.isascii():
        return joined.lower().translate(_BATCH_SEP)
    out = list(texts)
    flags = list(map(str.isascii, texts))
    for want, fold in ((True, _fold_ascii), (False, _fold_unicode)):
        idx = [i for i, f in enumerate(flags) if f is want]
        if idx:
            for i, w in zip(idx, fold("\0".join([texts[i] for i in idx])).split("\n"), strict=True):
                out[i] = w
    return "\n".join(out)


def _fold_ascii(joined: str) -> str:
    return joined.lower().translate(_BATCH_SEP)


def _fold_unicode(joined: str) -> str:
    if not unicodedata.is_normalized("NFKC", joined):
        joined = unicodedata.normalize("NFKC", joined)
    folded = joined.casefold()
    for c in set(_NON_ASCII.findall(folded)):  # the few distinct characters: str.replace is C speed
        if not _WORD.fullmatch(c):
            folded = folded.replace(c, " ")
    if folded.isascii():
        return folded.translate(_BATCH_SEP)
    return "\n".join(" ".join(_WORD.findall(t)) for t in folded.split("\0"))


def hash_texts(texts: list[str]) -> TokenBatch:
    """:func:`hash_words` of the texts' normal forms, normalising the whole batch at once.

    Example:
        >>> a, b = hash_texts(["The QUICK, fox!", ""]), hash_words(["the quick fox", ""])
        >>> bool((a.hashes == b.hashes).all()), a.offsets.tolist() == b.offsets.tolist()
        (True, True)
    """
    return _hash_joined(normal_batch(texts), len(texts))


def _hash_joined(joined: str, n_docs: int) -> TokenBatch:
    """Word hashes of ``n_docs`` texts joined by newlines, words separated by one or more spaces."""
    empty = np.zeros(0, dtype=np.uint64)
    if n_docs == 0:
        return TokenBatch(empty, np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64))
    buf = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    is_sep = (buf == 32) | (buf == 10)
    if is_sep.all():  # no word at all
        return TokenBatch(empty, np.zeros(0, dtype=np.int64), np.zeros(n_docs + 1, dtype=np.int64))
    # Word [a, b) hashes to sum(buf[i] * BASE**(i - a)) from prefix sums of buf[i] * BASE**i.
    edge = np.diff(np.concatenate(([1], is_sep.view(np.int8), [1])).astype(np.int8))
    starts = np.flatnonzero(edge == -1)
    ends = np.flatnonzero(edge == 1)
    pw, inv = _powers(buf.size + 1)
    prefix = np.zeros(buf.size + 1, dtype=np.uint64)
    np.cumsum(buf * pw[: buf.size], out=prefix[1:])
    h = (prefix[ends] - prefix[starts]) * inv[starts]
    h ^= (ends - starts).astype(np.uint64) * U64(0x9E3779B97F4A7C15)
    h = mix64(h)
    newlines = np.flatnonzero(buf == 10)
    doc = np.searchsorted(newlines, starts).astype(np.int64)
    offsets = np.searchsorted(doc, np.arange(n_docs + 1)).astype(np.int64)
    return TokenBatch(h, doc, offsets)


_NGRAM_C = constants(256, seed=13)


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
    m = total - n + 1
    coef = _NGRAM_C if n <= _NGRAM_C.size else constants(n, seed=13)
    acc = batch.hashes[:m] * coef[0]
    for i in range(1, n):
        acc += batch.hashes[i : i + m] * coef[i]
    start = np.flatnonzero(batch.doc[:m] == batch.doc[n - 1 :])
    return mix64(acc[start] ^ U64(n)), start


_TEXT_C = U64(0xD6E8FEB86659FD93)


def text_hashes(batch: TokenBatch) -> np.ndarray:
    """One 64-bit hash per text of its whole word sequence (equal normal forms, equal hashes)."""
    n_docs = batch.offsets.size - 1
    out = np.zeros(n_docs, dtype=np.uint64)
    if batch.hashes.size:
        rel = np.arange(batch.hashes.size) - batch.offsets[batch.doc]
        weighted = mix64(batch.hashes + rel.astype(np.uint64) * _TEXT_C)
        nonempty = np.flatnonzero(np.diff(batch.offsets) > 0)
        out[nonempty] = np.add.reduceat(weighted, batch.offsets[nonempty])
    counts = np.diff(batch.offsets).astype(np.uint64)
    return mix64(out ^ (counts * U64(0x9E3779B97F4A7C15)))


def coverage(starts: np.ndarray, width: int, size: int) -> np.ndarray:
    """A boolean mask of length ``size`` of the words covered by windows starting at ``starts``."""
    diff = np.zeros(size + 1, dtype=np.int64)
    np.add.at(diff, starts, 1)
    np.add.at(diff, np.minimum(starts + width, size), -1)
    return np.cumsum(diff[:size]) > 0


FILTER_BITS = 22


def key_filter(sorted_keys: np.ndarray) -> np.ndarray:
    """A bitmap over the top ``FILTER_BITS`` bits of the keys: a cheap first test before a binary search."""
    bitmap = np.zeros(1 << FILTER_BITS, dtype=bool)
    bitmap[(sorted_keys >> U64(64 - FILTER_BITS)).astype(np.intp)] = True
    return bitmap


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
        maybe = np.flatnonzero(bitmap.take((queries >> U64(64 - FILTER_BITS)).astype(np.intp)))
        qi, ki = lookup(sorted_keys, queries[maybe])
        return maybe[qi], ki
    lo = np.searchsorted(sorted_keys, queries, side="left")
    hi = np.searchsorted(sorted_keys, queries, side="right")
    counts = hi - lo
    hit = np.flatnonzero(counts)
    if hit.size == 0:
        return z, z.copy()
    counts = counts[hit]
    qi = np.repeat(hit, counts)
    base = np.repeat(lo[hit] - (np.cumsum(counts) - counts), counts)
    ki = base + np.arange(int(counts.sum()))
    return qi.astype(np.int64), ki.astype(np.int64)
