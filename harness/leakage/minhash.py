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

from harness.leakage.tokens import U64, TokenBatch, constants, mix64, ngram_hashes

EMPTY = U64(1 << 63)  # larger than any bin value (values are 32-bit)
_LOW32 = U64(0xFFFFFFFF)
_MAX_PROBES = 256  # a multiple of _BLOCK
_BLOCK = 8  # probes tested together, as the bits of one byte
_LOWEST_BIT = np.array([(v & -v).bit_length() - 1 if v else 0 for v in range(256)], dtype=np.intp)


def _probes(num_perm: int) -> np.ndarray:
    rng = np.random.default_rng(20171)
    return rng.integers(0, num_perm, size=(_MAX_PROBES, num_perm))


_PROBE_CACHE: dict[int, np.ndarray] = {}


def signatures(shingles: np.ndarray, group: np.ndarray, n_groups: int, *, num_perm: int) -> np.ndarray:
    """MinHash signatures (``n_groups`` x ``num_perm``, uint64) of the shingle sets of each group.

    Args:
        shingles: 64-bit shingle hashes (already well mixed).
        group: the group (text) of each shingle, in ``range(n_groups)``.
        n_groups: number of groups; a group without shingles gets a row of :data:`EMPTY`.
        num_perm: signature length (number of bins).
    """
    sig = np.full(n_groups * num_perm, EMPTY, dtype=np.uint64)
    if shingles.size:
        bins = ((shingles >> U64(32)) * U64(num_perm)) >> U64(32)
        key = group.astype(np.int64) * num_perm + bins.astype(np.int64)
        np.minimum.at(sig, key, shingles & _LOW32)
    return _densify(sig.reshape(n_groups, num_perm), num_perm)


def _densify(sig: np.ndarray, num_perm: int) -> np.ndarray:
    """Fill empty bins: bin ``j`` takes the value of the first non-empty bin of its probe sequence."""
    empty = sig == EMPTY
    need = np.flatnonzero(empty.any(axis=1) & ~empty.all(axis=1))
    if need.size == 0:
        return sig
    probes = _PROBE_CACHE.get(num_perm)
    if probes is None:
        probes = _PROBE_CACHE[num_perm] = _probes(num_perm)
    # Bins x texts layout: following a probe is then a gather of whole rows. Bit a of ``hits`` says
    # probe a lands on a non-empty bin, and the lowest set bit is the probe to take: the first 8
    # probes are tested for the whole grid at once, later blocks of 8 only for the empty cells
    # still unfilled (flat index ``bin * n + text``; about 1 in 30 is left after each block).
    s = np.ascontiguousarray(sig[need].T)
    e = s == EMPTY
    n = need.size
    grid = np.zeros(e.shape, dtype=np.uint8)
    for a in range(_BLOCK - 1, -1, -1):
        grid <<= 1
        grid |= ~e[probes[a]]
    o = s.copy()
    flat_e, flat_s, flat_o = e.ravel(), s.ravel(), o.ravel()
    cells = np.flatnonzero(flat_e)
    bins, rows = np.divmod(cells, n)
    hits = grid.ravel().take(cells)
    for base in range(0, _MAX_PROBES, _BLOCK):
        if base:
            hits = np.zeros(cells.size, dtype=np.uint8)
            for a in range(_BLOCK - 1, -1, -1):
                hits <<= 1
                hits |= ~flat_e.take(probes[base + a].take(bins) * n + rows)
        ok = hits != 0
        first = base + _LOWEST_BIT.take(hits[ok])
        flat_o[cells[ok]] = flat_s.take(probes.ravel().take(first * num_perm + bins[ok]) * n + rows[ok])
        left = ~ok
        cells, bins, rows = cells[left], bins[left], rows[left]
        if cells.size == 0:
            break
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


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of two signatures (share of equal bins; 0 if either is empty)."""
    if a[0] == EMPTY or b[0] == EMPTY:
        return 0.0
    return float(np.mean(a == b))


def pair_similarity(sig_a: np.ndarray, sig_b: np.ndarray) -> np.ndarray:
    """Row-wise estimated Jaccard similarity of two equally shaped signature matrices."""
    sim = (sig_a == sig_b).mean(axis=1)
    sim[(sig_a[:, 0] == EMPTY) | (sig_b[:, 0] == EMPTY)] = 0.0
    return sim


_BAND_C = constants(64, seed=7)


def band_keys(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """LSH band keys (``len(sig)`` x ``bands``, uint64): one hash of each band of ``rows`` bins.

    Two signatures share a band key with probability about ``s ** rows`` at Jaccard ``s``, so a
    pair becomes a candidate with probability ``1 - (1 - s ** rows) ** bands``.
    """
    if bands * rows > sig.shape[1]:
        raise ValueError(f"bands x rows = {bands * rows} exceeds the signature length {sig.shape[1]}")
    b = sig[:, : bands * rows].reshape(sig.shape[0], bands, rows)
    acc = (np.arange(bands, dtype=np.uint64) * U64(0x9E3779B97F4A7C15))[None, :].repeat(sig.shape[0], axis=0)
    for j in range(rows):
        acc = acc + b[:, :, j] * _BAND_C[j % _BAND_C.size]
    return mix64(acc)


def candidate_probability(s: float, bands: int, rows: int) -> float:
    """Probability that a pair at Jaccard ``s`` shares at least one band (the LSH S-curve).

    >>> round(candidate_probability(0.5, 32, 4), 3)
    0.873
    """
    return 1.0 - (1.0 - s**rows) ** bands


def shingle_hashes(word_hashes: np.ndarray, doc: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of word ``k``-shingles inside each text and the index of each shingle's first word."""
    h, start = ngram_hashes(TokenBatch(word_hashes, doc, np.zeros(1, dtype=np.int64)), k)
    return mix64(h ^ U64(0x5851F42D4C957F2D)), start
