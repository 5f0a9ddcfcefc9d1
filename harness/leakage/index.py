"""The holdout index: everything a training batch is looked up against, built once per scan.

Its size depends on the holdouts only (a few bytes per holdout word), so memory stays bounded by
it however long the training file is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from harness.arrays import distinct, run_positions
from harness.leakage.holdout import HoldoutItem
from harness.leakage.minhash import band_keys, shingle_hashes, shingle_sets, signatures
from harness.leakage.options import LeakageOptions
from harness.leakage.tokens import (
    TokenBatch,
    coverage,
    find_ngrams,
    hash_texts,
    key_filter,
    lookup,
    ngram_hashes,
    normal_form,
    text_hashes,
)

ANSWER_FIELDS = ("reference", "completion")


class HoldoutText(NamedTuple):
    """One text field of one holdout item."""

    holdout: str
    item_id: str
    field: str
    text: str


@dataclass
class HoldoutIndex:
    """Sorted hash arrays over holdout texts (see :func:`build_index`)."""

    options: LeakageOptions
    texts: list[HoldoutText]
    n_items: dict[str, int]
    words: np.ndarray  # words per text
    content_words: np.ndarray  # words outside templates per text
    fuzzy_ok: np.ndarray  # long enough for near-duplicate and paraphrase matching
    template: np.ndarray  # sorted template n-gram hashes
    exact_keys: np.ndarray
    exact_text: np.ndarray
    ngram_keys: np.ndarray
    ngram_text: np.ndarray
    ngram_pos: np.ndarray
    ngram_total: np.ndarray  # n-grams of the non-template words per text (containment denominator)
    content_offsets: np.ndarray  # per text: where its non-template words start in content_orig
    content_orig: np.ndarray  # position in its text of each non-template word
    sig: np.ndarray  # MinHash signatures of the non-template shingles, one row per text
    band_keys: np.ndarray
    band_text: np.ndarray
    content: list[str] = field(default_factory=list)  # non-template words per text, for embedding
    # Distinct non-template shingles of each text (sorted; ``set_offsets[i]:set_offsets[i + 1]``):
    # near-duplicate candidates are confirmed by their exact Jaccard similarity.
    shingle_set: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    set_offsets: np.ndarray = field(default_factory=lambda: np.zeros(1, np.int64))
    skipped: dict[str, int] = field(default_factory=dict)
    filters: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def filter(self, name: str) -> np.ndarray:
        """The bitmap pre-filter of a key array (``exact``, ``ngram``, ``band``, ``template``), built on first use."""
        if name not in self.filters:
            keys = {
                "exact": self.exact_keys,
                "ngram": self.ngram_keys,
                "band": self.band_keys,
                "template": self.template,
            }
            self.filters[name] = key_filter(keys[name])
        return self.filters[name]

    def cover(self, batch: TokenBatch, prefix: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask over a batch's words: covered by a template n-gram (:func:`template_cover`)."""
        return template_cover(batch, self.template, self.options.template_n, self.filter("template"), prefix)

    def nbytes(self) -> int:
        """Bytes held by the index's arrays (the text itself not counted)."""
        arrays = (
            self.template,
            self.exact_keys,
            self.exact_text,
            self.ngram_keys,
            self.ngram_text,
            self.ngram_pos,
            self.ngram_total,
            self.content_offsets,
            self.content_orig,
            self.sig,
            self.band_keys,
            self.band_text,
            self.shingle_set,
            self.set_offsets,
        )
        return int(sum(a.nbytes for a in arrays))


