"""Evidence for a leaked pair: the matched span in both texts, and excerpts with the span marked.

Only flagged pairs get here, so this may use plain Python (difflib) on the two texts.
"""

from __future__ import annotations

import difflib
from typing import Any, NamedTuple

from harness.leakage.tokens import normal_words, word_spans

CONTEXT_CHARS = 160
MAX_MARK_CHARS = 600
MAX_SPAN_TEXT = 400


class WordSpan(NamedTuple):
    """Spans of normalised words, ``[start, end)``, in the train text and in the holdout text."""

    train_start: int
    train_end: int
    holdout_start: int
    holdout_end: int


def longest_common_span(train_words: list[str], holdout_words: list[str]) -> WordSpan:
    """The longest run of words the two texts share, in order.

    >>> longest_common_span("x a b c y".split(), "a b c z".split())
    WordSpan(train_start=1, train_end=4, holdout_start=0, holdout_end=3)
    """
    m = difflib.SequenceMatcher(None, train_words, holdout_words, autojunk=False)
    block = m.find_longest_match(0, len(train_words), 0, len(holdout_words))
    return WordSpan(block.a, block.a + block.size, block.b, block.b + block.size)


def _char_span(text: str, words: list[str], start: int, end: int) -> tuple[str, int, int]:
    """(display text, char start, char end) of a word span; the normal form when spans do not line up."""
    spans = word_spans(text)
    if end <= start:
        return text, 0, 0
    if spans is not None and end <= len(spans):
        return text, spans[start][0], spans[end - 1][1]
    normal = " ".join(words)
    before = len(" ".join(words[:start])) + (1 if start else 0)
    return normal, before, before + len(" ".join(words[start:end]))


def excerpt(text: str, start: int, end: int) -> dict[str, Any]:
    """A short excerpt of ``text`` around ``[start, end)`` with the span's offsets in the excerpt.

    Long spans keep their beginning and end with ``" … "`` between; ``mark`` is ``[a, b]`` in the
    returned text.

    >>> excerpt("abcdef", 2, 4)
    {'text': 'abcdef', 'mark': [2, 4], 'clipped': False}
    """
    lo = max(0, start - CONTEXT_CHARS)
    hi = min(len(text), end + CONTEXT_CHARS)
    span = text[start:end]
    if len(span) > MAX_MARK_CHARS:
        half = MAX_MARK_CHARS // 2
        span = span[:half] + " … " + span[-half:]
    before, after = text[lo:start], text[end:hi]
    prefix = "…" if lo > 0 else ""
    suffix = "…" if hi < len(text) else ""
    out = prefix + before + span + after + suffix
    a = len(prefix) + len(before)
    return {"text": out, "mark": [a, a + len(span)], "clipped": bool(prefix or suffix or len(span) < end - start)}


def build_evidence(method: str, train_text: str, holdout_text: str, detail: dict[str, Any]) -> dict[str, Any]:
    """Evidence of one leaked pair: matched span (words and characters), scores, marked excerpts.

    Args:
        method: ``exact``, ``ngram``, ``near_duplicate`` or ``paraphrase``.
        train_text: the training field's text.
        holdout_text: the holdout field's text.
        detail: method numbers (``train_words``/``holdout_words`` spans for n-grams, scores).
    """
    tw, hw = normal_words(train_text), normal_words(holdout_text)
    if method == "exact":
        span = WordSpan(0, len(tw), 0, len(hw))
    elif method == "ngram":
        (a, b), (c, d) = detail["train_words"], detail["holdout_words"]
        span = WordSpan(int(a), int(b), int(c), int(d))
    else:
        span = longest_common_span(tw, hw)
    t_disp, ts, te = _char_span(train_text, tw, span.train_start, span.train_end)
    h_disp, hs, he = _char_span(holdout_text, hw, span.holdout_start, span.holdout_end)
    words = " ".join(tw[span.train_start : span.train_end])
    if len(words) > MAX_SPAN_TEXT:
        words = words[: MAX_SPAN_TEXT - 1] + "…"
    ev: dict[str, Any] = {k: v for k, v in detail.items() if k not in ("train_words", "holdout_words", "run")}
    ev.update(
        {
            "matched_span": words,
            "span_words": span.train_end - span.train_start,
            "train_span": [ts, te] if t_disp is train_text else None,
            "holdout_span": [hs, he] if h_disp is holdout_text else None,
        }
    )
    excerpts = {"train": excerpt(t_disp, ts, te), "holdout": excerpt(h_disp, hs, he)}
    return {"evidence": ev, "excerpts": excerpts}
