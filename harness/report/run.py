"""The Markdown report of a run (``run.md``) and the worst-items selection shared with the CLI."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from harness.eval.rubric import OVERALL
from harness.eval.run import CriterionSummary, ItemResult, Run
from harness.report import md_escape

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


def render_run_markdown(run: Run, *, worst: int = 10) -> str:
    """``run.md``: model, suite, per-criterion means with CIs and n, the worst items, the manifest."""
    s, m, man = run.suite, run.model, run.manifest
    lines = [
        f"# Evaluation: {md_escape(str(s.get('name')))} × {md_escape(str(m.get('spec', m.get('kind'))))}",
        "",
        f"- model: `{md_escape(str(m.get('spec')), None)}` ({m.get('kind')}), fingerprint `{m.get('fingerprint')}`",
        f"- suite: `{md_escape(str(s.get('path')), None)}`, {s.get('n_items')} items (hash `{s.get('items_hash')}`)",
        f"- rubric: {md_escape(str(s.rubric.name if s.rubric else None))} (hash `{s.get('rubric_hash')}`)",
        f"- generation: `{md_escape(str(man.get('generation')), None)}`, repeats {man.get('repeats')}",
        f"- created {man.get('created')}; generated {man.get('timing', {}).get('generated')}, "
        f"cached {man.get('timing', {}).get('cached')}",
        "",
        "## Criteria",
        "",
        "| criterion | mean | CI | n | unscored | interval |",
        "| --- | ---: | --- | ---: | ---: | --- |",
    ]
    for cid, summ in run.summary.items():
        mean, ci = fmt_summary(summ)
        lines.append(
            f"| {md_escape(cid)} | {mean} | {md_escape(ci)} | {summ.n} | {summ.n_unscored} | "
            f"{summ.method} {summ.confidence:.0%} |"
        )
    lines += [
        "",
        f"## Worst {min(worst, len(run.items))} items",
        "",
        "| item | overall | weak criteria | output |",
        "| --- | ---: | --- | --- |",
    ]
    for w in worst_items(run, worst):
        v = "n/a" if w.score is None else f"{w.score:.3f}"
        why = "; ".join(f"{c}: {w.item.scores[c].explanation}" for c in w.weak[:3])
        lines.append(f"| {md_escape(w.item.id)} | {v} | {md_escape(why, 160)} | {md_escape(w.item.output, 160)} |")
    lines += ["", "## Manifest", "", "```json"]
    import json

    lines += [
        json.dumps(man.model_dump(mode="json", include={"hashes", "versions", "seed", "git"}), indent=2),
        "```",
        "",
    ]
    return "\n".join(lines)


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
