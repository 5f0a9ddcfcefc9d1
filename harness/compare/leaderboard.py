"""A leaderboard of N runs of one suite: ranks, paired intervals for every pair, Holm, the best set.

Reads runs only (``harness.run/v1``), never models. Items are those every run scored with the
same prompt; per criterion (and ``overall``, the rubric-weighted score, when the runs have one):

* each model's mean with its bootstrap interval;
* for every pair of models the mean paired difference with its paired bootstrap interval and a
  two-sided p-value (McNemar's exact test for binary criteria, else the bootstrap p-value that
  inverts the same interval, as in :mod:`harness.compare.engine`);
* Holm's adjustment across the k(k−1)/2 pairs of the criterion;
* ranks (1 = highest mean; equal means share a rank) and the set of models that cannot be told
  apart from the best: the best and every model whose difference from it is not significant after
  Holm at ``1 − confidence``.

Example:
    >>> from harness.eval.run import Run, ItemResult, Score
    >>> def run(name, vals):
    ...     items = [ItemResult(id=str(i), prompt=f"q{i}", output="", scores={"ok": Score(value=v)})
    ...              for i, v in enumerate(vals)]
    ...     return Run(suite={"name": "s"}, model={"spec": name}, manifest={}, items=items, summary={})
    >>> board = leaderboard([run("a", [1, 0] * 30), run("b", [1, 1] * 30), run("c", [0, 0] * 30)], resamples=2000)
    >>> [s.label for s in board.criteria["ok"].standings]
    ['b', 'a', 'c']
    >>> board.criteria["ok"].indistinguishable
    ['b']
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from harness.compare.criteria import OVERALL, criteria_info
from harness.compare.pairing import _overall, item_value, prompt_text
from harness.errors import InputError
from harness.eval.run import ItemResult, Run
from harness.stats.bootstrap import bootstrap_mean, paired_bootstrap, stable_seed
from harness.stats.paired import holm, mcnemar_exact

__all__ = [
    "LEADERBOARD_SCHEMA",
    "CriterionBoard",
    "Leaderboard",
    "ModelEntry",
    "PairResult",
    "Standing",
    "leaderboard",
    "leaderboard_schema",
]

LEADERBOARD_SCHEMA = "harness.leaderboard/v1"


class ModelEntry(BaseModel):
    """One model of the leaderboard: its label, identity and where its run came from."""

    label: str = Field(description="the name used in the standings and the pairs")
    spec: str | None = None
    fingerprint: str | None = None
    adapter_hash: str | None = None
    path: str | None = None
    n_items: int
    verdict: Literal["pass", "fail", "inconclusive"] | None = Field(
        default=None, description="the gate's verdict against the base, when a gate ranked several candidates"
    )


class Standing(BaseModel):
    """A model's place on one criterion."""

    label: str
    rank: int = Field(description="1 = highest mean; equal means share the rank")
    mean: float | None
    ci: list[float] | None
    best: bool = Field(description="the highest mean")
    indistinguishable_from_best: bool = Field(description="not significantly below the best after Holm")


class PairResult(BaseModel):
    """Model ``a`` minus model ``b`` on one criterion, over the items both (all models) scored."""

    a: str
    b: str
    delta: float | None = Field(description="mean of a − b over paired items")
    ci: list[float] | None = Field(description="paired bootstrap interval of delta")
    p_value: float | None = Field(description="two-sided p-value of delta = 0")
    p_method: str | None = None
    p_value_holm: float | None = Field(default=None, description="Holm-adjusted across the criterion's pairs")
    significant: bool = Field(description="p_value_holm < 1 − confidence")


class CriterionBoard(BaseModel):
    """The standings and all pairwise comparisons on one criterion."""

    criterion: str
    binary: bool
    n: int = Field(description="items every model scored on this criterion")
    standings: list[Standing] = Field(description="best first")
    pairs: list[PairResult] = Field(description="every pair once, a ranked above b")
    best: str | None
    indistinguishable: list[str] = Field(description="the best and the models that cannot be told apart from it")
    reason: str | None = None


class Leaderboard(BaseModel):
    """N models on one suite (the ``harness.leaderboard/v1`` document)."""

    schema_: str = Field(default=LEADERBOARD_SCHEMA, alias="schema")
    suite: str
    suite_info: dict[str, Any] = Field(default_factory=dict)
    confidence: float
    method: str
    resamples: int
    seed: int
    models: list[ModelEntry]
    n_items: int = Field(description="items every run holds with the same prompt")
    excluded: list[str] = Field(default_factory=list, description="item ids missing from a run or with another prompt")
    criteria: dict[str, CriterionBoard]
    overall: str | None = Field(description="the criterion the overall ranking is read from ('overall')")
    manifest: dict[str, Any] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    def to_document(self) -> dict[str, Any]:
        """The JSON document (``schema`` first)."""
        return self.model_dump(mode="json", by_alias=True)


