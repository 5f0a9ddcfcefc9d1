"""Scanning one batch of training texts against the holdout index (runs in worker processes).

All work is vectorised over the batch: the texts' words are hashed together, their n-grams looked
up in sorted holdout arrays, their MinHash signatures computed in one pass. Only the pairs that
match come back, so what crosses between processes is small.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.allocator import keep_freed_memory
from harness.arrays import distinct
from harness.leakage.index import CoveredPart, HoldoutIndex, covered_part, member, position
from harness.leakage.minhash import band_keys, pair_similarity, set_jaccard, shingle_hashes, shingle_sets, signatures
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import TokenBatch, find_ngrams, hash_texts, lookup, prefix_sums, text_hashes
from harness.text import digest, normalize

_Z = np.zeros(0, dtype=np.int64)

VERIFY_FROM = 0.25
"""Near-duplicate candidates (pairs sharing an LSH band) whose MinHash estimate is at least this
share of the threshold have their exact Jaccard similarity computed, which decides the finding.
At 128 values a pair at the threshold estimates below a quarter of it far less often than LSH
misses it (``tests/test_leakage_exact_jaccard.py`` measures both)."""


@dataclass
class ChunkHits:
    """What one batch matched. Pair arrays index the batch's texts and the index's texts."""

    exact_doc: np.ndarray
    exact_text: np.ndarray
    ngram: np.ndarray  # rows: doc, holdout text, matched, longest run, train word span, holdout word span
    near_doc: np.ndarray
    near_text: np.ndarray
    near_sim: np.ndarray  # exact Jaccard similarity of the pair's shingle sets
    near_est: np.ndarray = field(default_factory=lambda: np.zeros(0))  # the pair's MinHash estimate
    record_sig: np.ndarray | None = None  # within-train: low 8 bits of each record's signature
    record_bands: np.ndarray | None = None  # within-train: 32-bit LSH band keys
    record_digest: np.ndarray | None = None  # within-train: exact-duplicate key (normalised text)
    record_ok: np.ndarray | None = None  # within-train: records with at least one shingle


def _ngram_pairs(
    index: HoldoutIndex,
    batch: TokenBatch,
    content: TokenBatch,
    kept: np.ndarray | None,
    n: int,
    *,
    prefix: np.ndarray | None = None,
    skip: np.ndarray | None = None,
) -> np.ndarray:
    """Matched (train text, holdout text) pairs with counts and their longest run of n-grams.

    ``content``: ``batch``'s words outside templates; ``kept``: the index in ``batch`` of each of
    its words (None: content is ``batch`` itself, and ``prefix`` its prefix sums if known);
    ``skip``: texts whose matches are left out (those :func:`covered_part` scans on their own).
    """
    t_abs, ki = find_ngrams(content, n, index.ngram_keys, index.filter("ngram"), prefix)
    if skip is not None and t_abs.size:
        keep = ~skip.take(content.doc_of(t_abs))
        t_abs, ki = t_abs[keep], ki[keep]
    if t_abs.size == 0:
        return np.zeros((0, 8), dtype=np.int64)
    doc = content.doc_of(t_abs)
    tpos = t_abs - content.offsets[doc]
    ht = index.ngram_text[ki]
    hpos = index.ngram_pos[ki]
    n_texts = index.words.size
    pair = doc * n_texts + ht
    # Distinct holdout n-grams matched per pair (the containment numerator).
    span = int(hpos.max()) + 1
    pairs, matched = np.unique(distinct(pair * span + hpos) // span, return_counts=True)
    # Longest run of consecutive n-grams on one diagonal (train pos - holdout pos constant).
    diag = tpos - hpos
    order = np.lexsort((tpos, diag, pair))
    p, d, t, h = pair[order], diag[order], tpos[order], hpos[order]
    brk = np.ones(p.size, dtype=bool)
    brk[1:] = (p[1:] != p[:-1]) | (d[1:] != d[:-1]) | (t[1:] != t[:-1] + 1)
    run_start = np.flatnonzero(brk)
    run_len = np.diff(np.append(run_start, p.size))
    run_pair = p[run_start]
    o = np.lexsort((-run_len, run_pair))  # per pair, longest run first; pairs ascending like np.unique
    first = np.ones(o.size, dtype=bool)
    first[1:] = run_pair[o][1:] != run_pair[o][:-1]
    best = o[first]
    d_, h_ = pairs // n_texts, pairs % n_texts
    ts, hs, rl = t[run_start[best]], h[run_start[best]], run_len[best]
    last = rl + n - 2  # offset of the run's last word from its first, in non-template words
    out = np.empty((pairs.size, 8), dtype=np.int64)
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = d_, h_, matched, rl
    # Word spans in the original texts: [start, end) of the run's words (template words inside kept).
    first, final = content.offsets[d_] + ts, content.offsets[d_] + ts + last
    if kept is not None:
        first, final = kept.take(first), kept.take(final)
    out[:, 4], out[:, 5] = position(batch, first), position(batch, final) + 1
    hbase = index.content_offsets[h_]
    out[:, 6] = index.content_orig[hbase + hs]
    out[:, 7] = index.content_orig[hbase + hs + last] + 1
    return out


def scan_texts(
    index: HoldoutIndex | None,
    texts: list[str],
    owners: np.ndarray,
    n_records: int,
    opts: LeakageOptions,
    *,
    within: bool,
) -> ChunkHits:
    """Match a batch of training texts against the index.

    Args:
        index: the holdout index, or None for within-train signatures only.
        texts: the batch's text fields.
        owners: the record (``range(n_records)``) each text belongs to.
        n_records: records in the batch.
        opts: options (n, shingle, bands, thresholds...).
        within: also return per-record signatures for within-train near duplicates.
    """
    batch = hash_texts(texts)
    n_docs = len(texts)
    methods = set(opts.methods) if index is not None else set()
    hits = ChunkHits(_Z, _Z, np.zeros((0, 8), dtype=np.int64), _Z, _Z, np.zeros(0))
    if index is not None:
        prefix = prefix_sums(batch)  # every n-gram and whole-text hash is read off these
        if "exact" in methods and index.exact_keys.size:
            qi, ki = lookup(index.exact_keys, text_hashes(batch, prefix), index.filter("exact"))
            hits.exact_doc, hits.exact_text = qi, index.exact_text[ki]
        ngram = "ngram" in methods and index.ngram_keys.size > 0
        near = "near_duplicate" in methods and index.band_keys.size > 0
        if ngram or near:  # both look at the words outside holdout templates
            covered = index.cover(batch, prefix)
            # Training text rarely holds a holdout template: the few texts that do are scanned
            # again without their template words, the others as they are.
            part = covered_part(batch, covered) if covered.any() else None
            if ngram:
                skip = None if part is None else part.docs
                hits.ngram = _ngram_pairs(index, batch, batch, None, opts.n, prefix=prefix, skip=skip)
                if part is not None:
                    more = _ngram_pairs(index, batch, part.content, part.kept, opts.n)
                    rows = np.concatenate([hits.ngram, more])
                    hits.ngram = rows[np.lexsort((rows[:, 1], rows[:, 0]))]  # by text, then holdout text
            if near:
                _near(index, batch, part, n_docs, opts, hits)
    if within:
        sh, sdoc = shingle_hashes(batch.hashes, batch.offsets, opts.shingle)
        rsig = signatures(sh, owners[sdoc], n_records, num_perm=opts.num_perm)
        hits.record_ok = np.bincount(owners[sdoc], minlength=n_records)[:n_records] > 0
        hits.record_sig = (rsig & np.uint64(0xFF)).astype(np.uint8)
        hits.record_bands = (band_keys(rsig, opts.near_bands, opts.near_rows) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        joined: list[list[str]] = [[] for _ in range(n_records)]
        for owner, text in zip(owners.tolist(), texts, strict=True):
            joined[owner].append(normalize(text))
        hits.record_digest = np.array(
            [int.from_bytes(digest("\x1f".join(parts))[:8], "little") for parts in joined], dtype=np.uint64
        )
    return hits


def _near(
    index: HoldoutIndex,
    batch: TokenBatch,
    part: CoveredPart | None,
    n_docs: int,
    opts: LeakageOptions,
    hits: ChunkHits,
) -> None:
    """MinHash LSH candidates over non-template shingles, kept at exact Jaccard >= threshold.

    ``part``: :func:`covered_part` of the batch (None: no text holds a template); its texts'
    shingles are taken from it, the others' from ``batch``.
    """
    sh, sdoc = shingle_hashes(batch.hashes, batch.offsets, opts.shingle)
    sig = signatures(sh, sdoc, n_docs, num_perm=opts.num_perm)
    words = np.diff(batch.offsets)
    more, mdoc = sh[:0], sdoc[:0]
    if part is not None:  # a signature is its own text's alone: those texts' rows are made again
        content = part.content
        d = np.flatnonzero(part.docs)
        more, mdoc = shingle_hashes(content.hashes, content.offsets, opts.shingle)
        sig[d] = signatures(more, np.searchsorted(d, mdoc), d.size, num_perm=opts.num_perm)
        words[d] = np.diff(content.offsets)[d]
    ok = np.flatnonzero((words >= opts.shingle) & (words >= opts.min_words))  # a shingle: `shingle` words
    if ok.size == 0:
        return
    keys = band_keys(sig, opts.bands, opts.rows).T  # bands x texts
    if ok.size < n_docs:
        keys = keys[:, ok]
    qi, ki = lookup(index.band_keys, keys.ravel(), index.filter("band"))
    if qi.size == 0:
        return
    n_texts = index.words.size
    cand = distinct(ok[qi % ok.size] * n_texts + index.band_text[ki])
    cd, ct = cand // n_texts, cand % n_texts
    est = pair_similarity(sig.T.take(cd, axis=1), index.sig.T.take(ct, axis=1), axis=0)  # bins x pairs
    check = np.flatnonzero(est >= opts.threshold * VERIFY_FROM)
    if check.size == 0:
        return
    cd, ct, est = cd[check], ct[check], est[check]
    docs = distinct(cd)
    row = np.searchsorted(docs, cd)
    sets, rows = _text_sets(docs, (sh, sdoc), (more, mdoc), None if part is None else part.docs)
    sim = set_jaccard(sets, rows.take(row), (index.shingle_set, index.set_offsets), ct)
    keep = sim >= opts.threshold
    hits.near_doc, hits.near_text, hits.near_sim, hits.near_est = cd[keep], ct[keep], sim[keep], est[keep]


def _text_sets(
    docs: np.ndarray,
    whole: tuple[np.ndarray, np.ndarray],
    content: tuple[np.ndarray, np.ndarray],
    part_docs: np.ndarray | None,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The distinct shingles of these texts of a batch (``whole``: the batch's shingles and their
    texts; ``content``: the same for the texts holding a template, without it; ``part_docs``: which
    texts those are), and the row of each text in them (:func:`set_jaccard` reads them)."""
    own = np.zeros(docs.size, dtype=bool) if part_docs is None else part_docs.take(docs)
    a = shingle_sets(*whole, docs[~own])
    b = shingle_sets(*content, docs[own])
    rows = np.empty(docs.size, dtype=np.int64)
    rows[~own] = np.arange(docs.size - int(own.sum()))
    rows[own] = np.arange(int(own.sum())) + (docs.size - int(own.sum()))
    return (np.concatenate([a[0], b[0]]), np.concatenate([a[1], b[1][1:] + a[1][-1]])), rows


# Worker-process state: the index is sent once per worker, not once per batch.
_WORKER: dict[str, object] = {}


def init_worker(index: HoldoutIndex | None, opts: LeakageOptions, within: bool) -> None:
    """Pool initializer: keep the index in the worker (and freed batch arrays for the next batch)."""
    keep_freed_memory()
    _WORKER["index"], _WORKER["opts"], _WORKER["within"] = index, opts, within


def worker_scan(texts: list[str], owners: np.ndarray, n_records: int) -> ChunkHits:
    """Pool task: scan one batch with the worker's index."""
    index = _WORKER["index"]
    opts = _WORKER["opts"]
    assert isinstance(opts, LeakageOptions)
    return scan_texts(index, texts, owners, n_records, opts, within=bool(_WORKER["within"]))  # type: ignore[arg-type]


__all__ = ["ChunkHits", "init_worker", "member", "scan_texts", "worker_scan"]
