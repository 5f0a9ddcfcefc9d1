"""Markdown and console renderings of a gate (``report.md`` fits a CI step summary), and the gate's files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.files import write_atomic, write_json
from harness.report.formatting import fmt, fmt_ci, fmt_p
from harness.report.gate_view import ICON, as_document, gate_view
from harness.report.html import render_html
from harness.report.junit import render_junit
from harness.report.templating import render

if TYPE_CHECKING:
    from harness.compare.models import GateResult

__all__ = ["fmt", "fmt_ci", "fmt_p", "print_summary", "render_markdown", "write_reports"]

STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}


def render_markdown(result: GateResult | dict[str, Any]) -> str:
    """The gate as Markdown: verdict, rules, per-criterion statistics, changed items, leakage, calibration.

    Args:
        result: the gate, or its ``harness.comparison/v1`` document.
    """
    return render("gate.md.j2", view=gate_view(as_document(result)), icons=ICON)
def print_summary(result: GateResult, console: Console) -> None:
    """The verdict, a table of rules, and each rule's reason, on the console."""
    view = gate_view(as_document(result))
    several = len(view.suites) > 1
    table = Table(show_header=True, header_style="bold", title=f"{escape(view.base)} → {escape(view.candidate)}")
    for col in (["suite"] if several else []) + ["rule", "estimate", "CI", "p (Holm)", "n", "verdict"]:
        table.add_column(col, overflow="fold")
    for r in view.rules:
        verdict = f"[{STYLE[r.verdict]}]{r.verdict}[/]"
        row = [escape(r.label), r.estimate, r.ci, r.p_holm, str(r.n), verdict]
        table.add_row(*([escape(r.suite or "")] if several else []), *row)
    console.print(table)
    for r in view.rules:
        where = f"{r.suite}: " if several else ""
        console.print(f"  [{STYLE[r.verdict]}]{r.verdict:12}[/] {escape(where + r.label)}: {escape(r.reason)}",
                      highlight=False, soft_wrap=True)
    excluded: dict[str, int] = {}
    for s in view.suites:
        for e in s.excluded:
            excluded[e["reason"]] = excluded.get(e["reason"], 0) + 1
    if excluded:
        console.print("excluded items: " + ", ".join(f"{k} {v}" for k, v in excluded.items()))
    console.print(f"verdict: [{STYLE[view.verdict]}]{view.verdict.upper()}[/]")


def write_reports(result: GateResult, *, out: Path | None = None, junit: Path | None = None) -> list[Path]:
    """Write ``comparison.json``, ``report.md`` and ``report.html`` into ``out``, and JUnit XML to ``junit``.

    Every file is written atomically; returns the paths written.
    """
    doc = result.to_document()
    written = []
    if out is not None:
        written.append(write_json(out / "comparison.json", doc))
        written.append(write_atomic(out / "report.md", render_markdown(doc)))
        written.append(write_atomic(out / "report.html", render_html(doc)))
    if junit is not None:
        written.append(write_atomic(junit, render_junit(doc)))
    return written
