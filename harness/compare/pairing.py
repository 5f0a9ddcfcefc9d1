"""Pairing two runs' items by id, and each criterion's paired values (per-item means with repeats)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

import numpy as np

from harness.compare.criteria import OVERALL, CriterionInfo
from harness.compare.models import Excluded
from harness.errors import InputError
from harness.eval.run import ItemResult, Run

__all__ = ["PairedValues", "Pairing", "item_value", "pair_items", "prompt_text"]


class Pairing(NamedTuple):
    """Items present in both runs with the same prompt, and the items left out."""

    pairs: list[tuple[ItemResult, ItemResult]]
    excluded: list[Excluded]


def prompt_text(item: ItemResult) -> str:
    """The item's prompt as text (chat messages as canonical JSON)."""
    if isinstance(item.prompt, str):
        return item.prompt
    return json.dumps(item.prompt, ensure_ascii=False, sort_keys=True)


def item_value(item: ItemResult, criterion: str) -> float | None:
    """The item's score on a criterion: the mean over scored attempts when there are repeats."""
    if len(item.attempts) > 1:
        vals = [v for a in item.attempts if criterion in a.scores and (v := a.scores[criterion].value) is not None]
        if vals:
            return float(np.mean(vals))
        if any(criterion in a.scores for a in item.attempts):
            return None
    score = item.scores.get(criterion)
    return None if score is None else score.value


def _overall(item: ItemResult, infos: Mapping[str, CriterionInfo]) -> float | None:
    """The rubric-weighted score, when the run did not record one: None if a weighted criterion is unscored."""
    score = item.scores.get(OVERALL)
    if score is not None or len(item.attempts) > 1:
        return item_value(item, OVERALL) if score is not None else None
    weighted = [(i.weight, item_value(item, c)) for c, i in infos.items() if i.weight > 0 and c in item.scores]
    if not weighted or any(v is None for _, v in weighted):
        return None
    total = sum(w for w, _ in weighted)
    return float(sum(w * v for w, v in weighted if v is not None) / total)


def pair_items(base: Run, cand: Run, suite: str) -> Pairing:
    """Pair items by id; an id in one run only, or with another prompt, is excluded with the reason."""
    def index(run: Run, side: str) -> dict[str, ItemResult]:
        out: dict[str, ItemResult] = {}
        for it in run.items:
            if it.id in out:
                raise InputError(f"item id {it.id!r} appears twice in the {side} run", field="items.id")
            out[it.id] = it
        return out

    b, c = index(base, "base"), index(cand, "candidate")
    pairs, excluded = [], []
    for iid, bi in b.items():
        ci = c.get(iid)
        if ci is None:
            excluded.append(Excluded(suite=suite, id=iid, reason="only_in_base"))
        elif prompt_text(bi) != prompt_text(ci):
            excluded.append(Excluded(suite=suite, id=iid, reason="prompt_differs", detail="same id, different prompt"))
        else:
            pairs.append((bi, ci))
    excluded += [Excluded(suite=suite, id=iid, reason="only_in_candidate") for iid in c if iid not in b]
    return Pairing(pairs, excluded)


def _check_range(value: float | None, item: str, crit: str, side: str) -> float | None:
    if value is not None and not (0.0 <= value <= 1.0 and np.isfinite(value)):
        raise InputError(f"the {side} run scores item {item!r} on {crit!r} as {value!r}, outside [0, 1]",
                         field=f"items[{item}].scores.{crit}.value")
    return value


class PairedValues:
    """Per criterion, the paired (base, candidate) values of the items both runs scored."""

    def __init__(self, pairs: list[tuple[ItemResult, ItemResult]], criteria: list[str], infos: dict) -> None:
        self.ids = [b.id for b, _ in pairs]
        self.by: dict[str, tuple[np.ndarray, np.ndarray, list[int]]] = {}
        self.unscored: dict[str, int] = {}
        for crit in criteria:
            bv, cv, keep = [], [], []
            for k, (b, c) in enumerate(pairs):
                if crit == OVERALL:
                    x, y = _overall(b, infos["base"]), _overall(c, infos["candidate"])
                else:
                    x, y = item_value(b, crit), item_value(c, crit)
                x, y = _check_range(x, b.id, crit, "base"), _check_range(y, c.id, crit, "candidate")
                if x is not None and y is not None:
                    bv.append(x)
                    cv.append(y)
                    keep.append(k)
            self.by[crit] = (np.array(bv, dtype=float), np.array(cv, dtype=float), keep)
            self.unscored[crit] = len(pairs) - len(keep)
