"""Output quality per window on criteria that need no reference answer, and the degradation test.

Criteria: ``json_valid`` (share of outputs that parse as JSON), ``refusal`` (share of outputs that
refuse; lower is better), ``rating`` (mean user rating; higher is better). Each window is tested
one-sided against the reference window(s): Fisher's exact test for the two shares, the
Mann–Whitney U test for ratings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats as sps

from harness.errors import InputError
from harness.eval.scorers.refusal import detect_refusal
from harness.eval.scorers.structured import extract_json
from harness.monitor.document import QualityStat
from harness.monitor.logs import LogEntry
from harness.monitor.stats import fisher_rates
from harness.stats.intervals import mean_interval, wilson_interval

__all__ = ["CRITERIA", "auto_criteria", "criterion_values", "window_quality"]

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


def _one_sided_p(ref: list[float], win: list[float], direction: str, kind: str) -> float:
    worse = "less" if direction == "higher_better" else "greater"
    if kind == "rate":
        return fisher_rates(int(sum(ref)), len(ref), int(sum(win)), len(win), alternative=worse).p_value
    return float(sps.mannwhitneyu(win, ref, alternative=worse).pvalue)


def window_quality(
    reference: Sequence[LogEntry],
    entries: Sequence[LogEntry],
    criteria: Sequence[str],
    *,
    min_rows: int,
    confidence: float,
    seed: int,
    test: bool,
) -> list[QualityStat]:
    """Each criterion's value and interval in a window, and the one-sided p-value against the reference."""
    out = []
    for crit in criteria:
        direction, kind = CRITERIA[crit]
        ref = criterion_values(reference, crit)
        win = criterion_values(entries, crit)
        stat = QualityStat(
            criterion=crit,
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
            stat.p_value = _one_sided_p(ref, win, direction, kind)
        out.append(stat)
    return out
