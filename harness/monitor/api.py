"""``harness monitor``: production logs → windows → input drift and output quality → ok / drift / degraded.

Decision rule (stated in every report):
- the first ``reference_windows`` windows are the quality reference (and the drift reference when
  no training data is given);
- a window with fewer than ``min_rows`` rows is ``inconclusive`` (never ``ok``);
- a window drifts when its MMD permutation p-value, Holm-adjusted across the windows, is below
  ``alpha``; the univariate tests (length, script, PII, near-training share) explain it and are
  Holm-adjusted across windows, test by test;
- a window is degraded when a quality criterion is worse than the reference by more than
  ``margin`` with a one-sided p-value, Holm-adjusted across every counted (window, criterion)
  pair, below ``alpha``; the criteria are the built-in ones and, with a rubric, each of its
  criteria that needs no reference (:mod:`harness.monitor.rubric`);
- a model-graded rubric criterion (judge, reward) counts only once calibrated against human
  ratings, as in ``harness gate``; one that does not count is reported, not tested, and keeps the
  verdict from being ``ok`` (inconclusive instead).
The verdict is the worst window status: degraded (exit 1), drift (exit 1), inconclusive (exit 3),
ok (exit 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from harness.errors import InputError
from harness.monitor.cusum import cusum_path, cusum_threshold
from harness.monitor.document import MonitorCriterion, MonitorReport, QualityStat, ShiftTest, WindowReport
from harness.monitor.drift import Reference, window_drift
from harness.monitor.features import embed
from harness.monitor.logs import LogEntry, Window, WindowSpec, load_logs, split_windows
from harness.monitor.quality import CRITERIA, QualityCriterion, auto_criteria, builtin_criterion, window_quality
from harness.monitor.stats import ks_shift
from harness.records import message_text, read_rows
from harness.stats.paired import holm

if TYPE_CHECKING:
    from harness.eval.rubric import Rubric
    from harness.models.base import Generator

__all__ = ["MonitorSettings", "monitor_logs", "read_reference_prompts"]

Progress = Callable[[str, int, int], None]


@dataclass
class MonitorSettings:
    """Options of a monitoring run (see the module docstring for the decision rule).

    ``permutations`` None: at least 1,000 and at least 4 × (tested windows) / alpha.
    """

    window: WindowSpec
    embedder: str = "hashing"
    permutations: int | None = None
    alpha: float = 0.05
    confidence: float = 0.95
    min_rows: int = 30
    max_rows: int = 500
    near_threshold: float = 0.9
    reference_windows: int = 1
    margin: float = 0.0
    seed: int = 0
    quality: list[str] | None = None
    examples: int = 5
    rubric: str | None = None
    ratings: str | None = None
    judge: str | None = None
    cusum_arl: float | None = None
    cusum_k: float = 0.5
    extra: dict[str, object] = field(default_factory=dict)

    def check(self) -> None:
        """Validate the options at the boundary (InputError naming the option)."""
        checks = [
            ("alpha", 0 < self.alpha < 1, "a float in the range (0, 1)"),
            ("confidence", 0 < self.confidence < 1, "a float in the range (0, 1)"),
            ("permutations", self.permutations is None or self.permutations >= 99, "an int >= 99"),
            ("min-rows", self.min_rows >= 2, "an int >= 2"),
            ("max-rows", self.max_rows >= self.min_rows, "an int >= --min-rows"),
            ("reference-windows", self.reference_windows >= 1, "an int >= 1"),
            ("near-threshold", -1 <= self.near_threshold <= 1, "a float in [-1, 1]"),
            ("margin", self.margin >= 0, "a float >= 0"),
            ("cusum-arl", self.cusum_arl is None or self.cusum_arl > 1, "a number of windows > 1"),
            ("cusum-k", self.cusum_k >= 0, "a float >= 0"),
        ]
        for name, ok, what in checks:
            if not ok:
                value = getattr(self, name.replace("-", "_"))
                raise InputError(f"The '{name}' parameter of monitor must be {what}; got {value!r}.", field=name)
        for q in self.quality or ():
            if q not in CRITERIA:
                raise InputError(
                    f"The 'quality' parameter of monitor must be one of {{{', '.join(map(repr, CRITERIA))}}}; "
                    f"got {q!r}.",
                    field="quality",
                )


def read_reference_prompts(path: str | Path) -> list[str]:
    """Prompts of a training file (``prompt`` or the non-assistant turns of ``messages``)."""
    out = []
    for row in read_rows(path):
        if row.problem is not None:
            raise InputError(row.problem.message, file=path, line=row.line, field=row.problem.field)
        data = row.data or {}
        value = data.get("prompt", data.get("messages"))
        if value is None:
            raise InputError("a reference row needs 'prompt' or 'messages'", file=path, line=row.line, field="prompt")
        if isinstance(value, list):
            value = [m for m in value if not (isinstance(m, dict) and m.get("role") == "assistant")]
        try:
            out.append(message_text(value))
        except (TypeError, KeyError, AttributeError):
            raise InputError("expected a string or messages", file=path, line=row.line, field="prompt") from None
    if len(out) < 2:
        raise InputError("the reference needs at least two prompts", file=path)
    return out


def _sample(items: Sequence[LogEntry] | Sequence[str], k: int, rng: np.random.Generator) -> list[int]:
    idx = np.arange(len(items))
    return sorted(rng.choice(idx, size=k, replace=False).tolist()) if len(items) > k else idx.tolist()


def _reference(texts: list[str], source: str, s: MonitorSettings) -> Reference:
    keep = _sample(texts, s.max_rows, np.random.default_rng(s.seed))
    chosen = [texts[i] for i in keep]
    return Reference(chosen, embed(chosen, s.embedder), source, len(texts))


def _apply_holm(values: list[ShiftTest] | list[QualityStat]) -> None:
    tested = [v for v in values if v.p_value is not None]
    if tested:
        for v, adj in zip(tested, holm([v.p_value for v in tested]), strict=True):  # type: ignore[misc]
            v.p_adjusted = float(adj)


def _analyse_windows(
    windows: list[Window],
    ref: Reference,
    ref_entries: list[LogEntry],
    criteria: list[QualityCriterion],
    s: MonitorSettings,
    progress: Progress | None,
) -> list[WindowReport]:
    reports = []
    for w in windows:
        if progress:
            progress("windows", w.index, len(windows))
        is_ref = w.index < s.reference_windows
        rep = WindowReport(
            index=w.index,
            label=w.label,
            start=w.start.isoformat() if w.start else None,
            end=w.end.isoformat() if w.end else None,
            n=len(w.entries),
            status="reference" if is_ref else "ok",
        )
        rep.quality = window_quality(
            ref_entries,
            w.entries,
            criteria,
            min_rows=s.min_rows,
            confidence=s.confidence,
            seed=s.seed,
            test=not is_ref,
        )
        if not is_ref and len(w.entries) < s.min_rows:
            rep.status = "inconclusive"
            rep.reasons.append(f"{len(w.entries)} rows, fewer than --min-rows {s.min_rows}: not tested")
        elif not is_ref:
            rng = np.random.default_rng(s.seed + 1 + w.index)
            entries = [w.entries[i] for i in _sample(w.entries, s.max_rows, rng)]
            vectors = embed([e.prompt for e in entries], s.embedder)
            rep.drift, rep.examples, rep.new_ngrams = window_drift(
                ref,
                entries,
                vectors,
                permutations=s.permutations or 1000,
                seed=s.seed + w.index,
                near_threshold=s.near_threshold,
                n_examples=s.examples,
            )
            rep.drift.append(_output_length(ref_entries, w.entries))
        reports.append(rep)
    if progress:
        progress("windows", len(windows), len(windows))
    return reports


def _output_length(reference: list[LogEntry], entries: Sequence[LogEntry]) -> ShiftTest:
    """KS test of the output length in words, window against the quality reference (explains a drop)."""
    ref = [len(e.output.split()) for e in reference]
    win = [len(e.output.split()) for e in entries]
    r = ks_shift(ref, win)
    return ShiftTest(
        test="output_length", statistic=r.statistic, statistic_name=r.statistic_name, p_value=r.p_value,
        effect=r.effect, effect_name=r.effect_name, reference=float(np.mean(ref)), window=float(np.mean(win)),
        n_reference=len(ref), n_window=len(win),
    )  # fmt: skip


def _cusum(reports: list[WindowReport], s: MonitorSettings) -> None:
    """CUSUM per counted criterion over the tested windows; h gives each criterion an in-control ARL of
    (number of criteria) × ``cusum_arl`` windows, so that any false signal comes about every ``cusum_arl``."""
    names = list(dict.fromkeys(q.criterion for r in reports for q in r.quality if q.counted))
    if s.cusum_arl is None or not names:
        return
    h = cusum_threshold(s.cusum_arl * len(names), s.cusum_k)
    tested = [r for r in reports if r.status not in ("reference", "inconclusive")]
    for name in names:
        stats = [next((q for q in r.quality if q.criterion == name), None) for r in tested]
        path = cusum_path([q.z if q is not None else None for q in stats], s.cusum_k, h)
        for r, q, (c, signal) in zip(tested, stats, path, strict=True):
            if q is None or c is None:
                continue
            q.cusum, q.cusum_signal = c, signal
            if signal:
                q.degraded = True
                r.status = "degraded"
                why = f"k {s.cusum_k:g}, in-control ARL {s.cusum_arl:g} windows"
                r.reasons.append(f"{q.criterion}: CUSUM {c:.2f} > h {h:.2f} ({why})")


def _decide(reports: list[WindowReport], s: MonitorSettings) -> None:
    tests = sorted({t.test for r in reports for t in r.drift})
    for name in tests:  # Holm across windows, test by test
        _apply_holm([t for r in reports for t in r.drift if t.test == name])
    _apply_holm([q for r in reports for q in r.quality if q.counted])  # Holm across every counted (window, criterion)
    for r in reports:
        if r.status in ("reference", "inconclusive"):
            continue
        for q in r.quality:
            if not q.counted or q.p_adjusted is None or q.value is None or q.reference is None:
                continue
            worse = q.reference - q.value if q.direction == "higher_better" else q.value - q.reference
            if q.p_adjusted < s.alpha and worse > s.margin:
                q.degraded = True
                r.status = "degraded"
                r.reasons.append(
                    f"{q.criterion} {q.value:.3f} vs reference {q.reference:.3f} "
                    f"(one-sided p {q.p_value:.2g}, Holm-adjusted {q.p_adjusted:.2g})"
                )
        mmd = next((t for t in r.drift if t.test == "mmd"), None)
        if mmd is not None and mmd.p_adjusted is not None and mmd.p_adjusted < s.alpha:
            if r.status == "ok":
                r.status = "drift"
            r.reasons.append(f"input drift: MMD {mmd.effect:.3f}, Holm-adjusted p {mmd.p_adjusted:.2g}")


def _verdict(reports: list[WindowReport], criteria: list[MonitorCriterion]) -> tuple[str, int]:
    statuses = {r.status for r in reports}
    for status, code in (("degraded", 1), ("drift", 1), ("inconclusive", 3)):
        if status in statuses:
            return status, code
    if not statuses - {"reference"}:
        return "inconclusive", 3  # nothing but the reference: nothing was tested
    if any(c.status == "not_counted" for c in criteria):
        return "inconclusive", 3  # as in the gate: an uncalibrated judge cannot show that quality held
    return "ok", 0


def _criteria(
    s: MonitorSettings,
    entries: list[LogEntry],
    ref_entries: list[LogEntry],
    rubric: Rubric | None,
    judge: Generator | None,
) -> tuple[list[QualityCriterion], list[MonitorCriterion]]:
    """Built-in criteria (asked for, or those that apply) and the rubric's reference-free ones."""
    criteria: list[QualityCriterion] = []
    infos: list[MonitorCriterion] = []
    if rubric is not None:
        from harness.monitor.rubric import rubric_criteria

        criteria, infos = rubric_criteria(rubric, entries, judge=judge, ratings=s.ratings)
    taken = {c.id for c in infos}
    for name in s.quality or auto_criteria(ref_entries):
        if name in taken:
            continue  # the rubric's criterion of the same id wins
        crit = builtin_criterion(name)
        n = len(crit.values(entries))
        criteria.append(crit)
        infos.append(MonitorCriterion(id=name, source="builtin", kind=crit.kind, status="counted", n_scored=n))  # type: ignore[arg-type]
    return criteria, infos


