"""MinHash signatures by one-permutation hashing with optimal densification, and LSH banding.

Classic MinHash applies ``num_perm`` hash functions to every shingle (``num_perm`` times the work).
One-permutation hashing (Li, Owen and Zhang, NIPS 2012) hashes each shingle once, splits the hash
range into ``num_perm`` bins and keeps the minimum per bin; bins left empty borrow the value of
another bin chosen by a fixed pseudo-random probe sequence ("optimal densification",
Shrivastava, ICML 2017). Two sets then agree in a bin with probability equal to their Jaccard
similarity, as with classic MinHash, at a fraction of the cost. The tests compare the estimates
with exact Jaccard similarities and with ``datasketch``'s classic MinHash.

Example:
    >>> import numpy as np
    >>> a = np.arange(200, dtype=np.uint64); b = np.arange(50, 250, dtype=np.uint64)
    >>> from harness.leakage.tokens import mix64
    >>> sh = mix64(np.concatenate([a, b])); grp = np.repeat([0, 1], 200)
    >>> sig = signatures(sh, grp, 2, num_perm=256)
    >>> round(float(similarity(sig[0], sig[1])), 1)  # exact Jaccard 150/250 = 0.6
    0.6
"""

from __future__ import annotations

import numpy as np

from harness.arrays import run_positions
from harness.leakage.tokens import U64, constants, mix64_inplace

EMPTY = U64(1 << 63)  # larger than any bin value (values are 32-bit)
_LOW32 = U64(0xFFFFFFFF)
_MAX_PROBES = 256  # more than 6 x _BLOCK
_BLOCK = 8  # probes tested together, as the bits of one byte
_LOWEST_BIT = np.array([(v & -v).bit_length() - 1 if v else 0 for v in range(256)], dtype=np.intp)


def _probes(num_perm: int) -> np.ndarray:
    rng = np.random.default_rng(20171)
    return rng.integers(0, num_perm, size=(_MAX_PROBES, num_perm))


