"""``harness history --html``: one self-contained page with a trend plot per suite criterion.

Each plot shows, over time, the mean and interval of every model version (spec and weights
hash) measured on that suite criterion; a gated candidate's point is ringed in the colour of the
gate's verdict. Plots are inline SVG drawn by matplotlib; the page needs no script or network.
"""

from __future__ import annotations

import io
from collections import defaultdict
from html import escape
from typing import Any

from harness.report.formatting import fmt
from harness.store.history import TrendPoint

__all__ = ["render_history_html", "version_label"]

_VERDICT = {"pass": "#15803d", "fail": "#b91c1c", "inconclusive": "#d97706"}
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #111827; background: #f9fafb; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
header { background: #1f2937; color: #fff; padding: 20px 28px; font-size: 24px; font-weight: 700; }
header small { display: block; font-size: 14px; font-weight: 400; opacity: .9; }
h2 { margin-top: 30px; border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; width: 100%; }
th, td { border: 1px solid #e5e7eb; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
figure { margin: 10px 0; background: #fff; border: 1px solid #e5e7eb; padding: 6px; }
figure svg { width: 100%; height: auto; }
.pass { color: #15803d; font-weight: 600; } .fail { color: #b91c1c; font-weight: 600; }
.inconclusive { color: #b45309; font-weight: 600; }
"""


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


def _entries_table(doc: dict[str, Any]) -> str:
    rows = []
    for e in doc["entries"]:
        models = ", ".join(f"{k}: {v}" for k, v in e["models"].items())
        crits = "; ".join(
            f"{c}: {fmt(v.get('mean', v.get('candidate_mean')))}"
            + (f" (Δ {fmt(v['delta'])})" if v.get("delta") is not None else "")
            for c, v in sorted(e["criteria"].items())
        )
        verdict = e.get("verdict") or ""
        rows.append(f"<tr><td>#{e['record']}</td><td>{escape(e['created_at'])}</td><td>{escape(e['kind'])}</td>"
                    f"<td>{escape(e['suite'])}</td><td>{escape(models)}</td>"
                    f"<td class='{escape(verdict)}'>{escape(verdict)}</td><td>{escape(crits)}</td></tr>")  # fmt: skip
    return ("<table><tr><th>record</th><th>when</th><th>kind</th><th>suite</th><th>models</th><th>verdict</th>"
            f"<th>criteria</th></tr>{''.join(rows)}</table>")  # fmt: skip


def render_history_html(doc: dict[str, Any], points: list[TrendPoint]) -> str:
    """The page: a trend plot per suite criterion, then the table of entries."""
    groups: dict[tuple[str, str], list[TrendPoint]] = defaultdict(list)
    for p in points:
        groups[(p.suite, p.criterion)].append(p)
    parts = [f"<header>Results history<small>{escape(doc['store'])} · {len(doc['entries'])} entries</small></header>"
             "<main>"]  # fmt: skip
    if doc.get("filters"):
        parts.append("<p>Filters: " + escape(", ".join(f"{k} = {v}" for k, v in doc["filters"].items())) + "</p>")
    suite = None
    for (s, crit), pts in sorted(groups.items()):
        if s != suite:
            parts.append(f"<h2>{escape(s)}</h2>")
            suite = s
        parts.append(f"<figure>{_plot(pts, f'{s} · {crit}')}<figcaption>{escape(crit)}: mean and interval per "
                     "model version over time; rings mark gate verdicts</figcaption></figure>")  # fmt: skip
    if not groups:
        parts.append("<p>Nothing recorded matches.</p>")
    parts.append("<h2>Entries</h2>" + _entries_table(doc) + "</main>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Results history</title>'
            f"<style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")  # fmt: skip
