"""Per-slice renderings of a comparison: Markdown tables with a text strip of Δ, HTML small multiples.

One panel per slicing field and criterion (the rules' criteria, ``overall`` when there is none):
a row per slice with n, base and candidate means, Δ and its interval drawn on a shared axis, so a
slice that moved against the others stands out. Slices too small for an interval are listed and
marked, never dropped; the ``(missing)`` slice holds the items without the field.
"""

from __future__ import annotations

from html import escape

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from harness.compare.slices import SliceStats, SliceTable
from harness.gate.verdict import Comparison

__all__ = ["html_slices", "markdown_slices", "multiplicity_note"]

_STRIP = 21


def _fmt(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _shown(c: Comparison) -> list[SliceTable]:
    """The tables of the rules' criteria (``overall`` when the policy has none), each field once per criterion."""
    wanted = {r.criterion for r in c.rules if r.criterion != "leakage"} or {"overall"}
    tables = [t for t in c.slices if t.criterion in wanted]
    return tables or c.slices[:1]


def _span(rows: list[SliceStats]) -> float:
    big = max([abs(v) for s in rows for v in ([s.delta] if s.delta is not None else []) + (s.ci or [])] + [0.05])
    return next((s for s in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0) if big <= s), 1.0)


def _strip(s: SliceStats, span: float) -> str:
    """Δ on a text axis from −span to +span: ``|`` zero, ``─`` the interval, ``●`` the estimate."""
    def pos(v: float) -> int:
        return round((min(max(v, -span), span) + span) / (2 * span) * (_STRIP - 1))

    cells = [" "] * _STRIP
    cells[pos(0.0)] = "|"
    if s.ci:
        for k in range(pos(s.ci[0]), pos(s.ci[1]) + 1):
            cells[k] = "─"
    if s.delta is not None:
        cells[pos(s.delta)] = "●"
    return "`" + "".join(cells) + "`"


def multiplicity_note(c: Comparison) -> str:
    """The sentence that states how p-values were adjusted (empty when nothing was)."""
    m = c.multiplicity
    return f"Multiplicity: {m['statement']}." if m and m.get("family") else ""


def markdown_slices(c: Comparison) -> list[str]:
    """Per field and criterion, the slices as a Markdown table with a strip of Δ (−span … +span)."""
    out: list[str] = []
    for t in _shown(c):
        span = _span(t.slices)
        missing = f"; {t.n_missing} items without `{t.field}` form the slice `(missing)`" if t.n_missing else ""
        out += [
            "", f"#### `{t.criterion}` by `{t.field}` ({len(t.slices)} slices{missing})", "",
            f"| slice | n | base | candidate | Δ | CI of Δ | Δ from −{span:g} to +{span:g} | fixed | broken |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for s in t.slices:
            ci = "—" if not s.ci else f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}]"
            if s.too_small:
                ci = "too small for an interval"
            out.append(
                f"| `{s.value}` | {s.n} | {_fmt(s.base_mean)} | {_fmt(s.candidate_mean)} | {_fmt(s.delta)} | {ci} "
                f"| {_strip(s, span)} | {s.counts.get('fixed', 0)} | {s.counts.get('broken', 0)} |"
            )
    return out


def _panel(t: SliceTable) -> str:
    span = _span(t.slices)
    row_h, left, width = 18, 120.0, 250.0
    h = row_h * len(t.slices) + 26

    def x(v: float) -> float:
        return left + (min(max(v, -span), span) + span) / (2 * span) * width

    parts = [f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{h - 16}" stroke="#9ca3af"/>']
    for v in (-span, 0.0, span):
        parts.append(
            f'<text x="{x(v):.1f}" y="{h - 3}" font-size="9" text-anchor="middle" fill="#6b7280">{v:+g}</text>'
        )
    for i, s in enumerate(t.slices):
        y = 12 + i * row_h
        parts.append(f'<text x="{left - 6}" y="{y + 4}" font-size="11" text-anchor="end">'
                     f"{escape(s.value[:18])} ({s.n})</text>")
        colour = "#b45309"
        if s.ci and s.ci[0] > 0:
            colour = "#15803d"
        elif s.ci and s.ci[1] < 0:
            colour = "#b91c1c"
        if s.ci:
            parts.append(f'<line x1="{x(s.ci[0]):.1f}" y1="{y}" x2="{x(s.ci[1]):.1f}" y2="{y}" '
                         f'stroke="{colour}" stroke-width="3"/>')
        if s.delta is not None:
            interval = f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}]" if s.ci else "(no interval)"
            label = f"{s.value}: Δ {_fmt(s.delta)} " + ("(too small for an interval)" if s.too_small else interval)
            shape = "none" if s.too_small else colour
            parts.append(f'<circle cx="{x(s.delta):.1f}" cy="{y}" r="4" fill="{shape}" stroke="{colour}">'
                         f"<title>{escape(label)}</title></circle>")
    return (f'<figure class="panel"><figcaption><b>{escape(t.criterion)}</b> by <b>{escape(t.field)}</b>'
            + (f' <span class=muted>({t.n_missing} without the field)</span>' if t.n_missing else "")
            + f'</figcaption><svg width="380" height="{h}" viewBox="0 0 380 {h}" role="img" '
            f'aria-label="paired difference per slice">{"".join(parts)}</svg></figure>')


def html_slices(c: Comparison) -> str:
    """Small multiples of Δ per slice: one panel per field and criterion, on a shared style."""
    tables = _shown(c)
    if not tables:
        return ""
    style = ('<style>.panels{display:flex;flex-wrap:wrap;gap:12px}.panel{background:#fff;border:1px solid #e5e7eb;'
             'border-radius:6px;padding:8px;margin:0}</style>')
    note = multiplicity_note(c)
    return (f"<h3>Slices</h3>{style}<p class=muted>Δ (candidate − base) per slice with its interval; a hollow dot "
            f"is a slice too small for an interval. {escape(note)}</p>"
            f'<div class="panels">{"".join(_panel(t) for t in tables)}</div>')


def print_slices(c: Comparison, console: Console, *, suite: bool = False) -> None:
    """Δ per slice on the console: one table per field and criterion of the rules."""
    for t in _shown(c):
        where = f"{c.suite}: " if suite else ""
        table = Table(title=rich_escape(f"{where}{t.criterion} by {t.field}"), title_justify="left")
        for col in ("slice", "n", "base", "candidate", "Δ", "CI of Δ"):
            table.add_column(col, justify="left" if col in ("slice", "CI of Δ") else "right")
        for s in t.slices:
            ci = "too small" if s.too_small else ("—" if not s.ci else f"[{s.ci[0]:.3f}, {s.ci[1]:.3f}]")
            table.add_row(rich_escape(s.value), str(s.n), _fmt(s.base_mean), _fmt(s.candidate_mean), _fmt(s.delta), ci)
        console.print(table)
