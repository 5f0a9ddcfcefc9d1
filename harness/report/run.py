"""The files of a run (``run.json``, ``run.md``) and the worst-items selection shared with the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.eval.rubric import OVERALL
from harness.eval.run import CriterionSummary, ItemResult, Run
from harness.files import write_atomic, write_json
from harness.report.templating import render

if TYPE_CHECKING:
    from rich.console import Console


class WorstItem(NamedTuple):
    """An item with a low score and the criteria it failed or scored lowest on."""

    item: ItemResult
    score: float | None
    weak: list[str]


def fmt_summary(s: CriterionSummary) -> tuple[str, str]:
    """Mean and CI as short strings ("n/a" with the reason when there is no data)."""
    if s.mean is None or s.ci is None:
        return "n/a", s.reason or "no data"
    return f"{s.mean:.3f}", f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}]"


def _below_full(value: float | None) -> bool:
    """Whether a criterion score is unscored or short of full marks."""
    return value is None or value < 1.0


def worst_items(run: Run, n: int = 10) -> list[WorstItem]:
    """The ``n`` items with the lowest overall score (unscored ones first), with their weak criteria."""
    crit_ids = [cid for cid in run.summary if cid != OVERALL]

    def key(r: ItemResult) -> tuple[int, float]:
        v = r.scores[OVERALL].value if OVERALL in r.scores else None
        return (0, 0.0) if v is None else (1, v)

    out = []
    for r in sorted(run.items, key=key)[:n]:
        weak = [cid for cid in crit_ids if cid in r.scores and _below_full(r.scores[cid].value)]
        out.append(WorstItem(r, r.scores[OVERALL].value if OVERALL in r.scores else None, weak))
    return out


@dataclass
class RunView:
    """What ``run.md`` shows of a run: identity lines, per-criterion rows, the worst items, the manifest."""

    suite: dict[str, Any]
    model: dict[str, Any]
    manifest: dict[str, Any]
    criteria: list[dict[str, Any]]
    worst: list[dict[str, Any]]
    n_worst: int

    @property
    def requests(self) -> str | None:
        """The line on the run's server requests (None without a server)."""
        return requests_line(self.manifest.get("requests"))

    @property
    def manifest_json(self) -> str:
        """The hashes, library versions, seed and git state of the manifest as indented JSON."""
        keep = ("hashes", "versions", "seed", "git")
        return json.dumps({k: self.manifest[k] for k in keep if k in self.manifest}, indent=2)


def run_view(run: Run, *, worst: int = 10) -> RunView:
    """The view of a run for ``run.md`` (a missing manifest entry shows as ``None``, as it is)."""
    criteria = []
    for cid, summ in run.summary.items():
        mean, ci = fmt_summary(summ)
        criteria.append({"id": cid, "mean": mean, "ci": ci, "n": summ.n, "n_unscored": summ.n_unscored,
                         "interval": f"{summ.method} {summ.confidence:.0%}"})
    rows = [{"id": w.item.id, "score": "n/a" if w.score is None else f"{w.score:.3f}",
             "why": "; ".join(f"{c}: {w.item.scores[c].explanation}" for c in w.weak[:3]), "output": w.item.output}
            for w in worst_items(run, worst)]
    return RunView(suite=run.suite.model_dump(mode="json"), model=run.model.model_dump(mode="json"),
                   manifest=run.manifest.model_dump(mode="json"), criteria=criteria, worst=rows,
                   n_worst=min(worst, len(run.items)))


def requests_line(req: dict[str, Any] | None) -> str | None:
    """One line on a run's server requests: tries, retried items, retries by cause (None without a server).

    Example:
        >>> requests_line({"items": 4, "attempts": 7, "retried_items": 2, "retries": 3,
        ...                "errors": {"HTTP 503": 2, "timed out": 1}})
        'requests: 4 items, 7 tries; 2 items retried (3 retries: HTTP 503 ×2, timed out ×1)'
    """
    if not req:
        return None
    line = f"requests: {req.get('items')} items, {req.get('attempts')} tries"
    if req.get("retries"):
        causes = ", ".join(f"{k} ×{v}" for k, v in (req.get("errors") or {}).items())
        line += f"; {req.get('retried_items')} items retried ({req.get('retries')} retries: {causes})"
    else:
        line += "; no retries"
    return line


def render_run_markdown(run: Run, *, worst: int = 10) -> str:
    """``run.md``: model, suite, per-criterion means with CIs and n, the worst items, the manifest."""
    return render("run.md.j2", view=run_view(run, worst=worst))


def print_run(run: Run, console: Console, *, worst: int = 5) -> None:
    """Print a run's per-criterion table and its worst items with rich."""
    from rich.table import Table

    man = run.manifest.get("timing", {})
    title = f"{run.suite.get('name')} × {run.model.get('spec')}  ({len(run.items)} items"
    title += f", {man.get('generated', 0)} generated, {man.get('cached', 0)} cached)"
    t = Table(title=title, title_justify="left")
    for col, just in [("criterion", "left"), ("mean", "right"), ("CI", "left"), ("n", "right"), ("method", "left")]:
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for cid, s in run.summary.items():
        mean, ci = fmt_summary(s)
        extra = f" (+{s.n_unscored} unscored)" if s.n_unscored else ""
        t.add_row(cid, mean, ci, f"{s.n}{extra}", f"{s.method} {s.confidence:.0%}")
    console.print(t)
    if worst > 0 and run.items:
        w = Table(title=f"Worst {min(worst, len(run.items))} items", title_justify="left")
        for col in ("item", "overall", "weak criteria", "output"):
            w.add_column(col, overflow="fold")
        for it in worst_items(run, worst):
            why = "; ".join(f"{c}: {it.item.scores[c].explanation}" for c in it.weak[:2])
            out = it.item.output.replace("\n", " ")
            w.add_row(it.item.id, "n/a" if it.score is None else f"{it.score:.3f}", why[:120], out[:100])
        console.print(w)
    if (line := requests_line(run.manifest.requests)) is not None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


class RunFiles(NamedTuple):
    """The files :func:`write_run` wrote."""

    json: Path
    markdown: Path


def write_run(run: Run, out_dir: str | Path) -> RunFiles:
    """Write ``run.json`` and ``run.md`` into ``out_dir`` (atomically)."""
    out = Path(out_dir)
    js = write_json(out / "run.json", run.to_document())
    md = write_atomic(out / "run.md", render_run_markdown(run))
    return RunFiles(js, md)
