"""Ranking audits: incomplete and tied rankings, near-duplicate responses, a rater contradicting
their own earlier rankings, and position bias (the response shown first ranked first more often
than chance, by an exact test).

Position bias: under no bias a ranking's top level is a random subset of the shown positions, so
the response shown first is ranked first (alone or tied at rank 1) with probability
``p_i = (responses at rank 1) / (ranked responses)``. The count over a rater's rankings is then a
sum of independent Bernoulli(p_i), a Poisson-binomial; its exact upper tail is the p-value
(the exact binomial test when every ``p_i`` is ``1/k``). Raters are flagged when the p-value is
below ``alpha / n_raters`` (Bonferroni over raters).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from harness.findings import Finding
from harness.records import RankingRecord, Record, message_text
from harness.stats.intervals import wilson_interval
from harness.text import digest, normalize
from harness.validate.checks import Check, CheckSettings, check

__all__ = ["RankingAudit", "poisson_binomial_sf"]

MIN_RANKINGS_FOR_BIAS = 5


def poisson_binomial_sf(x: int, probs: Sequence[float]) -> float:
    """P(X >= x) for X a sum of independent Bernoulli(p_i) (exact, by convolution).

    Example:
        >>> round(poisson_binomial_sf(3, [0.25] * 4), 6)  # binomial(4, 1/4): P(X >= 3)
        0.050781
    """
    pmf = np.zeros(len(probs) + 1)
    pmf[0] = 1.0
    for p in probs:
        pmf[1:] = pmf[1:] * (1 - p) + pmf[:-1] * p
        pmf[0] *= 1 - p
    return float(min(1.0, pmf[max(x, 0) :].sum()))


@check("ranking", alpha=0.05)
class RankingAudit:
    """One-pass audit of ranking records (keeps digests and ranks, not text)."""

    name = "ranking"

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """The audit at its default significance level."""
        return cls()

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha
        # rater -> prompt digest -> response digest pair -> (order sign, id, line) of the first ranking seen
        self.orders: dict[str, dict[bytes, dict[tuple[bytes, bytes], tuple[int, str, int]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        self.first: dict[str, list[tuple[int, float, str]]] = defaultdict(list)  # rater -> (hit, p, id)
        self.tied: list[str] = []
        self.n = 0

    def observe(self, record: Record) -> Iterable[Finding]:
        """Findings about one ranking; remember what later ones are compared with."""
        if not isinstance(record, RankingRecord):
            return
        self.n += 1
        ranks = record.ranks
        unranked = [i for i, r in enumerate(ranks) if r is None]
        if unranked:
            yield Finding(
                check="ranking.incomplete",
                severity="warning",
                message=f"line {record.line}: {len(unranked)} of {len(ranks)} responses have no rank "
                f"(responses {', '.join(str(i) for i in unranked)}); they take part in no pair",
                ids=[record.id],
                lines=[record.line],
                data={"unranked": unranked},
            )
        ranked = [r for r in ranks if r is not None]
        if len(set(ranked)) < len(ranked):
            self.tied.append(record.id)
        texts = [normalize(message_text(r)) for r in record.responses]
        digests = [digest(t) for t in texts]
        dup = _first_duplicate(digests)
        if dup is not None:
            yield Finding(
                check="ranking.near_duplicate_responses",
                severity="warning",
                message=f"line {record.line}: responses[{dup[1]}] equals responses[{dup[0]}] after normalisation "
                "(case, spacing): the rater ranked the same text twice",
                ids=[record.id],
                lines=[record.line],
                data={"responses": list(dup)},
            )
        rater = record.rater_id or ""
        yield from self._contradictions(record, rater, digests)
        if len(ranked) >= 2 and ranks[0] is not None:
            top = min(ranked)
            self.first[rater].append((int(ranks[0] == top), ranked.count(top) / len(ranked), record.id))

    def _contradictions(self, record: RankingRecord, rater: str, digests: list[bytes]) -> Iterable[Finding]:
        if not record.rater_id:
            return
        seen = self.orders[rater][digest(normalize(message_text(record.prompt)))]
        ranks = record.ranks
        flipped: dict[tuple[str, int], list[list[int]]] = defaultdict(list)  # earlier (id, line) -> pairs
        for i in range(len(ranks)):
            for j in range(i + 1, len(ranks)):
                ri, rj = ranks[i], ranks[j]
                if ri is None or rj is None or ri == rj or digests[i] == digests[j]:
                    continue
                a, b = (digests[i], digests[j]) if digests[i] < digests[j] else (digests[j], digests[i])
                sign = 1 if (ri < rj) == (digests[i] == a) else -1  # +1: response a ranked above b
                old = seen.get((a, b))
                if old is None:
                    seen[(a, b)] = (sign, record.id, record.line)
                elif old[0] != sign:
                    flipped[(old[1], old[2])].append([i, j])
        for (old_id, old_line), pairs in flipped.items():
            shown = ", ".join(f"{i}/{j}" for i, j in pairs[:6]) + (" ..." if len(pairs) > 6 else "")
            yield Finding(
                check="ranking.contradiction",
                severity="warning",
                message=f"line {record.line}: rater '{rater}' orders {len(pairs)} pair(s) of responses ({shown}) "
                f"the other way round from their earlier ranking '{old_id}' (line {old_line}) of the same prompt",
                ids=[old_id, record.id],
                lines=[old_line, record.line],
                data={"rater_id": rater, "pairs": pairs},
            )

    def finish(self) -> Iterable[Finding]:
        """Tied-ranking summary and the position-bias test per rater."""
        if not self.n:
            return
        if self.tied:
            yield Finding(
                check="ranking.ties",
                severity="info",
                message=f"{len(self.tied)} of {self.n} rankings have tied responses; pairs from ties are dropped "
                "or kept with margin 0 as the conversion says",
                ids=self.tied[:50],
                data={"n_tied": len(self.tied), "n_rankings": self.n},
            )
        yield from self._position_bias()

    def _position_bias(self) -> Iterable[Finding]:
        raters = {r: v for r, v in self.first.items() if len(v) >= MIN_RANKINGS_FOR_BIAS}
        if not raters:
            return
        level = self.alpha / len(raters)
        summary: dict[str, Any] = {}
        for rater, rows in sorted(raters.items()):
            hits = sum(h for h, _, _ in rows)
            probs = [p for _, p, _ in rows]
            pval = poisson_binomial_sf(hits, probs)
            expected = float(sum(probs))
            summary[rater or "(no rater)"] = {
                "n": len(rows),
                "first_shown_ranked_first": hits,
                "expected": expected,
                "rate": hits / len(rows),
                "rate_ci": list(wilson_interval(hits, len(rows))),  # Wilson 95%
                "chance_rate": expected / len(rows),
                "p_value": pval,
            }
            if pval < level:
                yield Finding(
                    check="ranking.position_bias",
                    severity="warning",
                    message=f"rater '{rater or '(no rater)'}' ranked the response shown first as best in {hits} of "
                    f"{len(rows)} rankings (chance: {expected:.1f}); exact one-sided p = {pval:.2g} < "
                    f"{level:.3g} (alpha {self.alpha} / {len(raters)} raters)",
                    ids=[i for h, _, i in rows if h][:50],
                    data={"rater_id": rater, **summary[rater or "(no rater)"]},
                )
        yield Finding(
            check="ranking.position_summary",
            severity="info",
            message=f"position bias tested for {len(raters)} raters with >= {MIN_RANKINGS_FOR_BIAS} rankings "
            "(exact Poisson-binomial test, Bonferroni over raters)",
            data={"raters": summary, "alpha": self.alpha, "level": level},
        )


def _first_duplicate(digests: list[bytes]) -> tuple[int, int] | None:
    seen: dict[bytes, int] = {}
    for i, d in enumerate(digests):
        if d in seen:
            return seen[d], i
        seen[d] = i
    return None
