"""Features of prompts that drift is measured on: embeddings, length, script, personal data, n-grams."""

from __future__ import annotations

import itertools
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Literal

import numpy as np

from harness.errors import InputError
from harness.validate.pii import find_pii

__all__ = ["EMBEDDERS", "dominant_script", "embed", "has_pii", "new_ngrams", "word_count"]

EMBEDDERS = ("minilm", "hashing")
Embedder = Literal["minilm", "hashing"]


def embed(texts: Sequence[str], method: str) -> np.ndarray:
    """L2-normalised vectors of texts.

    ``minilm``: all-MiniLM-L6-v2 sentence embeddings (the ``embed`` extra). ``hashing``: word
    1-2-gram counts hashed into 4,096 columns and L2-normalised, text by text (no model and no
    fitting, so a text gets the same vector in every window; a lexical view of the traffic).
    """
    if method == "minilm":
        from harness.leakage.embed import Embedder

        return Embedder().encode(list(texts)).astype(np.float64)
    if method == "hashing":
        from sklearn.feature_extraction.text import HashingVectorizer

        vec = HashingVectorizer(n_features=4096, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        return np.asarray(vec.transform(list(texts)).todense(), dtype=np.float64)
    raise InputError(
        f"The 'embedder' parameter of monitor must be one of {{{', '.join(map(repr, EMBEDDERS))}}}; got {method!r}.",
        field="embedder",
    )


def word_count(text: str) -> int:
    """Whitespace-separated words."""
    return len(text.split())


_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK", "ARABIC", "HEBREW", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "DEVANAGARI")


def dominant_script(text: str) -> str:
    """The writing system of most letters in a text (``latin``, ``cyrillic``, ``cjk`` ...), or ``none``.

    >>> dominant_script("Where is my order?"), dominant_script("Где мой заказ?")
    ('latin', 'cyrillic')
    """
    counts: Counter[str] = Counter()
    for ch in text:
        if not ch.isalpha():
            continue
        name = unicodedata.name(ch, "")
        script = next((s for s in _SCRIPTS if name.startswith(s)), "other")
        counts["cjk" if script in ("CJK", "HIRAGANA", "KATAKANA") else script.lower()] += 1
    return counts.most_common(1)[0][0] if counts else "none"


def has_pii(text: str) -> bool:
    """Whether the text holds personal data (e-mail, phone, card, ... as ``validate`` finds it)."""
    return next(iter(find_pii(text)), None) is not None


def _bigrams(text: str) -> list[str]:
    words = [w.strip(".,;:!?\"'()[]").lower() for w in text.split()]
    words = [w for w in words if w]
    return [f"{a} {b}" for a, b in itertools.pairwise(words)]


def new_ngrams(reference: Sequence[str], window: Sequence[str], *, top: int = 10) -> list[tuple[str, int]]:
    """Word bigrams of the window that never occur in the reference, most frequent first.

    >>> new_ngrams(["reset my password"], ["refund my order", "refund my order now"], top=2)
    [('my order', 2), ('refund my', 2)]
    """
    seen = {g for t in reference for g in _bigrams(t)}
    counts = Counter(g for t in window for g in _bigrams(t) if g not in seen)
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
