"""Paired statistics of a base run and a candidate run: pair the items, measure every criterion.

Reads runs only; never loads a model, and knows nothing of rules or verdicts (those are
:mod:`harness.gate`'s). Items are paired by id (an item whose prompt differs between the runs is
not paired); per criterion the paired difference gets a bootstrap interval, binary criteria also
McNemar's exact test, and each side's mean gets the interval every report gives a mean
(:func:`harness.stats.intervals.mean_interval`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from harness.compare.calibration import Calibration, calibrate_runs
from harness.compare.criteria import OVERALL, CriterionInfo, criteria_info
from harness.compare.models import Change, CriterionStats, Excluded, LeakageInfo
from harness.compare.pairing import PairedValues, pair_items, prompt_text
from harness.compare.repeats import MODEL_GRADED, VarianceSplit, variance_split
from harness.compare.slices import MISSING, SliceAnalysis, SliceTable, item_fields, positions, slice_groups
from harness.errors import InputError
from harness.eval.run import ItemResult, Run
from harness.stats.bootstrap import Bootstrap, paired_bootstrap, stable_seed
from harness.stats.intervals import MeanInterval, mean_interval, mean_seed
from harness.stats.paired import mcnemar_exact, transitions

__all__ = [
    "Analysis",
    "PairedComparison",
    "PairedCriterion",
    "PairedRuns",
    "StatsSettings",
    "analyse",
    "pair_runs",
    "paired_comparison",
]

_MAX_CHANGES = 500


class StatsSettings(Protocol):
    """The statistics' settings a comparison needs (a gate :class:`~harness.gate.policy.Policy` has them)."""

    @property
    def confidence(self) -> float: ...
    @property
    def resamples(self) -> int: ...
    @property
    def method(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def pass_threshold(self) -> float: ...


@dataclass
class PairedCriterion:
    """One criterion over the paired items: the statistics, and the distributions rules are read from."""

    stats: CriterionStats
    diff: Bootstrap | None
    candidate: MeanInterval | None
    base_values: np.ndarray
    candidate_values: np.ndarray


@dataclass
class Analysis:
    """Every criterion measured on one set of paired items (and per slice, by each slicing field)."""

    criteria: dict[str, PairedCriterion]
    values: PairedValues
    slices: dict[str, dict[str, SliceAnalysis]] = field(default_factory=dict)

    def slice_tables(self) -> list[SliceTable]:
        """Every field × criterion table (the ``slices`` of the comparison document)."""
        return [sa.table() for by_crit in self.slices.values() for sa in by_crit.values()]

    def stats(self) -> dict[str, CriterionStats]:
        """The per-criterion statistics (the ``criteria`` of the comparison document)."""
        return {k: v.stats for k, v in self.criteria.items()}


@dataclass
class PairedRuns:
    """Two runs of one suite, their items paired, and the criteria both score."""

    suite: str
    base: Run
    candidate: Run
    infos: dict[str, dict[str, CriterionInfo]]
    pairs: list[tuple[ItemResult, ItemResult]]
    excluded: list[Excluded]
    criteria: list[str]
    notes: list[str]

    @property
    def merged(self) -> dict[str, CriterionInfo]:
        """Criterion facts of both runs (the candidate's win)."""
        return {**self.infos["base"], **self.infos["candidate"]}


@dataclass
class PairedComparison:
    """The paired statistics of a comparison, before any rule is applied."""

    runs: PairedRuns
    leakage: LeakageInfo
    calibration: dict[str, Calibration]
    clean: Analysis
    with_leaked: Analysis | None
    excluded: list[Excluded]
    changes: list[Change]
    repeats: dict[str, dict[str, VarianceSplit]] = field(default_factory=dict)

    @property
    def n_paired(self) -> int:
        """Paired items the verdict rests on (leaked items left out)."""
        return len(self.clean.values.ids)


def _suite_name(run: Run) -> str:
    return run.suite.name or "suite"


def _mean(a: np.ndarray) -> float | None:
    return float(a.mean()) if a.size else None


def measure(
    crit: str,
    x: np.ndarray,
    y: np.ndarray,
    unscored: int,
    settings: StatsSettings,
    suite: str,
    *,
    binary_declared: bool,
    judge: bool,
    key: str = "",
) -> PairedCriterion:
    """Base vs candidate on one criterion over paired values ``x``, ``y`` (``key`` names a slice in the seeds)."""
    n = int(x.size)
    conf = settings.confidence
    binary = binary_declared and n > 0 and bool(np.isin(x, (0.0, 1.0)).all() and np.isin(y, (0.0, 1.0)).all())
    counts = transitions(x, y, threshold=settings.pass_threshold)._asdict() if n else {}
    counts["unscored"] = unscored
    common: dict[str, Any] = {
        "criterion": crit, "binary": binary, "judge": judge, "n": n, "n_unscored": unscored,
        "confidence": conf, "counts": counts,
    }
    names = (crit, key) if key else (crit,)
    kw: dict[str, Any] = {
        "binary": binary, "confidence": conf, "resamples": settings.resamples, "method": settings.method,
        "seed": mean_seed(settings.seed, suite, "|".join(names)),
    }
    bm = mean_interval(x, **kw) if n else None
    cm = mean_interval(y, **kw) if n else None
    if n < 2:
        reason = "no item scored in both runs" if n == 0 else "one item scored in both runs: no interval"
        stats = CriterionStats(
            **common, base_mean=_mean(x), candidate_mean=_mean(y), base_ci=bm.ci if bm else None,
            candidate_ci=cm.ci if cm else None, delta=_mean(y - x), ci=None, p_value=None, reason=reason,
        )
        return PairedCriterion(stats, None, None, x, y)
    assert bm is not None and cm is not None
    diff = paired_bootstrap(
        x, y, seed=stable_seed(settings.seed, suite, crit, "delta", *([key] if key else [])),
        resamples=settings.resamples, method=settings.method, bounds=(0.0, 1.0),
    )
    mc = None
    if binary:
        r = mcnemar_exact(x, y)
        mc = r._asdict()
        p, how = r.p_value, "mcnemar_exact"
    else:
        p, how = diff.p_value(0.0), f"bootstrap_{settings.method}"
    ci = diff.interval(conf)
    stats = CriterionStats(
        **common,
        base_mean=float(x.mean()),
        candidate_mean=float(y.mean()),
        base_ci=bm.ci,
        candidate_ci=cm.ci,
        delta=diff.estimate,
        ci=[ci.low, ci.high],
        p_value=p,
        p_method=how,
        mcnemar=mc,
        degenerate=diff.degenerate,
        reason="all paired differences are equal: exact interval from the score range" if diff.degenerate else None,
    )
    return PairedCriterion(stats, diff, cm, x, y)


def _by_field(
    runs: PairedRuns, pairs: list[tuple[ItemResult, ItemResult]], values: PairedValues, settings: StatsSettings,
    fld: str,
) -> dict[str, SliceAnalysis]:
    groups = slice_groups([item_fields(p) for p in pairs], fld, where=f"by: {fld}")
    merged = runs.merged
    out: dict[str, SliceAnalysis] = {}
    for crit in runs.criteria:
        info = merged.get(crit)
        declared = info.binary if info is not None and crit != OVERALL else False
        x, y, keep = values.by[crit]
        per: dict[str, Any] = {}
        for value, members in groups.items():
            idx = positions(keep, members)
            per[value] = measure(
                crit, x[idx], y[idx], len(members) - idx.size, settings, runs.suite, binary_declared=declared,
                judge=bool(info and info.judge), key=f"{fld}={value}",
            )
        out[crit] = SliceAnalysis(fld, crit, len(groups.get(MISSING, [])), per)
    return out


def analyse(
    runs: PairedRuns, pairs: list[tuple[ItemResult, ItemResult]], settings: StatsSettings, slices: Sequence[str] = ()
) -> Analysis:
    """Measure every criterion of ``runs`` on ``pairs`` (a subset of ``runs.pairs``), and by each field in ``slices``.

    Raises:
        InputError: a slicing field no item has, or one with a value per item.
    """
    values = PairedValues(pairs, runs.criteria, runs.infos)
    merged = runs.merged
    out: dict[str, PairedCriterion] = {}
    for crit in runs.criteria:
        info = merged.get(crit)
        declared = info.binary if info is not None and crit != OVERALL else False
        x, y, _ = values.by[crit]
        out[crit] = measure(
            crit, x, y, values.unscored[crit], settings, runs.suite, binary_declared=declared,
            judge=bool(info and info.judge),
        )
    by = {fld: _by_field(runs, pairs, values, settings, fld) for fld in dict.fromkeys(slices)} if pairs else {}
    return Analysis(out, values, by)


def _changes(
    pairs: list[tuple[ItemResult, ItemResult]], values: PairedValues, criteria: list[str], leaked: set[str], thr: float
) -> list[Change]:
    by_id: dict[str, Change] = {}
    for crit in criteria:
        x, y, keep = values.by[crit]
        for xv, yv, k in zip(x, y, keep, strict=True):
            moved = "fixed" if xv < thr <= yv else "broken" if yv < thr <= xv else None
            if moved is None:
                continue
            b, c = pairs[k]
            ch = by_id.get(b.id)
            if ch is None:
                ch = by_id[b.id] = Change(
                    id=b.id, prompt=prompt_text(b), reference=b.reference, base_output=b.output,
                    candidate_output=c.output, leaked=b.id in leaked,
                    base_scores={n: s.value for n, s in b.scores.items()},
                    candidate_scores={n: s.value for n, s in c.scores.items()},
                )
            getattr(ch, moved).append(crit)
    changes = sorted(by_id.values(), key=lambda ch: (-len(ch.broken), -len(ch.fixed), ch.id))
    return changes[:_MAX_CHANGES]


def _repeats(run: Run, ids: Collection[str], criteria: list[str], infos: Mapping[str, CriterionInfo]) -> dict:
    items = [i for i in run.items if i.id in ids]
    if not any(len(i.attempts) > 1 for i in items):
        return {}
    out: dict[str, VarianceSplit] = {}
    for crit in criteria:
        per_item = []
        for it in items:
            per_item.append(
                [(a.output, v) for a in it.attempts if crit in a.scores and (v := a.scores[crit].value) is not None]
            )
        info = infos.get(crit)
        deterministic = info is not None and info.scorer is not None and info.scorer not in MODEL_GRADED
        if crit == OVERALL:
            deterministic = all(i.scorer is not None and i.scorer not in MODEL_GRADED for i in infos.values())
        out[crit] = variance_split(per_item, deterministic=deterministic)
    return out


def pair_runs(base: Run, candidate: Run) -> PairedRuns:
    """Pair two runs of the same suite and find the criteria both score (``overall`` last, when weighted).

    Raises:
        InputError: when the runs are of different suites or a run repeats an item id.
    """
    suite = _suite_name(candidate)
    if _suite_name(base) != suite:
        raise InputError(f"the base run is of suite {_suite_name(base)!r}, the candidate run of {suite!r}")
    infos = {"base": criteria_info(base), "candidate": criteria_info(candidate)}
    pairs, excluded = pair_items(base, candidate, suite)
    seen_b = {n for b, _ in pairs for n in b.scores}
    seen_c = {n for _, c in pairs for n in c.scores}
    criteria = sorted(seen_b & seen_c - {OVERALL})
    notes = [f"criterion {n!r} is scored in one run only" for n in sorted((seen_b ^ seen_c) - {OVERALL})]
    has_overall = (OVERALL in seen_b and OVERALL in seen_c) or any(
        i.weight > 0 for i in infos["candidate"].values() if i.id in criteria
    )
    if has_overall and criteria:
        criteria.append(OVERALL)
    return PairedRuns(suite, base, candidate, infos, pairs, excluded, criteria, notes)


def paired_comparison(
    runs: PairedRuns,
    settings: StatsSettings,
    *,
    leakage: LeakageInfo | None = None,
    calibration: Mapping[str, Calibration] | None = None,
    ratings_path: str | None = None,
    slices: Sequence[str] = (),
) -> PairedComparison:
    """The paired statistics of two runs: leaked items left out (and, apart, kept in), judges calibrated.

    Args:
        runs: the paired runs (:func:`pair_runs`).
        settings: confidence, resamples, method, seed and pass threshold (a gate policy has them).
        leakage: the leakage check's result; leaked items are left out of ``clean`` and kept in
            ``with_leaked``.
        calibration: judge calibrations, computed from the suite's human ratings when not given.
        ratings_path: a human ratings file to calibrate judges with (default: the suite's).
        slices: item fields to measure every criterion by, slice by slice (leaked items left out).
    """
    merged = runs.merged
    judges = {c: i for c, i in merged.items() if i.judge and c in runs.criteria}
    if calibration is None:
        calibration = calibrate_runs(runs.base, runs.candidate, judges, ratings_path=ratings_path) if judges else {}
    leakage = leakage or LeakageInfo()
    leaked = set(leakage.leaked_ids)
    clean = [p for p in runs.pairs if p[0].id not in leaked]
    excluded = runs.excluded + [
        Excluded(suite=runs.suite, id=b.id, reason="leaked", detail="found in the candidate's training data")
        for b, _ in runs.pairs if b.id in leaked
    ]
    analysis = analyse(runs, clean, settings, slices)
    with_leaked = analyse(runs, runs.pairs, settings) if leaked & {b.id for b, _ in runs.pairs} else None
    ids = {b.id for b, _ in clean}
    return PairedComparison(
        runs=runs,
        leakage=leakage,
        calibration=dict(calibration),
        clean=analysis,
        with_leaked=with_leaked,
        excluded=excluded,
        changes=_changes(clean, analysis.values, runs.criteria, leaked, settings.pass_threshold),
        repeats={
            side: split
            for side, run in (("base", runs.base), ("candidate", runs.candidate))
            if (split := _repeats(run, ids, runs.criteria, runs.infos[side]))
        },
    )
