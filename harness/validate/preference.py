"""Preference-data audits: identical or empty sides, conflicts, length bias, intransitive cycles."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable

from harness.findings import Finding
from harness.records import PreferenceRecord, Record, message_text
from harness.text import digest, normalize
from harness.validate.checks import Check, CheckSettings, check


@check("preference", alpha=0.05)
class PreferenceAudit:
    """One-pass audit of preference pairs.

    Keeps, per prompt digest, the (chosen, rejected) digests and ids: enough to find
    contradictions (A over B and B over A) and longer cycles (A > B > C > A) without holding text.
    """

    name = "preference"

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """The audit at its default significance level."""
        return cls()

    def __init__(self, *, alpha: float = 0.05) -> None:
        self.alpha = alpha
        self.by_prompt: dict[bytes, list[tuple[bytes, bytes, str, int]]] = defaultdict(list)
        self.chosen_longer = 0
        self.rejected_longer = 0
        self.ties = 0

    def observe(self, record: Record) -> Iterable[Finding]:
        if not isinstance(record, PreferenceRecord):
            return
        chosen, rejected = message_text(record.chosen), message_text(record.rejected)
        empty = [s for s, t in (("chosen", chosen), ("rejected", rejected)) if not t.strip()]
        for side in empty:
            yield Finding(
                check="preference.empty_side",
                severity="error",
                message=f"line {record.line}: field '{side}' is empty: the pair teaches nothing",
                ids=[record.id],
                lines=[record.line],
                data={"field": side},
            )
        if empty:
            return
        nc, nr = normalize(chosen), normalize(rejected)
        if nc == nr:
            yield Finding(
                check="preference.identical",
                severity="error",
                message=f"line {record.line}: 'chosen' and 'rejected' are identical after normalisation",
                ids=[record.id],
                lines=[record.line],
            )
            return
        lc, lr = len(chosen.split()), len(rejected.split())
        if lc > lr:
            self.chosen_longer += 1
        elif lr > lc:
            self.rejected_longer += 1
        else:
            self.ties += 1
        key = digest(normalize(message_text(record.prompt)))
        self.by_prompt[key].append((digest(nc), digest(nr), record.id, record.line))

    def finish(self) -> Iterable[Finding]:
        yield from self._length_bias()
        for pairs in self.by_prompt.values():
            if len(pairs) > 1:
                yield from _conflicts(pairs)
                yield from _cycles(pairs)

    def _length_bias(self) -> Iterable[Finding]:
        from scipy.stats import binomtest

        n = self.chosen_longer + self.rejected_longer
        if n == 0:
            return
        k = self.chosen_longer
        test = binomtest(k, n, 0.5)
        ci = test.proportion_ci(confidence_level=0.95, method="wilson")
        share = k / n
        # Cohen's h against the no-bias share of one half
        h = 2 * math.asin(math.sqrt(share)) - 2 * math.asin(math.sqrt(0.5))
        significant = test.pvalue < self.alpha
        yield Finding(
            check="preference.length_bias",
            severity="warning" if significant else "info",
            message=(
                f"chosen is the longer side in {share:.1%} of {n} pairs of unequal length "
                f"(95% CI {ci.low:.1%}-{ci.high:.1%}; binomial test p={test.pvalue:.3g}; Cohen's h={h:.2f})"
                + ("; a model may learn 'longer is better'" if significant and h > 0 else "")
            ),
            data={
                "share_chosen_longer": share,
                "n": n,
                "ties": self.ties,
                "ci": [ci.low, ci.high],
                "confidence": 0.95,
                "p_value": test.pvalue,
                "cohens_h": h,
                "test": "two-sided exact binomial against 0.5",
            },
        )


def _conflicts(pairs: list[tuple[bytes, bytes, str, int]]) -> Iterable[Finding]:
    first: dict[tuple[bytes, bytes], tuple[str, int]] = {}
    for c, r, rid, line in pairs:
        first.setdefault((c, r), (rid, line))
    reported: set[frozenset[bytes]] = set()
    for (c, r), (rid, line) in first.items():
        if (r, c) in first and frozenset((c, r)) not in reported:
            reported.add(frozenset((c, r)))
            oid, oline = first[(r, c)]
            yield Finding(
                check="duplicates.conflicting",
                severity="error",
                message=f"lines {line} and {oline}: the same prompt with contradictory preferences "
                "(each side is chosen over the other once)",
                ids=[rid, oid],
                lines=[line, oline],
            )


def _cycles(pairs: list[tuple[bytes, bytes, str, int]]) -> Iterable[Finding]:
    """Strongly connected components of size >= 3 in the 'preferred over' graph (Tarjan)."""
    graph: dict[bytes, set[bytes]] = defaultdict(set)
    for c, r, _, _ in pairs:
        graph[c].add(r)
        graph.setdefault(r, set())
    index: dict[bytes, int] = {}
    low: dict[bytes, int] = {}
    stack: list[bytes] = []
    on: set[bytes] = set()
    comps: list[set[bytes]] = []
    counter = 0
    for root in list(graph):
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph[w])))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                comps.append(comp)
    for comp in comps:
        if len(comp) >= 3:
            members = [(rid, line) for c, r, rid, line in pairs if c in comp and r in comp]
            yield Finding(
                check="preference.intransitive",
                severity="warning",
                message=f"{len(comp)} responses to one prompt form a preference cycle "
                f"(A > B > ... > A) across lines {', '.join(str(m[1]) for m in members)}",
                ids=[m[0] for m in members],
                lines=[m[1] for m in members],
                data={"responses_in_cycle": len(comp)},
            )
