"""The streaming scanner: batches training texts, fans them out to worker processes, keeps the hits.

Training data are read once, in batches of ``chunk_size`` examples; at most two batches per worker
are in flight, so memory is bounded by the holdout index and those batches, whatever the file
size. Paraphrase embeddings (when on) are computed in the main process while the workers do the
hashing methods.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from typing import Any

import numpy as np

from harness.leakage.chunk import ChunkHits, init_worker, scan_texts, worker_scan
from harness.leakage.embed import Embedder, windows
from harness.leakage.index import HoldoutIndex
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import hash_words, normal_form

EMBED_CACHE = 4096  # texts whose embeddings are kept for reuse


@dataclass
class _Chunk:
    texts: list[str]
    owners: np.ndarray  # the record of each text
    dicts: Sequence[dict[str, str]]  # each record's text fields
    ids: Sequence[str]
    lines: Sequence[int]

    def field(self, doc: int) -> str:
        """The field name of text ``doc`` (found for the few texts with a hit, not listed for all)."""
        owner = int(self.owners[doc])
        first = int(np.searchsorted(self.owners, owner))  # the record's first text
        return next(islice(self.dicts[owner], doc - first, None))


@dataclass
class PairHit:
    """One training text matching one holdout text by one method."""

    record: int  # index of the training record in scan order
    record_id: str
    line: int
    field: str
    text: str
    holdout_text: int
    method: str
    score: float
    detail: dict[str, Any]


@dataclass
class WithinStore:
    """Per-record MinHash data for within-train near duplicates.

    About 230 bytes a record: 128 one-byte MinHash values, the band keys (4 bytes each, 21 by
    default), an 8-byte digest and a flag, kept as one array per chunk of records.
    """

    sig: list[np.ndarray] = field(default_factory=list)
    bands: list[np.ndarray] = field(default_factory=list)
    digest: list[np.ndarray] = field(default_factory=list)
    ok: list[np.ndarray] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def _pair(c: _Chunk, base: int, doc: int, ht: int, method: str, score: float, detail: dict[str, Any]) -> PairHit:
    owner = int(c.owners[doc])
    return PairHit(base + owner, c.ids[owner], c.lines[owner], c.field(doc), c.texts[doc], ht, method, score, detail)


class Scanner:
    """Scan training records against a holdout index (and/or collect within-train signatures).

    Args:
        index: the holdout index; None for within-train near duplicates only.
        opts: options.
        within: collect per-record signatures for ``duplicates.near``.
        embedder: a sentence embedder for paraphrase detection, or None (off).
    """

    def __init__(
        self,
        index: HoldoutIndex | None,
        opts: LeakageOptions,
        *,
        within: bool = False,
        embedder: Embedder | None = None,
    ) -> None:
        self.index = index
        self.opts = opts
        self.within = within
        self.embedder = embedder
        self.workers = opts.n_workers()
        self._queued: list[tuple[str, int, dict[str, str]]] = []
        self.pending: deque[tuple[_Chunk, int, Any]] = deque()
        self.pool: Any = None
        self.n_records = 0
        self.n_texts = 0
        self.hits: list[PairHit] = []
        self.store = WithinStore()
        self.closed = False
        self._holdout_emb: np.ndarray | None = None
        self._emb_cache: dict[str, np.ndarray] = {}
        self._holdout_emb_text: np.ndarray | None = None
        if embedder is not None and index is not None:
            ok = np.flatnonzero(index.fuzzy_ok)
            self._holdout_emb_text = ok
            self._holdout_emb = embedder.encode_cached([index.content[i] for i in ok])

    # ------------------------------------------------------------------ feeding
    def add(self, record_id: str, line: int, texts: dict[str, str]) -> None:
        """Queue one training record's text fields."""
        self._queued.append((record_id, line, texts))
        if len(self._queued) >= self.opts.chunk_size:
            self._submit()

    def add_many(self, records: list[tuple[str, int, dict[str, str]]]) -> None:
        """Queue several training records, each ``(record id, line, text fields)``."""
        self._queued.extend(records)
        while len(self._queued) >= self.opts.chunk_size:
            self._submit()

    def _take_chunk(self) -> _Chunk:
        """The queued records as one batch of texts (each text with its record and field)."""
        size = self.opts.chunk_size
        records, self._queued = self._queued[:size], self._queued[size:]
        ids, lines, dicts = zip(*records, strict=True) if records else ((), (), ())
        counts = np.fromiter(map(len, dicts), dtype=np.int64, count=len(dicts))
        owners = np.repeat(np.arange(len(dicts), dtype=np.int64), counts)
        texts = list(chain.from_iterable(map(dict.values, dicts)))
        return _Chunk(texts, owners, dicts, ids, lines)

    def _submit(self) -> None:
        c = self._take_chunk()
        if not c.ids:
            return
        base = self.n_records
        self.n_records += len(c.ids)
        self.n_texts += len(c.texts)
        owners = c.owners
        if self.workers > 1 and (self.pool is not None or base > 0):
            if self.pool is None:
                self._start_pool()
            res = self.pool.apply_async(worker_scan, (c.texts, owners, len(c.ids)))
            self.pending.append((c, base, res))
        else:
            self.pending.append(
                (c, base, scan_texts(self.index, c.texts, owners, len(c.ids), self.opts, within=self.within))
            )
        if self.embedder is not None:
            self._paraphrase(c, base)
        # Inline, a batch is taken in at once: its rows are freed while still in cache, and the
        # next batch's rows are read into the memory they held.
        while len(self.pending) > (2 * self.workers if self.pool is not None else 0):
            self._collect()

    def _start_pool(self) -> None:
        # fork on Linux: workers inherit the index without a copy and need no import of the caller's
        # main module (a script without an ``if __name__ == "__main__"`` guard still works). The
        # workers run numpy only, never torch, so a parent that loaded the embedding model is safe.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        slim = self.index
        if method != "fork" and self.index is not None:
            slim = replace(self.index, texts=[], content=[], filters={})
        ctx = multiprocessing.get_context(method)
        self.pool = ctx.Pool(self.workers, initializer=init_worker, initargs=(slim, self.opts, self.within))

    def _collect(self) -> None:
        c, base, res = self.pending.popleft()
        hits: ChunkHits = res if isinstance(res, ChunkHits) else res.get()
        self._absorb(c, base, hits)

    # ------------------------------------------------------------------ results
    def _absorb(self, c: _Chunk, base: int, h: ChunkHits) -> None:
        def hit(doc: int, ht: int, method: str, score: float, detail: dict[str, Any]) -> None:
            self.hits.append(_pair(c, base, doc, ht, method, score, detail))

        for doc, ht in zip(h.exact_doc.tolist(), h.exact_text.tolist(), strict=True):
            hit(doc, ht, "exact", 1.0, {"similarity": 1.0})
        if h.ngram.size and self.index is not None:
            total = self.index.ngram_total
            for doc, ht, matched, run, ts, te, hs, he in h.ngram.tolist():
                frac = matched / max(1, int(total[ht]))
                detail = {
                    "containment": round(frac, 4),
                    "matched_ngrams": matched,
                    "holdout_ngrams": int(total[ht]),
                    "n": self.opts.n,
                    "run": run,
                    "train_words": [ts, te],
                    "holdout_words": [hs, he],
                }
                hit(doc, ht, "ngram", frac, detail)
        near = zip(h.near_doc.tolist(), h.near_text.tolist(), h.near_sim.tolist(), h.near_est.tolist(), strict=True)
        for doc, ht, sim, est in near:
            detail = {"similarity": round(sim, 4), "measure": "jaccard", "minhash_estimate": round(est, 4)}
            hit(doc, ht, "near_duplicate", sim, detail)
        if self.within and h.record_sig is not None:
            s = self.store
            s.sig.append(h.record_sig)
            s.bands.append(h.record_bands)  # type: ignore[arg-type]
            s.digest.append(h.record_digest)  # type: ignore[arg-type]
            s.ok.append(h.record_ok)  # type: ignore[arg-type]
            s.ids.extend(c.ids)
            s.lines.extend(c.lines)

    def _paraphrase(self, c: _Chunk, base: int) -> None:
        assert self.embedder is not None and self.index is not None
        if self._holdout_emb is None or self._holdout_emb.size == 0:
            return
        normal = [normal_form(t) for t in c.texts]
        batch = hash_words(normal)
        covered = self.index.cover(batch)
        win_texts: list[str] = []
        win_doc: list[int] = []
        for i, text in enumerate(normal):
            lo, hi = int(batch.offsets[i]), int(batch.offsets[i + 1])
            words = text.split(" ") if hi > lo else []
            cov = covered[lo:hi]
            content = [w for w, cv in zip(words, cov, strict=True) if not cv] if cov.any() else words
            if len(content) < self.opts.min_words:
                continue
            for w in windows(content, self.opts.paraphrase_window):
                win_texts.append(w)
                win_doc.append(i)
        if not win_texts:
            return
        # Repeated texts (a system prompt in every chat) are embedded once: within the batch, and
        # across batches through a small cache of the most recent texts.
        cache = self._emb_cache
        todo = [t for t in dict.fromkeys(win_texts) if t not in cache]
        if todo:
            for t, v in zip(todo, self.embedder.encode(todo), strict=True):
                cache[t] = v
        emb = np.stack([cache[t] for t in win_texts])
        while len(cache) > EMBED_CACHE:
            cache.pop(next(iter(cache)))
        sims = emb @ self._holdout_emb.T
        wi, hj = np.nonzero(sims >= self.opts.paraphrase_threshold)
        best: dict[tuple[int, int], float] = {}
        assert self._holdout_emb_text is not None
        for wrow, j in zip(wi.tolist(), hj.tolist(), strict=True):
            key = (win_doc[wrow], int(self._holdout_emb_text[j]))
            best[key] = max(best.get(key, -1.0), float(sims[wrow, j]))
        for (doc, ht), cos in best.items():
            self.hits.append(_pair(c, base, doc, ht, "paraphrase", cos, {"cosine": round(cos, 4)}))

    def close(self) -> None:
        """Scan what is still buffered, wait for the workers and stop them (idempotent)."""
        if self.closed:
            return
        try:
            self._submit()
            while self.pending:
                self._collect()
        finally:
            self.closed = True
            if self.pool is not None:
                self.pool.close()
                self.pool.join()
                self.pool = None

    def abort(self) -> None:
        """Stop the workers without waiting for their results."""
        self.closed = True
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
