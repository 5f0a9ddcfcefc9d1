"""Monitoring reports: Markdown and a self-contained HTML page, both from one view through Jinja2 templates."""

from __future__ import annotations

from html import escape
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.monitor.document import MonitorReport, WindowReport
from harness.report.templating import overlay

__all__ = ["print_monitor", "render_html", "render_markdown"]



def _num(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _p(x: float | None) -> str:
    return "—" if x is None else (f"{x:.2g}" if x >= 1e-4 else "<1e-4")


def _md_cell(text: str, limit: int = 160) -> str:
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")


_ENV = overlay(num=_num, p=_p, md=_md_cell)

_COLOURS = {
    "reference": "#6b7280",
    "ok": "#15803d",
    "drift": "#b45309",
    "degraded": "#b91c1c",
    "inconclusive": "#6d28d9",
}


def _series_svg(
    title: str,
    windows: list[WindowReport],
    values: list[float | None],
    bands: list[list[float] | None] | None = None,
    *,
    width: int = 640,
    height: int = 180,
) -> str:
    """A small line chart of one statistic over the windows (points coloured by window status)."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    lows = [b[0] for b in bands or [] if b] + [v for _, v in pts]
    highs = [b[1] for b in bands or [] if b] + [v for _, v in pts]
    if not pts:
        return ""
    lo, hi = min(lows), max(highs)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5
    left, right, top, bottom = 56, 12, 24, 34
    n = max(len(windows) - 1, 1)
    sx = lambda i: left + (width - left - right) * i / n  # noqa: E731
    sy = lambda v: top + (height - top - bottom) * (hi - v) / (hi - lo)  # noqa: E731
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}" '
        f'style="max-width:{width}px;font:12px sans-serif">',
        f'<text x="{left}" y="14">{escape(title)}</text>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#e5e7eb"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.3g}</text>')
    for i, _w in enumerate(windows):
        if len(windows) <= 12 or i % max(1, len(windows) // 12) == 0:
            parts.append(f'<text x="{sx(i):.1f}" y="{height - 12}" text-anchor="middle">{i}</text>')
    for i, b in enumerate(bands or []):
        if b:
            parts.append(
                f'<line x1="{sx(i):.1f}" x2="{sx(i):.1f}" y1="{sy(b[0]):.1f}" y2="{sy(b[1]):.1f}" '
                'stroke="#9ca3af" stroke-width="3"/>'
            )
    path = " ".join(f"{'M' if k == 0 else 'L'}{sx(i):.1f},{sy(v):.1f}" for k, (i, v) in enumerate(pts))
    parts.append(f'<path d="{path}" fill="none" stroke="#374151" stroke-width="1.5"/>')
    for i, v in pts:
        colour = _COLOURS[windows[i].status]
        parts.append(
            f'<circle cx="{sx(i):.1f}" cy="{sy(v):.1f}" r="4" fill="{colour}">'
            f"<title>window {i} ({escape(windows[i].label)}): {v:.4g}, {windows[i].status}</title></circle>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _plots(report: MonitorReport) -> list[str]:
    ws = report.windows
    plots = [_series_svg("rows per window", ws, [float(w.n) for w in ws])]
    for test in ("mmd", "length", "script", "near_training", "output_length"):
        vals = [next((t.effect for t in w.drift if t.test == test), None) for w in ws]
        name = next((t.effect_name for w in ws for t in w.drift if t.test == test), test)
        plots.append(_series_svg(f"{test}: {name} against the reference", ws, vals))
    for crit in report.settings.get("quality", []):
        stats = [next((q for q in w.quality if q.criterion == crit), None) for w in ws]
        plots.append(
            _series_svg(
                f"quality: {crit} (interval per window)",
                ws,
                [q.value if q else None for q in stats],
                [q.ci if q else None for q in stats],
            )
        )
    return [p for p in plots if p]


def _view(report: MonitorReport) -> dict[str, Any]:
    flagged = [w for w in report.windows if w.status in ("drift", "degraded", "inconclusive")]
    return {"r": report, "flagged": flagged, "colours": _COLOURS}


def render_markdown(report: MonitorReport) -> str:
    """The Markdown report."""
    return _ENV.get_template("monitor.md.j2").render(**_view(report))


def render_html(report: MonitorReport) -> str:
    """The self-contained HTML report (inline CSS and SVG; nothing fetched)."""
    return _ENV.get_template("monitor.html.j2").render(**_view(report), plots=_plots(report))


def print_monitor(report: MonitorReport, console: Console) -> None:
    """A table of windows on the console (stdout in the CLI)."""
    table = Table(title=f"harness monitor: {report.verdict.upper()} ({report.window} windows)")
    crits = list(report.settings.get("quality", []))
    for col in ("window", "start", "rows", "status", "MMD p (Holm)", *crits):
        table.add_column(col)
    for w in report.windows:
        mmd = next((t for t in w.drift if t.test == "mmd"), None)
        cells = [_num(q.value) + (" ▼" if q.degraded else "") for q in w.quality]
        table.add_row(str(w.index), w.label, str(w.n), w.status, _p(mmd.p_adjusted) if mmd else "—", *cells)
    console.print(table)
