"""Rankings (k responses to a prompt, ranked by a rater) and their explicit conversion to preference pairs.

A ranking record is ``{"prompt", "responses": [...], "ranks": [...], "rater_id"?, "category"?}``
with rank 1 the best, equal ranks for ties and ``null`` for a response the rater did not rank
(:class:`~harness.records.RankingRecord`). Reward models and DPO train on pairs, so a ranking
becomes pairs by a *named* conversion that the run manifest records:

- ``scheme``: ``"all"``, every pair of ranked responses (k(k-1)/2 for a full ranking), or
  ``"adjacent"``, only pairs of neighbouring rank levels (k-1 for a full ranking without ties);
- ``ties``: ``"drop"`` (a tied pair teaches no order) or ``"margin0"`` (kept, with margin 0 and the
  response shown first as ``chosen``; a Bradley-Terry loss with a margin then still pushes it up).

The margin of an untied pair is the rank gap (``rank(rejected) - rank(chosen)``), which
``reward.use_margin`` can use. Responses without a rank take part in no pair.

Example:
    >>> from harness.records import RankingRecord
    >>> r = RankingRecord(id="a", line=1, prompt="p", responses=["x", "y", "z"], ranks=[2, 1, 2])
    >>> [(p["chosen"], p["rejected"], p["margin"]) for p in ranking_pairs([r], scheme="all", ties="drop").pairs]
    [('y', 'x', 1), ('y', 'z', 1)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from harness.errors import InputError, check_choice
from harness.records import RankingRecord, RowProblem, iter_records

__all__ = ["PAIR_SCHEMES", "TIE_RULES", "PairConversion", "load_rankings", "ranking_pairs", "ranking_ratings"]

PAIR_SCHEMES = ("all", "adjacent")
TIE_RULES = ("drop", "margin0")


def load_rankings(path: str | Path, *, format: str | None = None) -> list[RankingRecord]:
    """Read a rankings file strictly: the first bad row is an error naming file, line and field.

    Raises:
        InputError: a row that is not a valid ranking (k < 2, a rank outside 1..k, a response
            ranked twice, ...) or a file of another record kind.
    """
    out: list[RankingRecord] = []
    for item in iter_records(path, format=format, kind="ranking"):
        if isinstance(item, RowProblem):
            raise InputError(item.message, file=path, line=item.line, field=item.field)
        assert isinstance(item, RankingRecord)
        out.append(item)
    if not out:
        raise InputError("no rankings in file", file=path)
    return out


class PairConversion(NamedTuple):
    """Preference pairs made from rankings, and the record of how (for the manifest)."""

    pairs: list[dict[str, Any]]
    summary: dict[str, Any]


def _levels(ranks: Sequence[int | None]) -> list[list[int]]:
    """Response indices grouped by rank, best level first (unranked left out)."""
    by: dict[int, list[int]] = {}
    for i, r in enumerate(ranks):
        if r is not None:
            by.setdefault(r, []).append(i)
    return [by[r] for r in sorted(by)]


def _index_pairs(ranks: Sequence[int | None], scheme: str) -> list[tuple[int, int]]:
    """(better, worse) or, for ties, (shown first, shown later) index pairs of one ranking."""
    levels = _levels(ranks)
    out: list[tuple[int, int]] = []
    for li, level in enumerate(levels):
        out += [(a, b) for n, a in enumerate(level) for b in level[n + 1 :]]  # ties within the level
        later = levels[li + 1 : li + 2] if scheme == "adjacent" else levels[li + 1 :]
        out += [(a, b) for other in later for a in level for b in other]
    return out


def ranking_pairs(
    rankings: Iterable[RankingRecord], *, scheme: str = "all", ties: str = "drop", file: str | Path | None = None
) -> PairConversion:
    """Convert rankings to preference pairs with a named scheme and tie rule.

    Args:
        rankings: ranking records.
        scheme: ``"all"`` or ``"adjacent"`` (see the module docstring).
        ties: ``"drop"`` or ``"margin0"``.
        file: the rankings file, for error messages and the summary.

    Returns:
        The pairs (``id``, ``prompt``, ``chosen``, ``rejected``, ``margin``, ``tie``, ``rater_id``,
        ``category``, ``source_id``, ``source_line``) and a summary for the manifest.

    Raises:
        InputError: an unknown scheme or tie rule; no pair left (e.g. every ranking all ties
            with ``ties="drop"``).
    """
    check_choice(scheme, PAIR_SCHEMES, param="scheme", func="ranking_pairs")
    check_choice(ties, TIE_RULES, param="ties", func="ranking_pairs")
    pairs: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for rec in rankings:
        counts["rankings"] += 1
        for a, b in _index_pairs(rec.ranks, scheme):
            ra, rb = rec.ranks[a], rec.ranks[b]
            assert ra is not None and rb is not None
            tie = ra == rb
            if tie and ties == "drop":
                counts["tied_pairs_dropped"] += 1
                continue
            counts["tied_pairs_kept" if tie else "ordered_pairs"] += 1
            pairs.append(
                {
                    "id": f"{rec.id}:{a}>{b}",
                    "prompt": _plain(rec.prompt),
                    "chosen": _plain(rec.responses[a]),
                    "rejected": _plain(rec.responses[b]),
                    "margin": rb - ra,
                    "tie": tie,
                    "rater_id": rec.rater_id,
                    "category": rec.category,
                    "source_id": rec.id,
                    "source_line": rec.line,
                }
            )
        counts["unranked_responses"] += sum(r is None for r in rec.ranks)
    if not pairs:
        why = ""
        if counts["tied_pairs_dropped"]:
            why = " after ties are dropped (ties: drop); use ties: margin0 to keep them"
        raise InputError(f"no preference pair left from {counts['rankings']} rankings{why}", file=file, field="ranks")
    summary = {
        "conversion": "rankings_to_pairs",
        "scheme": scheme,
        "ties": ties,
        "file": str(file) if file is not None else None,
        "n_rankings": counts["rankings"],
        "n_pairs": len(pairs),
        "ordered_pairs": counts["ordered_pairs"],
        "tied_pairs_kept": counts["tied_pairs_kept"],
        "tied_pairs_dropped": counts["tied_pairs_dropped"],
        "unranked_responses": counts["unranked_responses"],
        "margin": "rank(rejected) - rank(chosen); 0 for a kept tie",
    }
    return PairConversion(pairs, summary)


def _plain(value: Any) -> Any:
    """Messages as plain dicts (JSON-ready), text as it is."""
    if isinstance(value, list):
        return [m.model_dump() if hasattr(m, "model_dump") else dict(m) for m in value]
    return value


def ranking_ratings(rankings: Iterable[RankingRecord]) -> list[dict[str, Any]]:
    """Long-form ratings (``item_id, rater_id, score``) from rankings, for ``harness agreement``.

    An item is one response to one prompt (identified by digests of the normalised texts, so
    the same response shown in another order is the same item); its score is the rank it got
    (1 best). Kendall's W then measures how far the raters' rankings concur. Unranked
    responses give no rating, and a rater's repeat rating of an item (a ranking of the same prompt
    again, or a near-duplicate response) is left out: the first one counts (the ranking audit
    reports the repeat as a contradiction or a near-duplicate).
    """
    from harness.records import message_text
    from harness.text import digest, normalize

    rows = []
    seen: set[tuple[str, str]] = set()
    for rec in rankings:
        p = digest(normalize(message_text(rec.prompt))).hex()[:10]
        for resp, rank in zip(rec.responses, rec.ranks, strict=True):
            item = f"{p}-{digest(normalize(message_text(resp))).hex()[:10]}"
            if rank is None or (rec.rater_id or "", item) in seen:
                continue
            seen.add((rec.rater_id or "", item))
            r = item.split("-", 1)[1]
            rows.append({"item_id": f"{p}-{r}", "rater_id": rec.rater_id or "", "score": rank, "line": rec.line})
    return rows
