"""Scanning one batch of training texts against the holdout index (runs in worker processes).

All work is vectorised over the batch: the texts' words are hashed together, their n-grams looked
up in sorted holdout arrays, their MinHash signatures computed in one pass. Only the pairs that
match come back, so what crosses between processes is small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.leakage.index import HoldoutIndex, member, template_cover
from harness.leakage.minhash import band_keys, pair_similarity, shingle_hashes, signatures
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import hash_words, lookup, ngram_hashes, normal_form, text_hashes, window_counts
from harness.text import digest, normalize

_Z = np.zeros(0, dtype=np.int64)


@dataclass
class ChunkHits:
    """What one batch matched. Pair arrays index the batch's texts and the index's texts."""

    exact_doc: np.ndarray
    exact_text: np.ndarray
    ngram: np.ndarray  # rows: doc, holdout text, matched n-grams, longest run, train start, holdout start
    near_doc: np.ndarray
    near_text: np.ndarray
    near_sim: np.ndarray
    record_sig: np.ndarray | None = None  # within-train: low 8 bits of each record's signature
    record_bands: np.ndarray | None = None  # within-train: 32-bit LSH band keys
    record_digest: np.ndarray | None = None  # within-train: exact-duplicate key (normalised text)
    record_ok: np.ndarray | None = None  # within-train: records with at least one shingle


def _ngram_pairs(index: HoldoutIndex, grams: np.ndarray, start: np.ndarray, doc_of: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    qi, ki = lookup(index.ngram_keys, grams)
    if qi.size == 0:
        return np.zeros((0, 6), dtype=np.int64)
    t_abs = start[qi]
    doc = doc_of[t_abs]
    tpos = t_abs - offsets[doc]
    ht = index.ngram_text[ki]
    hpos = index.ngram_pos[ki]
    n_texts = index.words.size
    pair = doc * n_texts + ht
    # Distinct holdout n-grams matched per pair (the containment numerator).
    span = int(hpos.max()) + 1
    up = np.unique(pair * span + hpos)
    pairs, matched = np.unique(up // span, return_counts=True)
    # Longest run of consecutive n-grams on one diagonal (train pos - holdout pos constant).
    diag = tpos - hpos
    order = np.lexsort((tpos, diag, pair))
    p, d, t, h = pair[order], diag[order], tpos[order], hpos[order]
    brk = np.ones(p.size, dtype=bool)
    brk[1:] = (p[1:] != p[:-1]) | (d[1:] != d[:-1]) | (t[1:] != t[:-1] + 1)
    run_start = np.flatnonzero(brk)
    run_len = np.diff(np.append(run_start, p.size))
    run_pair = p[run_start]
    # Best run per pair: sort runs by (pair, -len) and take the first of each pair.
    o = np.lexsort((-run_len, run_pair))
    first = np.ones(o.size, dtype=bool)
    first[1:] = run_pair[o][1:] != run_pair[o][:-1]
    best = o[first]
    # best runs are in pair order, as is np.unique's output
    out = np.empty((pairs.size, 6), dtype=np.int64)
    out[:, 0] = pairs // n_texts
    out[:, 1] = pairs % n_texts
    out[:, 2] = matched
    out[:, 3] = run_len[best]
    out[:, 4] = t[run_start[best]]
    out[:, 5] = h[run_start[best]]
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
    normal = [normal_form(t) for t in texts]
    batch = hash_words(normal)
    n_docs = len(texts)
    methods = set(opts.methods) if index is not None else set()
    exact_doc = exact_text = _Z
    ngram = np.zeros((0, 6), dtype=np.int64)
    near_doc = near_text = _Z
    near_sim = np.zeros(0)
    if "exact" in methods and index is not None and index.exact_keys.size:
        qi, ki = lookup(index.exact_keys, text_hashes(batch))
        exact_doc, exact_text = qi, index.exact_text[ki]
    if "ngram" in methods and index is not None and index.ngram_keys.size:
        grams, start = ngram_hashes(batch, opts.n)
        ngram = _ngram_pairs(index, grams, start, batch.doc, batch.offsets)
    need_near = "near_duplicate" in methods and index is not None and index.band_keys.size > 0
    if need_near or within:
        sh, sstart = shingle_hashes(batch.hashes, batch.doc, opts.shingle)
        sdoc = batch.doc[sstart]
    if need_near and index is not None:
        covered = template_cover(batch, index.template, opts.template_n)
        content_words = np.bincount(batch.doc[~covered], minlength=n_docs)[:n_docs]
        keep = window_counts(covered, opts.shingle)[sstart] == 0 if sh.size else np.zeros(0, dtype=bool)
        sig = signatures(sh[keep], sdoc[keep], n_docs, num_perm=opts.num_perm)
        has = np.bincount(sdoc[keep], minlength=n_docs)[:n_docs] > 0
        ok = np.flatnonzero(has & (content_words >= opts.min_words))
        if ok.size:
            keys = band_keys(sig[ok], opts.bands, opts.rows).ravel()
            qi, ki = lookup(index.band_keys, keys)
            if qi.size:
                n_texts = index.words.size
                cand = np.unique(ok[qi // opts.bands] * n_texts + index.band_text[ki])
                cd, ct = cand // n_texts, cand % n_texts
                sim = pair_similarity(sig[cd], index.sig[ct])
                hit = sim >= opts.threshold
                near_doc, near_text, near_sim = cd[hit], ct[hit], sim[hit]
    hits = ChunkHits(exact_doc, exact_text, ngram, near_doc, near_text, near_sim)
    if within:
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


# Worker-process state: the index is sent once per worker, not once per batch.
_WORKER: dict[str, object] = {}


def init_worker(index: HoldoutIndex | None, opts: LeakageOptions, within: bool) -> None:
    """Pool initializer: keep the index in the worker."""
    _WORKER["index"], _WORKER["opts"], _WORKER["within"] = index, opts, within


def worker_scan(texts: list[str], owners: np.ndarray, n_records: int) -> ChunkHits:
    """Pool task: scan one batch with the worker's index."""
    index = _WORKER["index"]
    opts = _WORKER["opts"]
    assert isinstance(opts, LeakageOptions)
    return scan_texts(index, texts, owners, n_records, opts, within=bool(_WORKER["within"]))  # type: ignore[arg-type]


__all__ = ["ChunkHits", "init_worker", "member", "scan_texts", "worker_scan"]
