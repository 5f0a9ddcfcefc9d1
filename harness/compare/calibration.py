"""Judge calibration: does a model-graded criterion agree with people well enough to gate on?

A rule on a ``judge`` criterion counts only when the suite names human ratings for it and the
judge's agreement with the human consensus reaches the criterion's ``calibration_floor``
(Krippendorff's alpha, default :data:`~harness.documents.agreement.DEFAULT_MIN_ALPHA` = 0.667,
Krippendorff's own lowest bound for tentative conclusions).

Pairing a human rating with the judge's score of the same output:

* a ratings row with an ``output`` column is paired with whichever run (candidate first, then
  base) produced exactly that output for the item;
* else a ``model`` column (``base`` or ``candidate``) names the run whose output was rated;
* else the ratings are taken to be of the candidate's outputs (the ones the gate decides on), and
  the report says so.

Consensus per rated output: the majority for binary criteria (ties dropped), the median level for
level scales, the mean for continuous ones. Agreement is measured between two "raters", the
judge and the consensus: nominal alpha and Cohen's kappa for binary criteria; ordinal alpha and
quadratic-weighted kappa on level indices for level scales; interval alpha for continuous scores
(kappa needs categories and is not given).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

from harness.documents.agreement import DEFAULT_MIN_ALPHA
from harness.errors import InputError
from harness.records import RatingRecord, RowProblem, iter_records, rating_number

if TYPE_CHECKING:
    from harness.compare.criteria import CriterionInfo
    from harness.eval.run import ItemResult, Run

__all__ = ["Calibration", "calibrate_runs", "judge_agreement", "ratings_path_of"]



class Calibration(BaseModel):
    """The judge's agreement with the human consensus on one criterion."""

    criterion: str
    status: Literal["calibrated", "below_floor", "no_ratings", "undefined"]
    floor: float
    alpha: float | None = None
    alpha_level: str | None = None
    kappa: float | None = None
    kappa_weights: str | None = None
    n_items: int = Field(default=0, description="rated outputs with both a consensus and a judge score")
    n_ratings: int = 0
    rated: str | None = Field(default=None, description="which outputs the ratings were paired with")
    ratings_file: str | None = None
    reason: str | None = None

    @property
    def counts(self) -> bool:
        """Whether rules on this criterion count."""
        return self.status == "calibrated"

    def summary(self) -> str:
        """One line: the figures against the floor."""
        a = "n/a" if self.alpha is None else f"{self.alpha:.3f}"
        k = "n/a" if self.kappa is None else f"{self.kappa:.3f}"
        head = f"judge vs human consensus on {self.n_items} outputs: alpha {a} ({self.alpha_level}), kappa {k}"
        return f"{head}; floor {self.floor:g}" + (f" — {self.reason}" if self.reason else "")