_PROBE_CACHE: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _probe_tables(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """The probe sequences, and ``first[j, hits]``: the bin that bin ``j`` takes when bit ``a`` of
    ``hits`` says its probe ``a`` (of the first 8) lands on a non-empty bin; ``j`` itself for 0."""
    if num_perm not in _PROBE_CACHE:
        probes = _probes(num_perm)
        first = probes[_LOWEST_BIT, :].T.copy()  # (num_perm, 256)
        first[:, 0] = np.arange(num_perm)
        _PROBE_CACHE[num_perm] = probes, first
    return _PROBE_CACHE[num_perm]


def signatures(shingles: np.ndarray, group: np.ndarray, n_groups: int, *, num_perm: int) -> np.ndarray:
    """MinHash signatures (``n_groups`` x ``num_perm``, uint64) of the shingle sets of each group.

    Args:
        shingles: 64-bit shingle hashes (already well mixed).
        group: the group (text) of each shingle, in ``range(n_groups)``.
        n_groups: number of groups; a group without shingles gets a row of :data:`EMPTY`.
        num_perm: signature length (number of bins).
    """
    # The minima are taken group by group (a group's bins are neighbours in memory: five times
    # faster than scattering over all groups), then laid out bins x groups, so that following a
    # probe is a gather of whole rows.
    sig = np.full(n_groups * num_perm, EMPTY, dtype=np.uint64)
    if shingles.size:
        bins = ((shingles >> U64(32)) * U64(num_perm)) >> U64(32)
        key = group * num_perm + bins.view(np.int64)
        np.minimum.at(sig, key, shingles & _LOW32)
    by_bin = np.ascontiguousarray(sig.reshape(n_groups, num_perm).T)
    return _densify(by_bin, num_perm).T  # a transposed view: no copy


def _densify(s: np.ndarray, num_perm: int) -> np.ndarray:
    """Fill empty bins (``s``: bins x texts): bin ``j`` takes the value of the first non-empty bin of
    its probe sequence; a text without any value stays empty."""
    e = s == EMPTY
    if not e.any():
        return s
    probes, first = _probe_tables(num_perm)
    n = s.shape[1]
    # Bit a of ``hits`` says probe a lands on a non-empty bin; the lowest set bit is the probe to
    # take. The first 8 probes are tested for the whole grid at once (non-empty cells keep hits 0,
    # which ``first`` maps to the cell itself); later blocks of 8 only for the empty cells still
    # unfilled (flat index ``bin * n + text``; about 1 in 30 is left after each block).
    full = ~e
    hits = _as_bits(full[probes[:_BLOCK]])
    hits *= e
    src = (first * n).take(hits + (np.arange(num_perm) * 256)[:, None])  # the row of the bin taken from
    src += np.arange(n)
    o = s.take(src)
    flat_e = e.ravel()
    cells = np.flatnonzero(flat_e & (hits.ravel() == 0))
    cells = cells[full.any(axis=0).take(cells % n)]  # texts with some value only
    return _probe_on(s, o, full.ravel(), cells, probes, num_perm)


def _as_bits(tests: np.ndarray) -> np.ndarray:
    """Up to 8 boolean tests (the first axis) as the bits of one byte per cell: bit ``a`` is test ``a``.

    Eight cells are shifted and combined at a time where the cell count allows (a cell is 0 or 1
    and shifts by less than 8, so no bit crosses into the next cell).
    """
    t = tests.view(np.uint8)
    out = t[0].copy()
    step = np.uint64 if out.size % 8 == 0 else np.uint8
    words = out.reshape(-1).view(step)
    for a in range(1, len(t)):
        row = np.ascontiguousarray(t[a]).reshape(-1).view(step)
        words |= np.left_shift(row, step(a))
    return out


def _probe_on(
    s: np.ndarray, o: np.ndarray, flat_full: np.ndarray, cells: np.ndarray, probes: np.ndarray, num_perm: int
) -> np.ndarray:
    """The rare cells the first 8 probes left empty (``flat_full``: the cells with a value): later
    probes in blocks (the next 8, the next 32, all the rest: each cell takes the first non-empty
    one of its block), then the next bin."""
    n = s.shape[1]
    flat_s, flat_o = s.ravel(), o.ravel()
    bins, rows = np.divmod(cells, n)
    for base, end in ((_BLOCK, 2 * _BLOCK), (2 * _BLOCK, 6 * _BLOCK), (6 * _BLOCK, _MAX_PROBES)):
        if cells.size == 0:
            break
        src = probes[base:end].take(bins, axis=1)  # (probes, cells): the next block
        src *= n
        src += rows
        hit = flat_full.take(src)
        if base == _BLOCK:  # the largest block of cells: its 8 tests as the bits of a byte
            hits = _as_bits(hit)
            ok = hits != 0
            at = _LOWEST_BIT.take(hits[ok])
        else:
            ok = hit.any(axis=0)
            at = hit.argmax(axis=0)[ok]
        flat_o[cells[ok]] = flat_s.take(src[at, np.flatnonzero(ok)])
        left = ~ok
        cells, bins, rows = cells[left], bins[left], rows[left]
    if cells.size:  # very sparse sets: the next non-empty bin to the right
        src = (bins[None, :] + np.arange(1, num_perm)[:, None]) % num_perm
        at = flat_full.take(src * n + rows).argmax(axis=0)
        flat_o[cells] = flat_s.take(src[at, np.arange(cells.size)] * n + rows)
    return o


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal bins; 0 if either is empty)."""
    if a[0] == EMPTY or b[0] == EMPTY:
        return 0.0
    return float(np.mean(a == b))


def pair_similarity(sig_a: np.ndarray, sig_b: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Estimated Jaccard similarity of paired signatures in two equally shaped matrices: row by row
    (``axis=1``), or column by column (``axis=0``: the bins x texts layout, where gathering the
    pairs' columns from contiguous arrays is cheaper than gathering rows of a transposed view)."""
    sim = (sig_a == sig_b).mean(axis=axis)
    first_a, first_b = (sig_a[:, 0], sig_b[:, 0]) if axis == 1 else (sig_a[0], sig_b[0])
    sim[(first_a == EMPTY) | (first_b == EMPTY)] = 0.0
    return sim


