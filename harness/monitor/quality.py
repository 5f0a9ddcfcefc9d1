"""Output quality per window on criteria that need no reference answer, and the degradation test.

Built-in criteria: ``json_valid`` (share of outputs that parse as JSON), ``refusal`` (share of
outputs that refuse; lower is better), ``rating`` (mean user rating; higher is better). A rubric
adds its reference-free criteria (:mod:`harness.monitor.rubric`). Each window is tested one-sided
against the reference window(s): Fisher's exact test for shares (effect: the rate difference), the
Mann–Whitney U test for means (effect: the rank-biserial correlation, P(window > reference) −
P(window < reference)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from harness.errors import InputError
from harness.eval.scorers.refusal import detect_refusal
from harness.eval.scorers.structured import extract_json
from harness.monitor.cusum import standardised
from harness.monitor.document import QualityStat
from harness.monitor.logs import LogEntry
from harness.monitor.stats import fisher_rates
from harness.stats.intervals import mean_interval, wilson_interval

__all__ = [
    "CRITERIA",
    "QualityCriterion",
    "auto_criteria",
    "builtin_criterion",
    "criterion_values",
    "rank_biserial",
    "window_quality",
]

# criterion -> (direction, kind)
CRITERIA: dict[str, tuple[str, str]] = {
    "json_valid": ("higher_better", "rate"),
    "refusal": ("lower_better", "rate"),
    "rating": ("higher_better", "mean"),
}


def criterion_values(entries: Sequence[LogEntry], criterion: str) -> list[float]:
    """Per-entry values of a criterion (entries without a rating are left out of ``rating``)."""
    if criterion == "json_valid":
        return [float(extract_json(e.output).ok) for e in entries]
    if criterion == "refusal":
        return [float(detect_refusal(e.output) is not None) for e in entries]
    if criterion == "rating":
        return [e.rating for e in entries if e.rating is not None]
    raise InputError(
        f"The 'quality' parameter of monitor must be one of {{{', '.join(map(repr, CRITERIA))}}}; got {criterion!r}.",
        field="quality",
    )


@dataclass(frozen=True)
class QualityCriterion:
    """A criterion scored per log entry: its name, direction, kind and how each entry is valued.

    ``values(entries)`` gives one value per scored entry (unscored entries are left out);
    ``counted`` false means the criterion is reported but neither tested nor able to degrade a
    window (a model-graded criterion without calibration), ``note`` says why.
    """

    name: str
    direction: str
    kind: str
    values: Callable[[Sequence[LogEntry]], list[float]]
    counted: bool = True
    note: str | None = None


def builtin_criterion(name: str) -> QualityCriterion:
    """One of :data:`CRITERIA` as a :class:`QualityCriterion`."""
    direction, kind = CRITERIA[name]
    return QualityCriterion(name, direction, kind, lambda entries: criterion_values(entries, name))


def auto_criteria(reference: Sequence[LogEntry]) -> list[str]:
    """Criteria that mean something for these logs: refusal always; JSON validity when most reference
    outputs are JSON; ratings when the reference has some."""
    out = ["refusal"]
    if reference and np.mean(criterion_values(reference, "json_valid")) >= 0.5:
        out.insert(0, "json_valid")
    if any(e.rating is not None for e in reference):
        out.append("rating")
    return out


def _interval(values: list[float], kind: str, confidence: float, seed: int) -> list[float] | None:
    if not values:
        return None
    if kind == "rate":
        lo, hi = wilson_interval(int(sum(values)), len(values), confidence=confidence)
        return [lo, hi]
    # Ratings are not bounded to [0, 1]: a percentile bootstrap with no bounds (None for one value).
    return mean_interval(
        values, binary=False, confidence=confidence, resamples=2000, method="percentile", seed=seed, bounds=None
    ).ci


def rank_biserial(window: Sequence[float], reference: Sequence[float]) -> float:
    """P(window > reference) − P(window < reference) over all pairs: 2U/(n·m) − 1 with U the
    Mann–Whitney statistic of the window (ties count a half).

    >>> rank_biserial([3, 4, 5], [1, 2, 3])
    0.8888888888888888
    """
    u = float(sps.mannwhitneyu(window, reference, alternative="two-sided").statistic)
    return 2.0 * u / (len(window) * len(reference)) - 1.0


def _one_sided(ref: list[float], win: list[float], direction: str, kind: str) -> tuple[float, float, str]:
    """(one-sided p that the window is worse, effect, effect name)."""
    worse = "less" if direction == "higher_better" else "greater"
    if kind == "rate":
        r = fisher_rates(int(sum(ref)), len(ref), int(sum(win)), len(win), alternative=worse)
        return r.p_value, r.effect, r.effect_name
    p = float(sps.mannwhitneyu(win, ref, alternative=worse).pvalue)
    return p, rank_biserial(win, ref), "rank-biserial r"


def window_quality(
    reference: Sequence[LogEntry],
    entries: Sequence[LogEntry],
    criteria: Sequence[str | QualityCriterion],
    *,
    min_rows: int,
    confidence: float,
    seed: int,
    test: bool,
) -> list[QualityStat]:
    """Each criterion's value and interval in a window, and the one-sided p-value against the reference."""
    out = []
    for c in criteria:
        crit = builtin_criterion(c) if isinstance(c, str) else c
        direction, kind = crit.direction, crit.kind
        ref = crit.values(reference)
        win = crit.values(entries)
        stat = QualityStat(
            criterion=crit.name,
            counted=crit.counted,
            direction=direction,  # type: ignore[arg-type]
            value=float(np.mean(win)) if win else None,
            ci=_interval(win, kind, confidence, seed),
            n=len(win),
            reference=float(np.mean(ref)) if ref else None,
        )
        if not test:
            pass
        elif len(win) < min_rows or len(ref) < min_rows:
            stat.reason = (
                f"too few rows to test: {len(win)} in the window, {len(ref)} in the reference (min {min_rows})"
            )
        else:
            p, stat.effect, stat.effect_name = _one_sided(ref, win, direction, kind)
            better = direction == "higher_better"
            stat.z = standardised(float(np.mean(win)), len(win), ref, kind=kind, higher_better=better)
            if crit.counted:
                stat.p_value = p
            else:
                stat.reason = f"not tested, does not count: {crit.note or 'not calibrated'} (one-sided p {p:.2g})"
        out.append(stat)
    return out