def leaderboard_schema() -> dict[str, Any]:
    """The JSON Schema of ``harness.leaderboard/v1``."""
    schema = Leaderboard.model_json_schema(by_alias=True)
    schema["$id"] = LEADERBOARD_SCHEMA
    return schema


def _labels(runs: Sequence[Run], labels: Sequence[str] | None) -> list[str]:
    if labels is not None:
        if len(labels) != len(runs) or len(set(labels)) != len(labels):
            raise InputError(f"give one distinct label per run; got {list(labels)} for {len(runs)} runs")
        return list(labels)
    out: list[str] = []
    for k, run in enumerate(runs):
        base = str(run.model.get("label") or run.model.get("spec") or f"model {k + 1}")
        name, j = base, 2
        while name in out:
            name, j = f"{base} ({j})", j + 1
        out.append(name)
    return out


def _common_items(runs: Sequence[Run]) -> tuple[list[list[ItemResult]], list[str]]:
    """Per run, the items every run holds with the same prompt (in the first run's order); the rest."""
    index = []
    for k, run in enumerate(runs):
        by: dict[str, ItemResult] = {}
        for it in run.items:
            if it.id in by:
                raise InputError(f"item id {it.id!r} appears twice in run {k + 1}", field="items.id")
            by[it.id] = it
        index.append(by)
    all_ids = list(dict.fromkeys(i for by in index for i in by))
    keep, dropped = [], []
    for iid in all_ids:
        items = [by.get(iid) for by in index]
        if any(i is None for i in items) or len({prompt_text(i) for i in items if i is not None}) != 1:
            dropped.append(iid)
        else:
            keep.append(iid)
    return [[by[i] for i in keep] for by in index], dropped


def _matrix(per_run: list[list[ItemResult]], runs: Sequence[Run], crit: str) -> np.ndarray:
    """Items × models values of a criterion, keeping the items every model scored."""
    infos = [criteria_info(r) for r in runs]
    cols = []
    for items, info in zip(per_run, infos, strict=True):
        cols.append([_overall(i, info) if crit == OVERALL else item_value(i, crit) for i in items])
    arr = np.array([[np.nan if v is None else v for v in col] for col in cols], dtype=float).T
    if arr.size and not np.all((arr[~np.isnan(arr)] >= 0) & (arr[~np.isnan(arr)] <= 1)):
        raise InputError(f"scores of {crit!r} outside [0, 1]", field=f"scores.{crit}")
    return arr.reshape(-1, len(runs))[~np.isnan(arr.reshape(-1, len(runs))).any(axis=1)]


def _ranks(means: list[float | None]) -> list[int]:
    def key(k: int) -> float:
        m = means[k]
        return -m if m is not None else np.inf

    order = sorted(range(len(means)), key=key)
    ranks = [0] * len(means)
    for pos, k in enumerate(order):
        prev = order[pos - 1] if pos else None
        ranks[k] = ranks[prev] if prev is not None and means[prev] == means[k] else pos + 1
    return ranks


def _board(crit: str, values: np.ndarray, labels: list[str], binary_declared: bool, opts: dict[str, Any],
           suite: str) -> CriterionBoard:  # fmt: skip
    n, k = values.shape
    conf, kw, seed = opts["confidence"], opts["kw"], opts["seed"]
    binary = binary_declared and n > 0 and bool(np.isin(values, (0.0, 1.0)).all())
    if n < 2:
        means = [float(values[:, j].mean()) if n else None for j in range(k)]
        standings = [Standing(label=lab, rank=r, mean=m, ci=None, best=False, indistinguishable_from_best=False)
                     for lab, r, m in zip(labels, _ranks(means), means, strict=True)]  # fmt: skip
        standings.sort(key=lambda s: s.rank)
        reason = "no item scored by every model" if n == 0 else "one item scored by every model: no interval"
        return CriterionBoard(criterion=crit, binary=binary, n=n, standings=standings, pairs=[], best=None,
                              indistinguishable=[], reason=reason)  # fmt: skip
    means = [float(values[:, j].mean()) for j in range(k)]
    cis = [list(bootstrap_mean(values[:, j], seed=stable_seed(seed, suite, crit, labels[j]), **kw).interval(conf))
           for j in range(k)]  # fmt: skip
    ranks = _ranks(means)
    order = sorted(range(k), key=lambda j: (ranks[j], j))
    pairs: list[PairResult] = []
    for i, j in combinations(order, 2):  # i ranked above (or level with) j
        a, b = values[:, i], values[:, j]
        boot = paired_bootstrap(b, a, seed=stable_seed(seed, suite, crit, labels[i], labels[j]), **kw)
        if binary:
            p, how = mcnemar_exact(b, a).p_value, "mcnemar_exact"
        else:
            p, how = boot.p_value(0.0), f"bootstrap_{opts['method']}"
        pairs.append(PairResult(a=labels[i], b=labels[j], delta=boot.estimate, ci=list(boot.interval(conf)),
                                p_value=p, p_method=how, significant=False))  # fmt: skip
    alpha = 1.0 - conf
    for pr, padj in zip(pairs, holm([float(pr.p_value or 0.0) for pr in pairs]), strict=True):
        pr.p_value_holm = float(padj)
        pr.significant = bool(padj < alpha)
    best = labels[order[0]]
    apart = {pr.b for pr in pairs if pr.a == best and pr.significant}
    # models level with the best are "a" of no pair against it: they cannot be told apart either
    same = [labels[j] for j in order if labels[j] not in apart]
    standings = [
        Standing(label=labels[j], rank=ranks[j], mean=means[j], ci=cis[j], best=ranks[j] == 1,
                 indistinguishable_from_best=labels[j] in same)
        for j in order
    ]  # fmt: skip
    return CriterionBoard(criterion=crit, binary=binary, n=n, standings=standings, pairs=pairs, best=best,
                          indistinguishable=same)  # fmt: skip


