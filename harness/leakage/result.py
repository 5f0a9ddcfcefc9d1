"""Findings from scan hits: one finding per leaked (training example, holdout item) pair.

A pair matched by several methods or fields is reported once, under its strongest method
(exact > ngram > near_duplicate > paraphrase); ``data.methods`` lists every method that matched
with its best score, ``data.matches`` every (field, holdout field, method, score).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from harness.allocator import release_freed_memory
from harness.findings import Finding
from harness.leakage.evidence import build_evidence
from harness.leakage.index import HoldoutIndex
from harness.leakage.methods import method_names, method_rank
from harness.leakage.options import LeakageOptions
from harness.leakage.scan import PairHit, WithinStore

MAX_MATCHES_LISTED = 10


class LeakageResult(BaseModel):
    """The result of :func:`~harness.leakage.scan_leakage`.

    ``leaked_holdout_ids`` maps each holdout, by the path string it was given as, to the ids of its
    items that leaked (every holdout given is a key, with an empty set when clean).
    """

    findings: list[Finding]
    leaked_holdout_ids: dict[str, set[str]]
    n_examples: int = Field(description="training examples (rows) scanned")
    n_texts: int = Field(description="training text fields scanned")
    holdouts: dict[str, int] = Field(description="items per holdout")
    methods: dict[str, str] = Field(description="method -> 'on' or why it is off")
    ran: list[str] = Field(default_factory=list, description="the methods that ran")
    options: dict[str, Any]

    def all_leaked_ids(self) -> set[tuple[str, str]]:
        """Every leaked item as (holdout, item id)."""
        return {(h, i) for h, ids in self.leaked_holdout_ids.items() for i in ids}


def _describe(method: str, detail: dict[str, Any]) -> str:
    if method == "exact":
        return "identical after normalisation (case, spacing, punctuation)"
    if method == "ngram":
        return (
            f"{detail['matched_ngrams']} of {detail['holdout_ngrams']} word {detail['n']}-grams of the item "
            f"({100 * detail['containment']:.0f}%), longest shared span "
            f"{detail['train_words'][1] - detail['train_words'][0]} words"
        )
    if method == "near_duplicate":
        return f"near duplicate, Jaccard similarity {detail['similarity']:.2f}"
    return f"paraphrase, embedding cosine similarity {detail['cosine']:.2f}"


def leak_findings(hits: list[PairHit], index: HoldoutIndex, opts: LeakageOptions) -> list[Finding]:
    """One finding per leaked (training record, holdout, item), in file order."""
    groups: dict[tuple[int, str, str], list[PairHit]] = defaultdict(list)
    for h in hits:
        t = index.texts[h.holdout_text]
        groups[(h.record, t.holdout, t.item_id)].append(h)
    rank = {m: method_rank(m) for m in method_names()}
    out = []
    for (_rec, holdout, item_id), group in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        group.sort(key=lambda h: (rank[h.method], -h.score, h.field))
        best = group[0]
        ht = index.texts[best.holdout_text]
        methods: dict[str, float] = {}
        for h in group:
            methods[h.method] = max(methods.get(h.method, 0.0), round(h.score, 4))
        ev = build_evidence(best.method, best.text, ht.text, best.detail)
        matches = [
            {
                "field": h.field,
                "holdout_field": index.texts[h.holdout_text].field,
                "method": h.method,
                "score": round(h.score, 4),
            }
            for h in group[:MAX_MATCHES_LISTED]
        ]
        data = {
            "method": best.method,
            "score": round(best.score, 4),
            "field": best.field,
            "holdout_field": ht.field,
            **ev,
            "methods": methods,
            "matches": matches,
        }
        span = ev["evidence"]["matched_span"]
        shown = span if len(span) <= 80 else span[:79] + "…"
        out.append(
            Finding(
                check=f"leakage.{best.method}",
                severity=opts.severity,
                message=f"line {best.line}: field '{best.field}' leaks item '{item_id}' ({ht.field}) of holdout "
                f"{holdout}: {_describe(best.method, best.detail)}; matched: \u201c{shown}\u201d",
                ids=[best.record_id],
                lines=[best.line],
                holdout_ids=[item_id],
                holdout=holdout,
                data=data,
            )
        )
    return out


def leaked_ids(findings: list[Finding], holdouts: list[str]) -> dict[str, set[str]]:
    """Holdout -> ids of its leaked items, from leakage findings."""
    out: dict[str, set[str]] = {h: set() for h in holdouts}
    for f in findings:
        if f.check.startswith("leakage.") and f.holdout is not None and f.holdout_ids:
            out.setdefault(f.holdout, set()).update(f.holdout_ids)
    return out


_RELEASE_EVERY = 64 * 2**20  # bytes of joined chunks after which their freed memory is handed back


def _blocks(parts: list[np.ndarray], rows: int = 1 << 16) -> list[np.ndarray]:
    """The store's per-chunk arrays joined into blocks of about ``rows`` rows, in place.

    The chunks are freed as their block is made and their memory handed back to the kernel every
    :data:`_RELEASE_EVERY` bytes (glibc keeps the holes they leave, which a block does not fit), so
    the extra memory is a few blocks, not a second copy of the store (which a single join of
    everything, or the holes, would hold at the end of a large file).
    """
    parts.reverse()
    blocks: list[np.ndarray] = []
    freed = 0
    while parts:
        group = [parts.pop()]
        while parts and sum(map(len, group)) < rows:
            group.append(parts.pop())
        blocks.append(np.concatenate(group) if len(group) > 1 else group[0])
        if len(group) > 1:
            freed += blocks[-1].nbytes
        del group
        if freed >= _RELEASE_EVERY:  # the chunks' heap holes do not fit a block: hand them back
            release_freed_memory()
            freed = 0
    parts[:] = blocks
    return parts


class BlockRows:
    """Rows of a list of blocks (arrays with the same trailing shape), read without joining them."""

    def __init__(self, blocks: list[np.ndarray]) -> None:
        self.blocks = blocks
        self.starts = np.cumsum([0, *map(len, blocks)])

    def take(self, idx: np.ndarray) -> np.ndarray:
        """Rows ``idx`` (global row numbers), as one array."""
        which = np.searchsorted(self.starts, idx, side="right") - 1
        first = self.blocks[0]
        out = np.empty((len(idx), *first.shape[1:]), dtype=first.dtype)
        for j in np.unique(which).tolist():
            here = which == j
            out[here] = self.blocks[j][idx[here] - self.starts[j]]
        return out

    def column(self, col: int) -> np.ndarray:
        """Column ``col`` of every row."""
        return np.concatenate([b[:, col] for b in self.blocks])


def near_duplicate_findings(store: WithinStore, opts: LeakageOptions) -> list[Finding]:
    """``duplicates.near`` groups: training records whose estimated Jaccard similarity is >= ``near_threshold``.

    Records identical after normalisation are ``duplicates.exact``, not repeated here.
    """
    if not store.sig:
        return []
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    sig, bands = BlockRows(_blocks(store.sig)), BlockRows(_blocks(store.bands))
    dig = np.concatenate(_blocks(store.digest))
    ok = np.flatnonzero(np.concatenate(_blocks(store.ok)))
    pairs = []
    for b in range(bands.blocks[0].shape[1]):
        col = bands.column(b)
        order = ok[np.argsort(col[ok], kind="stable")]
        k = col[order]
        del col
        same = k[1:] == k[:-1]
        if not same.any():
            continue
        i = np.flatnonzero(same)
        pairs.append(np.stack([order[i], order[i + 1]], axis=1))
        run_id = np.concatenate(([0], np.cumsum(~same)))
        run_first = order[np.flatnonzero(np.concatenate(([True], ~same)))]
        first = run_first[run_id]
        star = first != order
        pairs.append(np.stack([first[star], order[star]], axis=1))
    if not pairs:
        return []
    p = np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)
    p = p[dig[p[:, 0]] != dig[p[:, 1]]]
    # b-bit minwise hashing (Li and König 2010): 8-bit values agree by chance with probability 1/256.
    sims = np.empty(p.shape[0])
    for s in range(0, p.shape[0], 65536):
        q = p[s : s + 65536]
        agree = (sig.take(q[:, 0]) == sig.take(q[:, 1])).mean(axis=1)
        sims[s : s + 65536] = np.clip((agree - 1 / 256) / (1 - 1 / 256), 0.0, 1.0)
    keep = sims >= opts.near_threshold
    p, sims = p[keep], sims[keep]
    if p.shape[0] == 0:
        return []
    n = len(store.ids)
    graph = coo_matrix((np.ones(p.shape[0]), (p[:, 0], p[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    members: dict[int, set[int]] = defaultdict(set)
    edge_sims: dict[int, list[float]] = defaultdict(list)
    for (a, b), s in zip(p.tolist(), sims.tolist(), strict=True):
        members[int(label[a])].update((a, b))
        edge_sims[int(label[a])].append(s)
    out = []
    for comp, mem in sorted(members.items(), key=lambda kv: min(kv[1])):
        idx = sorted(mem)
        ids = [store.ids[i] for i in idx]
        lines = [store.lines[i] for i in idx]
        lo, hi = min(edge_sims[comp]), max(edge_sims[comp])
        out.append(
            Finding(
                check="duplicates.near",
                severity="warning",
                message=f"{len(idx)} records are near duplicates (estimated Jaccard {lo:.2f}-{hi:.2f} over word "
                f"{opts.shingle}-grams, threshold {opts.near_threshold}): lines "
                f"{', '.join(map(str, lines[:8]))}{' ...' if len(lines) > 8 else ''}",
                ids=ids,
                lines=lines,
                data={
                    "similarity_min": round(lo, 4),
                    "similarity_max": round(hi, 4),
                    "threshold": opts.near_threshold,
                    "shingle": opts.shingle,
                },
            )
        )
    return out
