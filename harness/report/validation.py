"""Markdown and console renderings of a validation report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report import md_escape
from harness.validate.findings import SEVERITY_RANK, Finding, ValidationReport

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}
MAX_PAIRS_SHOWN = 200
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})
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
    if "leakage" in report.stats:
        out += leakage_markdown(report.stats["leakage"], report.findings)
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """Escape text for a Markdown table cell (no emphasis, links or HTML can leak through)."""
    return " ".join(text.split()).translate(_MD_SPECIAL) if text.strip() else ""


def marked(excerpt: dict[str, Any]) -> str:
    """An excerpt as a table cell with its matched span in bold.

    >>> marked({"text": "say *hi* to me", "mark": [4, 8]})
    'say **\\\\*hi\\\\*** to me'
    """
    text, (a, b) = excerpt["text"], excerpt["mark"]
    span = text[a:b]
    lead = span[: len(span) - len(span.lstrip())]
    trail = span[len(span.rstrip()) :]
    core = _cell(span)
    before, after = _cell(text[:a] + lead), _cell(trail + text[b:])
    if not core:
        return _cell(text)
    sep_b = " " if (text[:a] + lead)[-1:].isspace() else ""
    sep_a = " " if (trail + text[b:])[:1].isspace() else ""
    return f"{before}{sep_b}**{core}**{sep_a}{after}"


def leakage_markdown(summary: dict[str, Any], findings: list[Finding]) -> list[str]:
    """The leakage section: methods and their status, then each leaked pair side by side."""
    items = sum(summary["holdouts"].values())
    leaked = sum(summary["leaked_items"].values())
    out = [
        "",
        "## Leakage",
        "",
        f"{summary['n_examples']} training examples ({summary['n_texts']} text fields) scanned against "
        f"{len(summary['holdouts'])} holdout(s), {items} items: **{leaked} item(s) leaked**.",
        "",
        "| holdout | items | leaked |",
        "| --- | --- | --- |",
    ]
    for h, n in summary["holdouts"].items():
        out.append(f"| `{md_escape(h, 120)}` | {n} | {summary['leaked_items'].get(h, 0)} |")
    out += ["", "| method | status |", "| --- | --- |"]
    for m, status in summary["methods"].items():
        out.append(f"| `{m}` | {md_escape(status, 300)} |")
    pairs = [f for f in findings if f.check.startswith("leakage.") and f.holdout_ids and f.data]
    if not pairs:
        return out
    out += [
        "",
        "### Leaked pairs",
        "",
        "Each training example beside the holdout item it leaks; the matched span is in **bold**.",
        "",
        "| training example | holdout item | method, score |",
        "| --- | --- | --- |",
    ]
    for f in pairs[:MAX_PAIRS_SHOWN]:
        d = f.data or {}
        ex = d.get("excerpts", {})
        left = f"`{md_escape(f.ids[0], 60)}` line {f.lines[0] if f.lines else '?'}, {_cell(d.get('field', ''))}: "
        right = f"`{md_escape((f.holdout_ids or ['?'])[0], 60)}` {_cell(d.get('holdout_field', ''))}: "
        others = ", ".join(f"{m} {v:.2f}" for m, v in d.get("methods", {}).items() if m != d.get("method"))
        out.append(
            f"| {left}{marked(ex['train']) if 'train' in ex else ''} "
            f"| {right}{marked(ex['holdout']) if 'holdout' in ex else ''} "
            f"| {d.get('method')} {d.get('score', 0):.2f}{' (also ' + others + ')' if others else ''} |"
        )
    if len(pairs) > MAX_PAIRS_SHOWN:
        out += ["", f"{len(pairs) - MAX_PAIRS_SHOWN} more leaked pair(s) are in validation.json."]
    return out


def print_summary(report: ValidationReport, console: Console, *, fail_on: str = "error", show: int = 15) -> None:
    """Counts by severity and check, then the worst findings."""
    counts = report.counts()
    console.print(
        f"[bold]{escape(report.file)}[/]: {report.n_records} records "
        f"({report.kind or 'unknown kind'}, {report.format}) — "
        f"[bold red]{counts['error']} errors[/], [yellow]{counts['warning']} warnings[/], "
        f"[cyan]{counts['info']} notes[/]"
    )
    leak = report.stats.get("leakage")
    if leak:
        leaked = sum(leak["leaked_items"].values())
        console.print(
            f"leakage: [bold]{leaked}[/] of {sum(leak['holdouts'].values())} holdout item(s) leaked; "
            + "; ".join(f"{m}: {escape(s)}" for m, s in leak["methods"].items()),
            highlight=False,
            soft_wrap=True,
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