def leaderboard(
    runs: Sequence[Run],
    *,
    labels: Sequence[str] | None = None,
    paths: Sequence[str | None] | None = None,
    confidence: float = 0.95,
    method: str = "bca",
    resamples: int = 10_000,
    seed: int = 0,
    manifest: dict[str, Any] | None = None,
) -> Leaderboard:
    """Rank N runs of one suite per criterion and overall, with every pair compared (see the module doc).

    Args:
        runs: two or more runs of the same suite.
        labels: a distinct name per run (default: each run's model spec).
        paths: where each run was read from (for the report).
        confidence: the level of every interval; pairs are significant when Holm's p < 1 − confidence.
        method: ``"bca"`` or ``"percentile"`` bootstrap intervals.
        resamples: bootstrap resamples.
        seed: the bootstrap seed.
        manifest: facts for the document (command line, versions).

    Raises:
        InputError: fewer than two runs, runs of different suites, or a run repeating an item id.
    """
    if len(runs) < 2:
        raise InputError(f"a leaderboard needs at least two runs; got {len(runs)}")
    suites = [str(r.suite.get("name") or "suite") for r in runs]
    if len(set(suites)) != 1:
        listing = ", ".join(f"run {k + 1}: {s!r}" for k, s in enumerate(suites))
        raise InputError(f"a leaderboard ranks runs of one suite; these are of different suites ({listing})")
    hashes = {r.suite.get("items_hash") for r in runs} - {None}
    notes = [f"the runs evaluated different versions of the suite's items ({len(hashes)} items hashes); "
             "only items with the same id and prompt are compared"] if len(hashes) > 1 else []  # fmt: skip
    names = _labels(runs, labels)
    per_run, dropped = _common_items(runs)
    infos = [criteria_info(r) for r in runs]
    scored = [{c for it in items for c in it.scores} for items in per_run]
    crits = sorted(set.intersection(*scored) - {OVERALL}) if scored else []
    if crits and (all(OVERALL in s for s in scored) or any(i.weight > 0 for c, i in infos[-1].items() if c in crits)):
        crits.append(OVERALL)
    opts = {"confidence": confidence, "seed": seed, "method": method,
            "kw": {"resamples": resamples, "method": method, "bounds": (0.0, 1.0)}}  # fmt: skip
    boards = {}
    for crit in crits:
        declared = crit != OVERALL and all(i.get(crit) is not None and i[crit].binary for i in infos)
        boards[crit] = _board(crit, _matrix(per_run, runs, crit), names, declared, opts, suites[0])
    models = [
        ModelEntry(label=lab, spec=r.model.get("spec"), fingerprint=r.model.get("fingerprint"),
                   adapter_hash=r.model.get("adapter_hash"), path=(paths[k] if paths else None), n_items=len(r.items))
        for k, (lab, r) in enumerate(zip(names, runs, strict=True))
    ]  # fmt: skip
    return Leaderboard(
        suite=suites[0],
        suite_info=runs[-1].suite.model_dump(mode="json", exclude={"rubric", "gate"}),
        confidence=confidence, method=method, resamples=resamples, seed=seed, models=models,
        n_items=len(per_run[0]), excluded=dropped, criteria=boards,
        overall=OVERALL if OVERALL in boards else None, manifest=manifest or {}, notes=notes,
    )  # fmt: skip
