"""``harness history --html``: one self-contained page with a trend plot per suite criterion.

Each plot shows, over time, the mean and interval of every model version (spec and weights
hash) measured on that suite criterion; a gated candidate's point is ringed in the colour of the
gate's verdict. Plots are inline SVG drawn by matplotlib; the page needs no script or network.
"""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

from markupsafe import Markup

from harness.report.formatting import fmt
from harness.report.templating import render
from harness.store.history import TrendPoint

__all__ = ["history_view", "render_history_html", "version_label"]

_VERDICT = {"pass": "#15803d", "fail": "#b91c1c", "inconclusive": "#d97706"}


def version_label(p: TrendPoint) -> str:
    """A model version: its spec and the first characters of its weights hash."""
    h = (p.model_hash or "").split(":")[-1][:8]
    return f"{p.model} @{h}" if h and h not in p.model else p.model


def _plot(points: list[TrendPoint], title: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4))
    ax = fig.add_subplot()
    by: dict[str, list[TrendPoint]] = defaultdict(list)
    for p in points:
        if p.mean is not None:
            by[version_label(p)].append(p)
    for k, (label, pts) in enumerate(sorted(by.items())):
        pts.sort(key=lambda p: p.created_at)
        xs: Any = [p.created_at for p in pts]
        ys: Any = [p.mean for p in pts]
        lo = [max(0.0, (p.mean or 0) - p.ci[0]) if p.ci else 0.0 for p in pts]
        hi = [max(0.0, p.ci[1] - (p.mean or 0)) if p.ci else 0.0 for p in pts]
        colour = f"C{k % 10}"
        ax.errorbar(xs, ys, yerr=[lo, hi], fmt="o-", color=colour, capsize=3, label=label, lw=1.2, ms=5)
        for p, x, y in zip(pts, xs, ys, strict=True):
            if p.verdict in _VERDICT:
                ax.plot([x], [y], marker="o", ms=13, mfc="none", mec=_VERDICT[p.verdict], mew=2)
    for verdict, colour in _VERDICT.items():
        ax.plot([], [], marker="o", ms=10, mfc="none", mec=colour, mew=2, ls="none", label=f"gate {verdict}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("mean")
    ax.set_title(title, fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    svg = buf.getvalue()
    return svg[svg.index("<svg") :]


def _criteria_text(criteria: dict[str, Any]) -> str:
    return "; ".join(
        f"{c}: {fmt(v.get('mean', v.get('candidate_mean')))}"
        + (f" (Δ {fmt(v['delta'])})" if v.get("delta") is not None else "")
        for c, v in sorted(criteria.items())
    )


def history_view(doc: dict[str, Any], points: list[TrendPoint]) -> dict[str, Any]:
    """What the page shows: per suite a plot per criterion, then the entries."""
    groups: dict[tuple[str, str], list[TrendPoint]] = defaultdict(list)
    for p in points:
        groups[(p.suite, p.criterion)].append(p)
    suites: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (suite, crit), pts in sorted(groups.items()):
        suites[suite].append({"criterion": crit, "svg": Markup(_plot(pts, f"{suite} · {crit}"))})
    entries = [
        {**e, "models": ", ".join(f"{k}: {v}" for k, v in e["models"].items()), "verdict": e.get("verdict") or "",
         "criteria": _criteria_text(e["criteria"])}
        for e in doc["entries"]
    ]  # fmt: skip
    return {
        "store": doc["store"], "n_entries": len(doc["entries"]), "entries": entries,
        "filters": ", ".join(f"{k} = {v}" for k, v in doc.get("filters", {}).items()),
        "suites": [{"name": s, "plots": plots} for s, plots in suites.items()],
    }  # fmt: skip


def render_history_html(doc: dict[str, Any], points: list[TrendPoint]) -> str:
    """The page: a trend plot per suite criterion, then the table of entries."""
    return render("history.html.j2", view=history_view(doc, points))