def _ragged(lo: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`~harness.arrays.run_positions`, and the run of each position."""
    return run_positions(lo, counts), np.repeat(np.arange(lo.size, dtype=np.int64), counts)


def shingle_sets(shingles: np.ndarray, group: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct shingles of each of ``groups``: sorted, concatenated, and the offsets of each.

    ``group``: the group of each shingle, non-decreasing (as :func:`shingle_hashes` gives them).

    >>> v, off = shingle_sets(np.array([9, 3, 9, 5], dtype=np.uint64), np.array([0, 0, 0, 2]), np.array([2, 0, 1]))
    >>> v.tolist(), off.tolist()
    ([5, 3, 9], [0, 1, 3, 3])
    """
    lo = np.searchsorted(group, groups, side="left")
    at, owner = _ragged(lo, np.searchsorted(group, groups, side="right") - lo)
    vals = shingles.take(at)
    order = np.lexsort((vals, owner))
    vals, owner = vals.take(order), owner.take(order)
    new = np.ones(vals.size, dtype=bool)
    new[1:] = (vals[1:] != vals[:-1]) | (owner[1:] != owner[:-1])
    vals, owner = vals[new], owner[new]
    return vals, np.searchsorted(owner, np.arange(groups.size + 1)).astype(np.int64)


def set_jaccard(
    a: tuple[np.ndarray, np.ndarray], a_rows: np.ndarray, b: tuple[np.ndarray, np.ndarray], b_rows: np.ndarray
) -> np.ndarray:
    """Exact Jaccard similarity of set ``a_rows[p]`` of ``a`` and set ``b_rows[p]`` of ``b``, for each
    pair ``p``; ``a`` and ``b`` are ``(values, offsets)`` of distinct values per set
    (:func:`shingle_sets`). Two empty sets have similarity 0.

    >>> a = (np.array([1, 2, 3, 7], dtype=np.uint64), np.array([0, 3, 4]))
    >>> b = (np.array([2, 3, 4, 7], dtype=np.uint64), np.array([0, 3, 4]))
    >>> set_jaccard(a, np.array([0, 1, 0]), b, np.array([0, 1, 1])).tolist()
    [0.5, 1.0, 0.0]
    """
    a_n, b_n = np.diff(a[1]).take(a_rows), np.diff(b[1]).take(b_rows)
    a_at, a_pair = _ragged(a[1].take(a_rows), a_n)
    b_at, b_pair = _ragged(b[1].take(b_rows), b_n)
    vals = np.concatenate([a[0].take(a_at), b[0].take(b_at)])
    pair = np.concatenate([a_pair, b_pair])
    order = np.lexsort((vals, pair))
    vals, pair = vals.take(order), pair.take(order)
    both = (vals[1:] == vals[:-1]) & (pair[1:] == pair[:-1])  # a value in both sets of its pair
    inter = np.bincount(pair[1:][both], minlength=a_rows.size)[: a_rows.size]
    union = a_n + b_n - inter
    return np.divide(inter, union, out=np.zeros(a_rows.size), where=union > 0)


_BAND_C = constants(64, seed=7)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH band keys (``len(sig)`` x ``bands``, uint64): one hash of each band of ``rows`` bins.

    Two signatures share a band key with probability about ``s ** rows`` at Jaccard ``s``, so a
    pair becomes a candidate with probability ``1 - (1 - s ** rows) ** bands``. Computed bins x
    texts (the layout :func:`signatures` makes) and returned as a transposed view.
    """
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands x rows = {bands * rows} exceeds the signature length {sig.shape[1]}")
    block = sig.T[: bands * rows].reshape(bands, rows, sig.shape[0])  # bin b * rows + j of every text
    acc = (np.arange(bands, dtype=np.uint64) * U64(0x9E3779B97F4A7C15))[:, None]
    for j in range(rows):
        acc = acc + block[:, j] * _BAND_C[j % _BAND_C.size]
    return mix64_inplace(acc).T


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that a pair at Jaccard ``s`` shares at least one band (the LSH S-curve).

    >>> round(candidate_probability(0.5, 32, 4), 3)
    0.873
    """
    return 1.0 - (1.0 - s**rows) ** bands


_SHINGLE_C = constants(256, seed=13)


def shingle_hashes(word_hashes: np.ndarray, offsets: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the word ``k``-shingles inside each text, and the text of each shingle.

    ``offsets``: text ``i`` is words ``offsets[i]:offsets[i + 1]`` (a batch's offsets). A shingle's
    hash is ``mix64(sum(word[i] * C[i]) ^ k)`` with fixed odd constants ``C`` (word hashes are
    already uniform, so one bijective mix makes the sum's bits independent). The sums are taken at
    every position; those that would cross into the next text (the last ``k - 1`` positions of each
    text) are masked out, and the texts follow from the counts per text (no word-to-text array).

    Example:
        >>> sh, text = shingle_hashes(np.arange(1, 6, dtype=np.uint64), np.array([0, 3, 3, 5]), 2)
        >>> text.tolist()  # two shingles in the first text, none in the empty one, one in the last
        [0, 0, 2]
    """
    total = word_hashes.size
    if total < k:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    m = total - k + 1
    coef = _SHINGLE_C if k <= _SHINGLE_C.size else constants(k, seed=13)
    acc = word_hashes[:m] * coef[0]
    for i in range(1, k):
        acc += word_hashes[i : i + m] * coef[i]
    starts, ends = offsets[:-1], offsets[1:]
    inside = np.ones(m, dtype=bool)
    for back in range(1, k):  # the position ``back`` words before a text's end starts no shingle
        at = ends - back
        inside[at[(at >= starts) & (at < m)]] = False
    per_text = np.maximum(np.diff(offsets) - (k - 1), 0)
    text = np.repeat(np.arange(per_text.size, dtype=np.int64), per_text)
    acc = acc[inside]
    acc ^= U64(k)
    return mix64_inplace(acc), text
