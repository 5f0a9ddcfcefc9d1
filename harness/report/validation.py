"""Markdown and console renderings of a validation report."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report import md_escape
from harness.validate.findings import SEVERITY_RANK, ValidationReport

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _ordered(report: ValidationReport) -> list:
    return sorted(report.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.check, f.lines[:1]))


def render_markdown(report: ValidationReport, *, fail_on: str = "error") -> str:
    """A Markdown report: counts by severity and check, then every finding, worst first."""
    counts = report.counts()
    blocking = report.blocking(fail_on)
    out = [
        f"# Validation of `{report.file}`",
        "",
        f"**{'FAIL' if blocking else 'PASS'}** (fail on {fail_on}): {report.n_records} records "
        f"({report.kind or 'unknown kind'}, {report.format}); "
        f"{counts['error']} errors, {counts['warning']} warnings, {counts['info']} notes.",
        "",
        "| check | severity | findings |",
        "| --- | --- | --- |",
    ]
    by_check = Counter((f.check, f.severity) for f in report.findings)
    for (check, sev), n in sorted(by_check.items(), key=lambda kv: (-SEVERITY_RANK[kv[0][1]], kv[0][0])):
        extra = report.truncated.get(check, 0)
        out.append(f"| `{check}` | {sev} | {n + extra} |")
    out += ["", "## Findings", "", "| | check | ids | message |", "| --- | --- | --- | --- |"]
    for f in _ordered(report):
        ids = ", ".join(f.ids[:5]) + (" …" if len(f.ids) > 5 else "")
        out.append(f"| {_ICON[f.severity]} | `{f.check}` | {md_escape(ids, 80)} | {md_escape(f.message, 300)} |")
    if report.truncated:
        out += [
            "",
            "Findings beyond the per-check cap are counted above, not listed: "
            + ", ".join(f"`{k}` {v}" for k, v in sorted(report.truncated.items()))
            + ".",
        ]
    return "\n".join(out) + "\n"


def print_summary(report: ValidationReport, console: Console, *, fail_on: str = "error", show: int = 15) -> None:
    """Counts by severity and check, then the worst findings."""
    counts = report.counts()
    console.print(
        f"[bold]{escape(report.file)}[/]: {report.n_records} records "
        f"({report.kind or 'unknown kind'}, {report.format}) — "
        f"[bold red]{counts['error']} errors[/], [yellow]{counts['warning']} warnings[/], "
        f"[cyan]{counts['info']} notes[/]"
    )
    table = Table(show_header=True, header_style="bold", title="Findings by check")
    table.add_column("check")
    table.add_column("severity")
    table.add_column("n", justify="right")
    by_check = Counter((f.check, f.severity) for f in report.findings)
    for (check, sev), n in sorted(by_check.items(), key=lambda kv: (-SEVERITY_RANK[kv[0][1]], kv[0][0])):
        table.add_row(check, f"[{_STYLE[sev]}]{sev}[/]", str(n + report.truncated.get(check, 0)))
    if by_check:
        console.print(table)
    worst = [f for f in _ordered(report) if f.severity != "info"][:show]
    for f in worst:
        console.print(
            f"  [{_STYLE[f.severity]}]{f.severity:7}[/] [bold]{f.check}[/] {escape(f.message)}",
            markup=True,
            highlight=False,
            soft_wrap=True,
        )
    rest = len([f for f in report.findings if f.severity != "info"]) - len(worst)
    if rest > 0:
        console.print(f"  … and {rest} more (see --out or --json)")
    blocking = report.blocking(fail_on)
    verdict = "[bold red]FAIL[/]" if blocking else "[bold green]PASS[/]"
    console.print(f"{verdict}: {len(blocking)} finding(s) at or above '{fail_on}'")
