"""A rubric's reference-free criteria as monitoring criteria, and the calibration of model-graded ones.

Production logs have no reference answers, so a criterion is scored per window only when its
scorer needs none: ``json_valid``, ``json_schema``, ``length``, ``regex``, ``refusal``, a ``judge``
(whose prompt then carries no reference), a ``reward`` model, and ``exact``/``contains``/``numeric``
with a fixed ``value``. Criteria that compare with an item field (``reference`` by default:
``exact``, ``contains``, ``numeric`` without ``value``, ``choice``, ``switch``, ``chrf``,
``json_field``, ``similarity``) or need people (``human``) are listed as skipped with the reason.

A criterion's scorer value is put on the criterion's scale as in an evaluation: a binary scale
passes at its threshold (a rate per window), a continuous or levels scale keeps the value in
[0, 1] (a mean per window). Higher is better for every rubric criterion.

Model-graded criteria (``judge``, ``reward``: :data:`~harness.eval.rubric.CALIBRATED_SCORERS`)
count only once calibrated, the rule ``harness gate`` applies: the judge's scores of outputs that
people rated (``--ratings``: rating rows with ``item_id``, ``rater_id``, ``score``, ``criterion``
and the rated ``output``, optionally its ``prompt``) must agree with the human consensus at least at
the criterion's ``calibration_floor`` (Krippendorff's alpha, default
:data:`~harness.eval.rubric.DEFAULT_CALIBRATION_FLOOR`), measured by
:func:`harness.compare.calibration.judge_agreement`. An uncalibrated criterion is scored and shown
but not tested, and the run cannot be ``ok`` on it (inconclusive).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.compare.calibration import Calibration, judge_agreement
from harness.errors import InputError
from harness.eval.items import Item
from harness.eval.rubric import CALIBRATED_SCORERS, Criterion, Rubric
from harness.eval.scorers import BaseScorer, ScorerContext, build_scorer
from harness.models.base import Generator
from harness.monitor.document import MonitorCriterion
from harness.monitor.logs import LogEntry
from harness.monitor.quality import QualityCriterion
from harness.records import rating_number

__all__ = ["RatedOutput", "read_monitor_ratings", "reference_need", "rubric_criteria"]

_NEEDS_PEOPLE = {"human": "needs human ratings of each output"}
_ALWAYS_REFERENCE = {"choice", "switch", "chrf", "json_field", "similarity"}
_VALUE_OR_FIELD = {"exact", "contains", "numeric"}
BATCH = 64


def reference_need(c: Criterion) -> str | None:
    """Why a criterion cannot be scored on production logs (None: it needs no reference).

    >>> reference_need(Criterion.model_validate({"id": "a", "scorer": {"type": "exact"}}))
    "the exact scorer compares with the item field 'reference', which logs do not have"
    >>> reference_need(Criterion.model_validate({"id": "a", "scorer": {"type": "exact", "value": "ok"}})) is None
    True
    """
    kind, opts = c.scorer.type, c.scorer.options
    if kind in _NEEDS_PEOPLE:
        return _NEEDS_PEOPLE[kind]
    if kind in _ALWAYS_REFERENCE or (kind in _VALUE_OR_FIELD and opts.get("value") is None):
        field = opts.get("field", "answer_type" if kind == "switch" else "reference")
        return f"the {kind} scorer compares with the item field {field!r}, which logs do not have"
    if kind == "judge" and "{reference}" in str(opts.get("prompt") or ""):
        return "the judge prompt uses {reference}, which logs do not have"
    return None


class RatedOutput:
    """A human-rated output: the consensus-ready ratings of one (item, output)."""

    def __init__(self, item_id: str, prompt: str, output: str) -> None:
        self.item_id, self.prompt, self.output = item_id, prompt, output
        self.ratings: dict[str, list[float]] = defaultdict(list)


def read_monitor_ratings(path: str | Path) -> list[RatedOutput]:
    """Rating rows with the rated ``output`` (and optionally its ``prompt``), grouped by item and output.

    Raises:
        InputError: a bad row, or a row without ``output``, naming the file, line and field.
    """
    from harness.records import RatingRecord, RowProblem, iter_records

    path = Path(path)
    if not path.is_file():
        raise InputError("human ratings file not found", file=path)
    groups: dict[tuple[str, str], RatedOutput] = {}
    for rec in iter_records(path, kind="rating"):
        if isinstance(rec, RowProblem):
            raise InputError(rec.message, file=path, line=rec.line, field=rec.field)
        assert isinstance(rec, RatingRecord)
        extra: dict[str, Any] = rec.model_extra or {}
        output, prompt = extra.get("output"), extra.get("prompt", "")
        if not isinstance(output, str):
            raise InputError("a rating for monitoring needs the rated 'output' text", file=path, line=rec.line,
                             field="output")  # fmt: skip
        if not isinstance(prompt, str):
            raise InputError("'prompt' must be text", file=path, line=rec.line, field="prompt")
        key = (rec.item_id, output.strip())
        rated = groups.setdefault(key, RatedOutput(rec.item_id, prompt, output))
        value = rating_number(rec.score, file=path, line=rec.line)
        rated.ratings[rec.criterion or "*"].append(value)
    return list(groups.values())


def _on_scale(c: Criterion, value: float | None) -> float | None:
    if value is None:
        return None
    return float(value >= c.scale.threshold) if c.scale.binary else float(value)


def _human_fraction(c: Criterion, values: list[float]) -> float | None:
    consensus, _ = c.scale.consensus(values)
    if consensus is None:
        return None
    if c.scale.type == "levels":
        lo, hi = c.scale.levels[0].value, c.scale.levels[-1].value
        return c.scale.level_fraction(consensus) if lo <= consensus <= hi else None
    return consensus if 0.0 <= consensus <= 1.0 else None


def _score(scorer: BaseScorer[Any], c: Criterion, pairs: Sequence[tuple[str, str]]) -> list[float | None]:
    """Scale values of (prompt, output) pairs, scored in batches."""
    out: list[float | None] = []
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        items: list[Item | None] = [
            Item(id=f"log-{start + i}", prompt=p if p.strip() else "(empty prompt)") for i, (p, _) in enumerate(chunk)
        ]
        raw = scorer.score_many([o for _, o in chunk], items)
        out.extend(_on_scale(c, r.value) for r in raw)
    return out


def _calibrate(
    scorer: BaseScorer[Any], c: Criterion, rated: list[RatedOutput] | None, source: str | None
) -> Calibration:
    floor = float(c.calibration_floor if c.calibration_floor is not None else 0.0)
    mine = [(r, r.ratings.get(c.id, []) + r.ratings.get("*", [])) for r in rated or []]
    mine = [(r, v) for r, v in mine if v]
    if not mine:
        why = "no --ratings file given" if rated is None else f"no ratings for criterion {c.id!r} in {source}"
        return Calibration(criterion=c.id, status="no_ratings", floor=floor, reason=why, ratings_file=source)
    judged = _score(scorer, c, [(r.prompt, r.output) for r, _ in mine])
    j_v, h_v = [], []
    for (_, values), j in zip(mine, judged, strict=True):
        h = _human_fraction(c, values)
        if j is not None and h is not None:
            j_v.append(j)
            h_v.append(h)
    cal = judge_agreement(
        j_v, h_v, criterion=c.id, scale=c.scale.type, n_levels=len(c.scale.levels) or None, floor=floor
    )
    how = "outputs in the ratings file, scored by the criterion's scorer"
    return cal.model_copy(update={"n_ratings": sum(len(v) for _, v in mine), "ratings_file": source, "rated": how})


def _criterion(
    c: Criterion, entries: Sequence[LogEntry], ctx: ScorerContext,
    rated: list[RatedOutput] | None, ratings_source: str | None,
) -> tuple[QualityCriterion | None, MonitorCriterion]:  # fmt: skip
    info = MonitorCriterion(id=c.id, source="rubric", scorer=c.scorer.type, status="skipped")
    need = reference_need(c)
    if need is not None:
        info.reason = need
        return None, info
    scorer = build_scorer(c, ctx)
    scored = _score(scorer, c, [(e.prompt, e.output) for e in entries])
    table = {e: v for e, v in zip(entries, scored, strict=True)}
    info.n_scored = sum(v is not None for v in scored)
    info.n_unscored = len(scored) - info.n_scored
    info.kind = "rate" if c.scale.binary else "mean"
    counted, note = True, None
    if c.scorer.type in CALIBRATED_SCORERS:
        cal = _calibrate(scorer, c, rated, ratings_source)
        info.calibration = cal.model_dump(mode="json")
        counted = cal.counts
        note = None if counted else f"{c.scorer.type} not calibrated: {cal.summary()}"
    info.status = "counted" if counted else "not_counted"
    info.reason = note

    def values(es: Sequence[LogEntry]) -> list[float]:
        return [v for v in (table.get(e) for e in es) if v is not None]

    return QualityCriterion(c.id, "higher_better", info.kind, values, counted, note), info


def rubric_criteria(
    rubric: Rubric,
    entries: Sequence[LogEntry],
    *,
    judge: Generator | None = None,
    ratings: str | Path | None = None,
) -> tuple[list[QualityCriterion], list[MonitorCriterion]]:
    """Score every reference-free criterion of ``rubric`` on every log entry once.

    Args:
        rubric: a loaded rubric (:func:`harness.eval.suite.load_rubric`).
        entries: all log entries (reference windows included).
        judge: a generator that grades every judge criterion (``--judge``; default: the rubric's model).
        ratings: human ratings of outputs that calibrate judge and reward criteria.

    Returns:
        The criteria to score per window, and every rubric criterion's status (skipped ones too).
    """
    base_dir = Path(rubric.path).parent if rubric.path else None
    rated = read_monitor_ratings(ratings) if ratings is not None else None
    out: list[QualityCriterion] = []
    infos: list[MonitorCriterion] = []
    for c in rubric.criteria:
        ctx = ScorerContext(criterion=c, base_dir=base_dir, judge=judge, extra={"rubric_file": rubric.path})
        crit, info = _criterion(c, entries, ctx, rated, str(ratings) if ratings is not None else None)
        infos.append(info)
        if crit is not None:
            out.append(crit)
    return out, infos
