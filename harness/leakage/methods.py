"""The leakage methods, registered in :data:`LEAKAGE` (``harness list leakage``).

The scanner runs every method in one pass (``chunk.py``, ``index.py``, ``scan.py``); this module
says which methods exist, their strength (a pair matched by several is reported under the
strongest: the lowest ``rank``), which options they read and how their settings are stated, and
decides for one scan which methods run and why another does not (:func:`method_statuses`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from harness.registry import Registry

__all__ = ["LEAKAGE", "LeakageMethod", "MethodStatus", "method_names", "method_rank", "method_statuses"]


@dataclass(frozen=True)
class LeakageMethod:
    """One way a training text can match a holdout item.

    Attributes:
        rank: strength; 0 is the strongest evidence.
        settings: how the method's settings are stated, a format string over the scan options.
        extra: the optional dependency the method needs (None: always available).
    """

    rank: int
    settings: str = ""
    extra: str | None = None

    def describe(self, options: Mapping[str, Any]) -> str:
        """The method's settings for these options (``"word 13-grams"``)."""
        return self.settings.format(**options)


LEAKAGE: Registry[LeakageMethod] = Registry("leakage", noun="leakage method")


def _method(name: str, summary: str, method: LeakageMethod, options: tuple[str, ...]) -> None:
    extra = {"extra": method.extra} if method.extra else {}
    LEAKAGE.register(name, summary=summary, rank=method.rank, options=options, **extra)(method)


_method("exact", "identical after normalisation (NFKC, case, punctuation, spacing)", LeakageMethod(0), ("min_words",))
_method(
    "ngram",
    "shared word n-grams (the GPT-3 contamination analysis)",
    LeakageMethod(1, "word {n}-grams"),
    ("n", "min_words", "template_n", "template_min_items"),
)
_method(
    "near_duplicate",
    "MinHash LSH candidates over word shingles, flagged at an exact Jaccard threshold",
    LeakageMethod(
        2,
        "MinHash, word {shingle}-gram shingles, {num_perm} values, {bands} bands x {rows} rows, "
        "Jaccard >= {threshold}",
    ),
    ("shingle", "num_perm", "bands", "rows", "threshold"),
)
_method(
    "paraphrase",
    "sentence-embedding cosine similarity (all-MiniLM-L6-v2)",
    LeakageMethod(3, "cosine >= {paraphrase_threshold}", extra="embed"),
    ("paraphrase", "paraphrase_threshold", "paraphrase_window"),
)


def method_names() -> tuple[str, ...]:
    """The registered methods, strongest first."""
    return tuple(sorted(LEAKAGE.names(), key=method_rank))


def method_rank(name: str) -> int:
    """A method's strength (0 = strongest); a miss raises with "did you mean ...?"."""
    return LEAKAGE.get(name).rank


class MethodStatus(NamedTuple):
    """Whether a method runs in one scan, and what the documents say about it."""

    ran: bool
    text: str


def method_statuses(
    asked: tuple[str, ...], options: Mapping[str, Any], extra_status: Mapping[str, tuple[bool, str]]
) -> dict[str, MethodStatus]:
    """Which methods run in a scan and why another does not, in the wording of the documents.

    Args:
        asked: the methods the options ask for.
        options: the scan options (their values fill each method's settings).
        extra_status: for each optional extra (``embed``), whether it is used and why, as
            :func:`harness.leakage.embed.resolve_paraphrase` says.

    Example:
        >>> opts = {"n": 13, "paraphrase_threshold": 0.8}
        >>> s = method_statuses(("exact", "ngram"), opts, {"embed": (False, "off (turned off)")})
        >>> s["ngram"].text, s["near_duplicate"].text, s["paraphrase"]
        ('on (word 13-grams)', 'off', MethodStatus(ran=False, text='off (not among the methods asked for)'))
    """
    out: dict[str, MethodStatus] = {}
    for name in method_names():
        method = LEAKAGE.get(name)
        if name not in asked:
            out[name] = MethodStatus(False, "off" if method.extra is None else "off (not among the methods asked for)")
        elif method.extra is None:
            settings = method.describe(options)
            out[name] = MethodStatus(True, f"on ({settings})" if settings else "on")
        else:
            on, why = extra_status[method.extra]
            out[name] = MethodStatus(on, f"{why}, {method.describe(options)}" if on else why)
    return out
