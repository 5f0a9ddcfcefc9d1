"""Markdown and console renderings of a validation report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report.formatting import marked
from harness.report.templating import render
from harness.validate.findings import SEVERITY_RANK, Finding, ValidationReport

__all__ = ["marked", "print_summary", "render_markdown", "validation_view"]

_ICON = {"error": "❌", "warning": "⚠️", "info": "ℹ️"}
MAX_PAIRS_SHOWN = 200
_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def _ordered(report: ValidationReport) -> list:
    return sorted(report.findings, key=lambda f: (-SEVERITY_RANK[f.severity], f.check, f.lines[:1]))


def _pair(f: Finding) -> dict[str, Any]:
    d = f.data or {}
    others = ", ".join(f"{m} {v:.2f}" for m, v in d.get("methods", {}).items() if m != d.get("method"))
    return {"id": f.ids[0], "line": f.lines[0] if f.lines else "?", "field": d.get("field", ""),
            "holdout_id": (f.holdout_ids or ["?"])[0], "holdout_field": d.get("holdout_field", ""),
            "excerpts": d.get("excerpts", {}), "method": d.get("method"), "score": f"{d.get('score', 0):.2f}",
            "others": others}


def leakage_view(summary: dict[str, Any], findings: list[Finding]) -> dict[str, Any]:
    """The leakage section: totals, holdouts, methods and their status, leaked pairs (capped)."""
    pairs = [f for f in findings if f.check.startswith("leakage.") and f.holdout_ids and f.data]
    return {
        "n_examples": summary["n_examples"], "n_texts": summary["n_texts"],
        "holdouts": [{"name": h, "n": n, "leaked": summary["leaked_items"].get(h, 0)}
                     for h, n in summary["holdouts"].items()],
        "n_items": sum(summary["holdouts"].values()), "n_leaked": sum(summary["leaked_items"].values()),
        "methods": dict(summary["methods"]),
        "pairs": [_pair(f) for f in pairs[:MAX_PAIRS_SHOWN]], "n_more": max(0, len(pairs) - MAX_PAIRS_SHOWN),
    }


def validation_view(report: ValidationReport, *, fail_on: str = "error") -> dict[str, Any]:
    """What ``validation.md`` shows: verdict, counts, findings by check, every finding worst first, leakage."""
    by_check = Counter((f.check, f.severity) for f in report.findings)
    checks = [{"check": check, "severity": sev, "n": n + report.truncated.get(check, 0)}
              for (check, sev), n in sorted(by_check.items(), key=lambda kv: (-SEVERITY_RANK[kv[0][1]], kv[0][0]))]
    findings = [{"icon": _ICON[f.severity], "check": f.check, "message": f.message,
                 "ids": ", ".join(f.ids[:5]) + (" …" if len(f.ids) > 5 else "")} for f in _ordered(report)]
    leak = report.stats.get("leakage")
    return {"report": report, "fail_on": fail_on, "blocking": bool(report.blocking(fail_on)),
            "counts": report.counts(), "checks": checks, "findings": findings,
            "truncated": sorted(report.truncated.items()),
            "leakage": leakage_view(leak, report.findings) if leak else None}


def render_markdown(report: ValidationReport, *, fail_on: str = "error") -> str:
    """A Markdown report: counts by severity and check, then every finding, worst first."""
    return render("validation.md.j2", view=validation_view(report, fail_on=fail_on))


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