def member(sorted_keys: np.ndarray, queries: np.ndarray, bitmap: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask: which queries occur in a sorted key array (``bitmap``: see :func:`key_filter`)."""
    out = np.zeros(queries.size, dtype=bool)
    if sorted_keys.size == 0 or queries.size == 0:
        return out
    qi, _ = lookup(sorted_keys, queries, bitmap)
    out[qi] = True
    return out


def template_grams(
    batch: TokenBatch, item_of_text: np.ndarray, group_of_text: np.ndarray, opts: LeakageOptions
) -> np.ndarray:
    """Sorted hashes of template n-grams: in at least max(``template_min_items``, ``template_min_share``
    x its items) items of one holdout."""
    grams, start = ngram_hashes(batch, opts.template_n)
    if grams.size == 0:
        return np.zeros(0, dtype=np.uint64)
    text = batch.doc[start]
    item = item_of_text[text]
    group = group_of_text[text]
    order = np.lexsort((item, grams, group))
    g, it, gr = grams[order], item[order], group[order]
    new_pair = np.ones(g.size, dtype=bool)
    new_pair[1:] = (g[1:] != g[:-1]) | (it[1:] != it[:-1]) | (gr[1:] != gr[:-1])
    g, gr = g[new_pair], gr[new_pair]
    new_gram = np.ones(g.size, dtype=bool)
    new_gram[1:] = (g[1:] != g[:-1]) | (gr[1:] != gr[:-1])
    starts = np.flatnonzero(new_gram)
    df = np.diff(np.append(starts, g.size))
    # items per holdout: a template is repeated by max(template_min_items, share x items) of them
    n_groups = int(group_of_text.max()) + 1 if group_of_text.size else 0
    first_text = np.unique(item_of_text, return_index=True)[1]
    items_per_group = np.bincount(group_of_text[first_text], minlength=n_groups)
    need = np.maximum(opts.template_min_items, np.ceil(opts.template_min_share * items_per_group))
    return distinct(g[starts[df >= need[gr[starts]]]])


def template_cover(
    batch: TokenBatch, template: np.ndarray, n: int, bitmap: np.ndarray | None = None, prefix: np.ndarray | None = None
) -> np.ndarray:
    """Boolean mask over the batch's words: covered by a template n-gram (``prefix``: see :func:`find_ngrams`)."""
    if template.size == 0:
        return np.zeros(batch.hashes.size, dtype=bool)
    start, _ = find_ngrams(batch, n, template, bitmap, prefix)
    if start.size == 0:
        return np.zeros(batch.hashes.size, dtype=bool)
    return coverage(start, n, batch.hashes.size)


def compress(batch: TokenBatch, covered: np.ndarray) -> tuple[TokenBatch, np.ndarray]:
    """The batch without its template words, and the index in ``batch`` of each word kept."""
    kept = np.flatnonzero(~covered)
    doc = batch.doc.take(kept)
    offsets = np.searchsorted(doc, np.arange(batch.offsets.size)).astype(np.int64)
    return TokenBatch(batch.hashes.take(kept), doc, offsets), kept


class CoveredPart(NamedTuple):
    """The texts of a batch that hold template words (see :func:`covered_part`)."""

    docs: np.ndarray  # mask over the batch's texts: holds a template word
    content: TokenBatch  # their other words, numbered like the batch (the other texts empty)
    kept: np.ndarray  # the index in the batch of each of those words


def covered_part(batch: TokenBatch, covered: np.ndarray) -> CoveredPart:
    """The few texts that hold template words, without those words.

    :func:`compress` gives the same words for those texts, but copies every text of the batch.
    """
    n_docs = batch.offsets.size - 1
    docs = np.zeros(n_docs, dtype=bool)
    docs[batch.doc_of(np.flatnonzero(covered))] = True
    d = np.flatnonzero(docs)
    lo, counts = batch.offsets[d], np.diff(batch.offsets)[d]
    words = run_positions(lo, counts)
    kept = words[~covered.take(words)]
    doc = batch.doc_of(kept)
    offsets = np.searchsorted(doc, np.arange(n_docs + 1)).astype(np.int64)
    return CoveredPart(docs, TokenBatch(batch.hashes.take(kept), doc, offsets), kept)


def position(batch: TokenBatch, word: np.ndarray) -> np.ndarray:
    """The position of each of these words (indices into ``batch``) in its own text."""
    return word - batch.offsets.take(batch.doc_of(word))


def content_strings(normal: list[str], batch: TokenBatch, covered: np.ndarray) -> list[str]:
    """Each text's normalised words outside templates, joined by spaces."""
    if not covered.any():
        return list(normal)
    out = []
    for i, text in enumerate(normal):
        lo, hi = batch.offsets[i], batch.offsets[i + 1]
        cov = covered[lo:hi]
        out.append(text if not cov.any() else " ".join(w for w, c in zip(text.split(" "), cov, strict=True) if not c))
    return out


def _holdout_texts(
    holdouts: list[tuple[str, list[HoldoutItem]]],
) -> tuple[list[HoldoutText], np.ndarray, np.ndarray, dict[str, int]]:
    """Every text field of every item: the texts, each one's item and holdout, items per holdout."""
    texts: list[HoldoutText] = []
    item_of: list[int] = []
    group_of: list[int] = []
    n_items: dict[str, int] = {}
    item_no = 0
    for g, (name, items) in enumerate(holdouts):
        n_items[name] = n_items.get(name, 0) + len(items)
        for item in items:
            for fname, text in item.texts.items():
                texts.append(HoldoutText(name, item.id, fname, text))
                item_of.append(item_no)
                group_of.append(g)
            item_no += 1
    return texts, np.asarray(item_of, dtype=np.int64), np.asarray(group_of, dtype=np.int64), n_items


def _near_index(cbatch: TokenBatch, fuzzy_ok: np.ndarray, opts: LeakageOptions) -> tuple[np.ndarray, ...]:
    """MinHash signatures of the texts' non-template shingles, their LSH band keys and each key's
    text, and each text's distinct shingles with their offsets."""
    n_texts = fuzzy_ok.size
    sh, sdoc = shingle_hashes(cbatch.hashes, cbatch.offsets, opts.shingle)
    sig = signatures(sh, sdoc, n_texts, num_perm=opts.num_perm)
    has_sh = np.bincount(sdoc, minlength=n_texts)[:n_texts] > 0
    near_ok = np.flatnonzero(has_sh & fuzzy_ok)
    keys = band_keys(sig[near_ok], opts.bands, opts.rows).ravel()
    sets, offsets = shingle_sets(sh, sdoc, np.arange(n_texts))
    return sig, keys, np.repeat(near_ok, opts.bands), sets, offsets


def build_index(holdouts: list[tuple[str, list[HoldoutItem]]], opts: LeakageOptions) -> HoldoutIndex:
    """Index the text fields of every item of every holdout.

    Args:
        holdouts: (name shown in findings, items) per holdout.
        opts: scan options.
    """
    texts, item_arr, group_arr, n_items = _holdout_texts(holdouts)
    batch = hash_texts([t.text for t in texts])
    n_texts = len(texts)
    template = template_grams(batch, item_arr, group_arr, opts)
    covered = template_cover(batch, template, opts.template_n)
    words = np.diff(batch.offsets)
    content_words = np.bincount(batch.doc[~covered], minlength=n_texts)[:n_texts]
    # Answers (reference, completion) need n words: a label, a number or a short JSON answer shared
    # with a training example says nothing about the item having leaked.
    is_answer = np.array([t.field.split("[")[0] in ANSWER_FIELDS for t in texts], dtype=bool)
    min_len = np.where(is_answer, max(opts.n, opts.min_words), opts.min_words)
    skipped = {
        "short_prompt": int(np.sum(~is_answer & (words < min_len))),
        "short_answer": int(np.sum(is_answer & (words < min_len))),
        "template_only": int(np.sum((words >= min_len) & (content_words == 0))),
    }
    fuzzy_ok = content_words >= min_len
    exact_ok = np.flatnonzero((words >= min_len) & (content_words > 0))
    th = text_hashes(batch)[exact_ok]
    order = np.argsort(th, kind="stable")
    exact_keys, exact_text = th[order], exact_ok[order]

    # n-grams and shingles are taken over the words outside templates.
    cbatch, kept = compress(batch, covered)
    corig = position(batch, kept)
    grams, start = ngram_hashes(cbatch, opts.n)
    gtext = cbatch.doc[start]
    order = np.argsort(grams, kind="stable")
    ngram_keys, ngram_text = grams[order], gtext[order]
    ngram_pos = (start - cbatch.offsets[gtext])[order]
    ngram_total = np.bincount(gtext, minlength=n_texts)[:n_texts]

    if "near_duplicate" in opts.methods:
        sig, keys, btext, sets, set_offsets = _near_index(cbatch, fuzzy_ok, opts)
    else:  # not asked for: no signatures (an empty key array turns the method off in every batch)
        sig, keys, btext = np.zeros((n_texts, 0), np.uint64), np.zeros(0, np.uint64), np.zeros(0, np.int64)
        sets, set_offsets = np.zeros(0, np.uint64), np.zeros(n_texts + 1, np.int64)
    order = np.argsort(keys, kind="stable")
    if "paraphrase" in opts.methods:
        content = content_strings([normal_form(t.text) for t in texts], batch, covered)
    else:
        content = []
    return HoldoutIndex(
        options=opts,
        texts=texts,
        n_items=n_items,
        words=words,
        content_words=content_words,
        fuzzy_ok=fuzzy_ok,
        template=template,
        exact_keys=exact_keys,
        exact_text=exact_text,
        ngram_keys=ngram_keys,
        ngram_text=ngram_text,
        ngram_pos=ngram_pos,
        ngram_total=ngram_total,
        content_offsets=cbatch.offsets,
        content_orig=corig,
        sig=sig,
        band_keys=keys[order],
        band_text=btext[order],
        content=content,
        shingle_set=sets,
        set_offsets=set_offsets,
        skipped=skipped,
    )


__all__ = [
    "CoveredPart",
    "HoldoutIndex",
    "HoldoutText",
    "build_index",
    "compress",
    "covered_part",
    "lookup",
    "member",
    "position",
    "template_cover",
]