def monitor_logs(
    logs: str | Path | Sequence[str | Path],
    settings: MonitorSettings,
    *,
    reference: str | Path | None = None,
    progress: Progress | None = None,
    rubric: Rubric | str | Path | None = None,
    judge: Generator | None = None,
) -> MonitorReport:
    """Monitor production logs: windows, drift against the reference, quality against the first windows.

    Args:
        logs: a log file or folder, or several.
        settings: window size, tests and thresholds.
        reference: training data whose prompts are the drift reference (default: the first windows).
        progress: called as ``progress(stage, done, total)``.
        rubric: a rubric (or its file) whose reference-free criteria are scored per window.
        judge: the generator that grades the rubric's judge criteria (default: each criterion's model).
    """
    settings.check()
    paths = [logs] if isinstance(logs, str | Path) else list(logs)
    entries = [e for p in paths for e in load_logs(p)]
    windows = split_windows(entries, settings.window)
    ref_windows = windows[: settings.reference_windows]
    ref_entries = [e for w in ref_windows for e in w.entries]
    if len(windows) <= settings.reference_windows:
        raise InputError(
            f"the logs make {len(windows)} window(s) of {settings.window.describe()}; nothing is left after the "
            f"{settings.reference_windows} reference window(s): use a smaller --window",
            field="window",
        )
    if len(ref_entries) < settings.min_rows:
        raise InputError(
            f"the reference window(s) hold {len(ref_entries)} rows, fewer than --min-rows {settings.min_rows}",
            field="window",
        )
    if isinstance(rubric, str | Path):
        from harness.eval.suite import load_rubric

        settings = replace(settings, rubric=str(rubric))
        rubric = load_rubric(rubric)
    criteria, infos = _criteria(settings, entries, ref_entries, rubric, judge)
    if settings.permutations is None:
        # A permutation p-value is never below 1/(1 + B); after Holm over T windows the smallest
        # adjusted value is T/(1 + B), so B >= 4T/alpha keeps a clear drift detectable.
        tested = len(windows) - settings.reference_windows
        settings = replace(settings, permutations=max(1000, math.ceil(4 * tested / settings.alpha)))
    if reference is not None:
        ref = _reference(read_reference_prompts(reference), str(reference), settings)
    else:
        ref = _reference([e.prompt for e in ref_entries], "first window(s) of the logs", settings)
    reports = _analyse_windows(windows, ref, ref_entries, criteria, settings, progress)
    _decide(reports, settings)
    _cusum(reports, settings)
    verdict, code = _verdict(reports, infos)
    opts = {k: v for k, v in asdict(settings).items() if k not in ("window", "extra")}
    return MonitorReport(
        verdict=verdict,  # type: ignore[arg-type]
        exit_code=code,
        logs=[str(p) for p in paths],
        reference={
            "source": ref.source,
            "n": ref.n_total,
            "n_used": len(ref.texts),
            "quality": f"windows 0-{settings.reference_windows - 1} of the logs ({len(ref_entries)} rows)",
        },
        window=settings.window.describe(),
        settings={**opts, "quality": [c.name for c in criteria]},
        multiplicity="Holm across windows for each drift test; Holm across all counted (window, criterion) pairs "
        "for quality",
        windows=reports,
        criteria=infos,
        rubric=None if rubric is None else {"name": rubric.name, "path": rubric.path, "hash": rubric.content_hash()},
    )
