"""Red-team reports: Markdown and one offline HTML page (strategy × category heat maps, successful attacks)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from harness.redteam.analysis import Rate, RedteamReport
from harness.report.templating import overlay

__all__ = ["print_redteam", "render_html", "render_markdown"]



def _rate(r: Rate | None) -> str:
    if r is None or r.rate is None or r.ci is None:
        return "—"
    return f"{r.rate:.2f} [{r.ci[0]:.2f}, {r.ci[1]:.2f}] ({r.k}/{r.n})"


def _heat(r: Rate | None) -> str:
    """Background colour of a heat-map cell: white at 0, deep red at 1."""
    if r is None or r.rate is None:
        return "#f3f4f6"
    x = r.rate
    return f"rgb(255,{int(255 - 190 * x)},{int(255 - 190 * x)})"


def _md(text: Any, limit: int = 240) -> str:
    s = text if isinstance(text, str) else str(text)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")


_ENV = overlay(rate=_rate, heat=_heat, md=_md)


def _view(report: RedteamReport) -> dict[str, Any]:
    cats = sorted({c for m in report.models for c in m.by_category})
    strategies = sorted({s for m in report.models for s in m.by_strategy}, key=lambda s: (s != "none", s))
    return {"r": report, "cats": cats, "strategies": strategies}


def render_markdown(report: RedteamReport) -> str:
    """The Markdown report."""
    return _ENV.get_template("redteam.md.j2").render(**_view(report))


def render_html(report: RedteamReport) -> str:
    """The HTML report (inline CSS; nothing fetched)."""
    return _ENV.get_template("redteam.html.j2").render(**_view(report))


def print_redteam(report: RedteamReport, console: Console) -> None:
    """Attack-success rate per strategy and model, and the verdict."""
    view = _view(report)
    table = Table(title=f"harness redteam: {report.suite}" + (f" — {report.verdict.upper()}" if report.verdict else ""))
    table.add_column("strategy")
    for m in report.models:
        table.add_column(f"ASR {m.model}")
    for s in view["strategies"]:
        table.add_row(s, *[_rate(m.by_strategy.get(s)) for m in report.models])
    table.add_row("over-refusal", *[_rate(m.over_refusal) for m in report.models])
    console.print(table)
    for rule in report.rules:
        if rule.verdict != "pass":
            console.print(f"{rule.verdict}: {rule.rule['require']} on {rule.target}: {rule.reason}", markup=False)