def _clean(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def judge_agreement(
    judge: Sequence[float],
    consensus: Sequence[float],
    *,
    criterion: str,
    scale: str = "continuous",
    n_levels: int | None = None,
    floor: float = DEFAULT_MIN_ALPHA,
) -> Calibration:
    """Agreement of a judge's scores with the human consensus, on the [0, 1] scale of the run.

    Args:
        judge: the judge's score of each rated output, in [0, 1].
        consensus: the human consensus for the same outputs, in [0, 1].
        criterion: the criterion id (for the record).
        scale: ``binary``, ``levels`` or ``continuous``.
        n_levels: number of levels of a levels scale (level i of k sits at i / (k − 1)).
        floor: the minimum Krippendorff alpha for the judge to count.

    Returns:
        A :class:`Calibration` with status ``calibrated``, ``below_floor`` or ``undefined``.

    Example:
        >>> c = judge_agreement([1, 1, 0, 0, 1, 0], [1, 1, 0, 0, 1, 1], criterion="ok", scale="binary")
        >>> c.status, round(c.alpha, 3), round(c.kappa, 3)
        ('calibrated', 0.686, 0.667)
        >>> judge_agreement([1, 1, 0, 0, 1, 0, 1, 0], [1, 0, 0, 1, 1, 1, 1, 0], criterion="ok", scale="binary").status
        'below_floor'
    """
    from harness.agreement.coefficients import cohen_kappa, krippendorff_alpha

    j = np.asarray(judge, dtype=float)
    h = np.asarray(consensus, dtype=float)
    n = int(j.size)
    weights: str | None = None
    if scale == "binary":
        jc, hc, level, labels = (j >= 0.5).astype(float), (h >= 0.5).astype(float), "nominal", [0.0, 1.0]
    elif scale == "levels" and n_levels and n_levels >= 2:
        step = n_levels - 1
        jc, hc = np.floor(j * step + 0.5), np.floor(h * step + 0.5)
        level, labels, weights = "ordinal", [float(i) for i in range(n_levels)], "quadratic"
    else:
        jc, hc, level, labels = j, h, "interval", None
    base: dict[str, Any] = {
        "criterion": criterion, "floor": floor, "alpha_level": level, "n_items": n, "kappa_weights": weights
    }
    if n < 2:
        return Calibration(**base, status="undefined", reason=f"{n} rated output(s) paired with judge scores")
    alpha = _clean(krippendorff_alpha(np.column_stack([jc, hc]), level=level))
    kappa = _clean(cohen_kappa(jc, hc, weights=weights, labels=labels)) if labels is not None else None
    if alpha is None:
        return Calibration(
            **base, kappa=kappa, status="undefined", reason="alpha is undefined (no variation in the ratings)"
        )
    status: Literal["calibrated", "below_floor"] = "calibrated" if alpha >= floor else "below_floor"
    reason = None if status == "calibrated" else f"alpha {alpha:.3f} < floor {floor:g}"
    return Calibration(**base, alpha=alpha, kappa=kappa, status=status, reason=reason)


def ratings_path_of(run: Run) -> Path | None:
    """The human ratings file a run's suite names: as recorded, else relative to the suite's folder."""
    raw = run.suite.human_ratings
    if not raw:
        return None
    path = Path(str(raw))
    if path.is_file() or path.is_absolute():
        return path
    suite_path = run.suite.path
    if suite_path:
        sp = Path(str(suite_path))
        folder = sp.parent if sp.suffix in (".yaml", ".yml") else sp
        if (folder / path).is_file():
            return folder / path
    return path


def _to_fraction(value: float, info: CriterionInfo) -> float | None:
    """A consensus on the criterion's own units as the run's [0, 1] score (None when off the scale)."""
    scale = info.scale
    if scale.type == "levels":
        lo, hi = scale.levels[0].value, scale.levels[-1].value
        return scale.level_fraction(value) if lo <= value <= hi else None
    return value if 0.0 <= value <= 1.0 else None


def _judge_value(item: ItemResult, criterion: str, output: str | None) -> float | None:
    if output is not None:
        for att in item.attempts:
            if att.output.strip() == output and criterion in att.scores:
                return att.scores[criterion].value
        if item.output.strip() != output:
            return None
    if item.attempts and criterion in item.attempts[0].scores:
        return item.attempts[0].scores[criterion].value
    score = item.scores.get(criterion)
    return score.value if score is not None else None


_Runs = dict[str, dict[str, "ItemResult"]]  # side -> item id -> item
_Key = tuple[str, str, "str | None"]  # item id, side, rated output text (None: the side's own output)


def _read_ratings(path: Path) -> list[tuple[RatingRecord, float]]:
    """The rows of a ratings file with each score as a number.

    Raises:
        InputError: for a bad row (file, line and field named).
    """
    rows: list[tuple[RatingRecord, float]] = []
    for rec in iter_records(path, kind="rating"):
        if isinstance(rec, RowProblem):
            raise InputError(rec.message, file=path, line=rec.line, field=rec.field)
        assert isinstance(rec, RatingRecord)
        rows.append((rec, rating_number(rec.score, file=path, line=rec.line)))
    return rows


def _rated_output(rec: RatingRecord, cid: str, runs: _Runs, path: Path) -> tuple[_Key | None, str]:
    """Which output a rating is of (None: an ``output`` no run produced), and how that was found.

    Raises:
        InputError: a ``model`` column that is neither ``base`` nor ``candidate``.
    """
    extra: dict[str, Any] = rec.model_extra or {}
    output = extra.get("output")
    if isinstance(output, str):
        text = output.strip()
        found = next(
            (s for s in ("candidate", "base") if rec.item_id in runs[s]
             and _judge_value(runs[s][rec.item_id], cid, text) is not None),
            None,
        )  # fmt: skip
        return (None if found is None else (rec.item_id, found, text)), "outputs matched by text"
    model = extra.get("model")
    if model is None:
        return (rec.item_id, "candidate", None), "candidate outputs (assumed: no 'output' or 'model' column)"
    side = str(model).strip().casefold()
    if side not in runs:
        raise InputError(
            f"'model' must be 'base' or 'candidate'; got {model!r}", file=path, line=rec.line, field="model"
        )
    return (rec.item_id, side, None), "the 'model' column"


def _paired_scores(
    groups: Mapping[_Key, list[float]], runs: _Runs, cid: str, info: CriterionInfo
) -> tuple[list[float], list[float]]:
    """The judge's score and the human consensus (as a [0, 1] score) of each rated output that has both."""
    judge_v: list[float] = []
    human_v: list[float] = []
    for (item_id, which, rated_text), values in groups.items():
        item = runs[which].get(item_id)
        if item is None:
            continue
        j = _judge_value(item, cid, rated_text)
        c, _ = info.scale.consensus(values)
        h = _to_fraction(c, info) if c is not None else None
        if j is None or h is None:
            continue
        judge_v.append(j)
        human_v.append(h)
    return judge_v, human_v


def _calibrate_criterion(
    cid: str, info: CriterionInfo, rows: Sequence[tuple[RatingRecord, float]], runs: _Runs, path: Path
) -> Calibration:
    """One judge criterion against the ratings of it (rows without a criterion count for every one)."""
    groups: dict[_Key, list[float]] = defaultdict(list)
    how: set[str] = set()
    n_ratings = 0
    for rec, value in rows:
        if rec.criterion not in (None, cid):
            continue
        n_ratings += 1
        key, found_by = _rated_output(rec, cid, runs, path)
        if key is None:
            continue
        groups[key].append(value)
        how.add(found_by)
    if n_ratings == 0:
        return Calibration(
            criterion=cid, status="no_ratings", floor=info.floor, ratings_file=str(path),
            reason=f"no ratings for criterion {cid!r} in {path.name}",
        )  # fmt: skip
    judge_v, human_v = _paired_scores(groups, runs, cid, info)
    n_levels = len(info.scale.levels) or None
    cal = judge_agreement(judge_v, human_v, criterion=cid, scale=info.scale.type, n_levels=n_levels, floor=info.floor)
    return cal.model_copy(
        update={"n_ratings": n_ratings, "rated": "; ".join(sorted(how)) or None, "ratings_file": str(path)}
    )


def calibrate_runs(
    base: Run,
    candidate: Run,
    judges: Mapping[str, CriterionInfo],
    *,
    ratings_path: str | Path | None = None,
) -> dict[str, Calibration]:
    """Calibrate every judge criterion against the human ratings the suite names.

    Args:
        base: the base run.
        candidate: the candidate run.
        judges: the judge criteria (id → :class:`~harness.compare.criteria.CriterionInfo`).
        ratings_path: the ratings file (default: the suite's ``human_ratings``, from the runs).

    Returns:
        One :class:`Calibration` per judge criterion.

    Raises:
        InputError: for a ratings file with bad rows (file, line and field named).
    """
    path = Path(ratings_path) if ratings_path else (ratings_path_of(candidate) or ratings_path_of(base))
    if path is None or not path.is_file():
        why = "the suite names no human_ratings file" if path is None else f"human ratings file {path} not found"
        return {
            cid: Calibration(
                criterion=cid,
                status="no_ratings",
                floor=info.floor,
                reason=why,
                ratings_file=str(path) if path else None,
            )
            for cid, info in judges.items()
        }
    runs = {"base": {i.id: i for i in base.items}, "candidate": {i.id: i for i in candidate.items}}
    rows = _read_ratings(path)
    return {cid: _calibrate_criterion(cid, info, rows, runs, path) for cid, info in judges.items()}
