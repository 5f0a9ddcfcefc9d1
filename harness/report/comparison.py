"""Markdown and console renderings of a gate (``report.md`` fits a CI step summary)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.gate.verdict import Comparison, GateResult, RuleResult
from harness.report import md_escape
from harness.report.slices import markdown_slices, multiplicity_note, print_slices

__all__ = ["fmt", "fmt_ci", "fmt_p", "print_summary", "render_markdown", "write_reports"]

ICON = {"pass": "✅", "fail": "❌", "inconclusive": "⚠️"}
STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
# GitHub caps a step summary at 1 MiB; item listings are kept well under that.
_MAX_ITEMS = 10
_MAX_OUTPUT = 160


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report, or an em dash for none.

    >>> fmt(0.12345), fmt(None)
    ('0.123', '—')
    """
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """A p-value: three significant digits, ``<0.001`` below that."""
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def fmt_ci(ci: list[float] | None, digits: int = 3) -> str:
    """An interval as ``[lo, hi]``."""
    return "—" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def _models(result: GateResult) -> tuple[str, str]:
    c = result.comparisons[0] if result.comparisons else None
    if c is None:
        return "?", "?"
    return str(c.base.model.get("spec", "?")), str(c.candidate.model.get("spec", "?"))


def _rule_row(r: RuleResult) -> str:
    stat = {"mean_difference": "Δ mean", "candidate_mean": "candidate mean", "new_failures": "new failures",
            "leaked_items": "leaked items", "slice_gap": "max − min Δ over slices"}[r.statistic]
    if r.by and r.statistic != "slice_gap":
        stat += " (worst slice)"
    whole = r.statistic in ("mean_difference", "candidate_mean", "slice_gap")
    est = fmt(r.estimate) if whole else fmt(r.estimate, 0)
    counted = "" if r.counted else " (does not count)"
    return (
        f"| {ICON[r.verdict]} {r.verdict}{counted} | {md_escape(r.label, 80)} | {stat} | {est} | {fmt_ci(r.ci)} "
        f"| {fmt_p(r.p_value)} | {fmt_p(r.p_value_holm)} | {r.n} | {md_escape(r.reason, 300)} |"
    )


def _slice_tests(c: Comparison) -> list[str]:
    """Each rule with ``by``: its verdict in every slice."""
    out: list[str] = []
    for r in c.rules:
        if not r.slices:
            continue
        cells = [
            f"{ICON[t.verdict]} `{md_escape(t.value, 40)}` {fmt(t.estimate)} {fmt_ci(t.ci)} (n {t.n}, p Holm "
            f"{fmt_p(t.p_value_holm)})"
            for t in r.slices
        ]
        out += ["", f"- {md_escape(r.label, 80)}, per slice: " + "; ".join(cells)]
    return out


def _criteria_table(c: Comparison) -> list[str]:
    pct = f"{c.policy.confidence:.0%}"
    out = [
        f"| criterion | n | base | candidate | Δ | {pct} CI of Δ | p | fixed | broken | unchanged |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in c.criteria.items():
        tag = " (binary)" if s.binary else (" (judge)" if s.judge else "")
        cnt = s.counts
        out.append(
            f"| `{md_escape(name, 60)}`{tag} | {s.n} | {fmt(s.base_mean)} | {fmt(s.candidate_mean)} | {fmt(s.delta)} "
            f"| {fmt_ci(s.ci)} | {fmt_p(s.p_value)} | {cnt.get('fixed', 0)} | {cnt.get('broken', 0)} "
            f"| {cnt.get('unchanged', 0)} |"
        )
    return out


def _changes(c: Comparison) -> list[str]:
    out: list[str] = []
    for kind in ("broken", "fixed"):
        items = [ch for ch in c.changes if getattr(ch, kind)]
        if not items:
            continue
        out += ["", f"#### {kind.capitalize()} items ({len(items)})", "",
                "| item | criteria | base output | candidate output |", "| --- | --- | --- | --- |"]
        for ch in items[:_MAX_ITEMS]:
            crits = ", ".join(getattr(ch, kind))
            leak = " (leaked)" if ch.leaked else ""
            out.append(
                f"| `{md_escape(ch.id, 60)}`{leak} | {md_escape(crits, 80)} | {md_escape(ch.base_output, _MAX_OUTPUT)} "
                f"| {md_escape(ch.candidate_output, _MAX_OUTPUT)} |"
            )
        if len(items) > _MAX_ITEMS:
            out.append(f"\n{len(items) - _MAX_ITEMS} more in report.html and comparison.json.")
    return out


def _leakage(c: Comparison) -> list[str]:
    lk = c.leakage
    if not lk.checked:
        return ["", "#### Leakage", "", "Not checked (pass `--train-data FILE`, or gate a `harness train` run folder)."]
    files = ", ".join(f"`{md_escape(f, 80)}`" for f in lk.train_data) or "—"
    out = ["", "#### Leakage", "", f"Training data {files}: {len(lk.leaked_ids)} suite items found."]
    if lk.leaked_ids:
        ids = ", ".join(f"`{md_escape(i, 40)}`" for i in lk.leaked_ids[:20])
        out.append(f"Leaked items: {ids}{' …' if len(lk.leaked_ids) > 20 else ''}.")
        out.append("They are left out of the verdict; " + ("allowed by `--allow-leakage`." if lk.allowed
                                                          else "the gate fails unless `--allow-leakage` is given."))
        if c.with_leaked:
            out += ["", "With the leaked items kept in:", "", "| rule | estimate | CI | verdict |",
                    "| --- | --- | --- | --- |"]
            for r in c.with_leaked.get("rules", []):
                est, ci = fmt(r["estimate"]), fmt_ci(r["ci"])
                out.append(f"| {md_escape(r['label'], 80)} | {est} | {ci} | {r['verdict']} |")
    if lk.note:
        out.append(lk.note)
    return out


def _calibration(c: Comparison) -> list[str]:
    if not c.calibration:
        return []
    out = ["", "#### Judge calibration", "", "| criterion | status | alpha | kappa | outputs | floor | paired with |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for cid, cal in c.calibration.items():
        out.append(
            f"| `{md_escape(cid, 60)}` | {cal.status} | {fmt(cal.alpha)} ({cal.alpha_level or '—'}) | {fmt(cal.kappa)} "
            f"| {cal.n_items} | {cal.floor:g} | {md_escape(cal.rated or cal.reason or '—', 120)} |"
        )
    return out


def _repeats(c: Comparison) -> list[str]:
    if not c.repeats:
        return []
    out = ["", "#### Repeats: where the variance comes from", "",
           "| run | criterion | attempts/item | between items | within item | generation | grading | note |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for side, splits in c.repeats.items():
        for crit, v in splits.items():
            note = v.reason or (f"grading from {v.grading_from}" if v.grading_from else "")
            out.append(
                f"| {side} | `{md_escape(crit, 60)}` | {v.attempts_per_item:.1f} | {fmt(v.between_items, 4)} "
                f"| {fmt(v.within_item, 4)} | {fmt(v.generation, 4)} | {fmt(v.grading, 4)} | {md_escape(note, 120)} |"
            )
    return out


def _excluded(c: Comparison) -> list[str]:
    if not c.excluded:
        return []
    by: dict[str, list[str]] = {}
    for e in c.excluded:
        by.setdefault(e.reason, []).append(e.id)
    out = ["", "#### Excluded items", ""]
    for reason, ids in by.items():
        shown = ", ".join(f"`{md_escape(i, 40)}`" for i in ids[:15])
        out.append(f"- {reason.replace('_', ' ')} ({len(ids)}): {shown}{' …' if len(ids) > 15 else ''}")
    return out


def render_markdown(result: GateResult) -> str:
    """The gate as Markdown: verdict, rules, per-criterion statistics, changed items, leakage, calibration."""
    base, cand = _models(result)
    out = [f"# {ICON[result.verdict]} Gate: {result.verdict.upper()}", ""]
    out.append(f"Base `{md_escape(base, 100)}` vs candidate `{md_escape(cand, 100)}`.")
    for c in result.comparisons:
        pol = c.policy
        out += [
            "",
            f"## Suite `{md_escape(c.suite, 80)}`: {ICON[c.verdict]} {c.verdict}",
            "",
            f"{c.n_paired} paired items; {pol.confidence:.0%} intervals from a paired bootstrap "
            f"({pol.method}, {pol.resamples:,} resamples, seed {pol.seed}); p-values at each rule's boundary "
            f"(McNemar exact for binary criteria), Holm-adjusted. {multiplicity_note(c)}",
            "",
            "| verdict | rule | statistic | estimate | CI | p | p (Holm) | n | reason |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        out += [_rule_row(r) for r in c.rules] or ["| — | no rules | | | | | | | |"]
        out += _slice_tests(c)
        out += ["", "#### Criteria", "", *_criteria_table(c)]
        out += markdown_slices(c)
        out += _changes(c) + _leakage(c) + _calibration(c) + _repeats(c) + _excluded(c)
        if c.notes:
            out += ["", *[f"- {md_escape(n, 300)}" for n in c.notes]]
    return "\n".join(out) + "\n"


def print_summary(result: GateResult, console: Console) -> None:
    """The verdict, a table of rules, and each rule's reason, on the console."""
    base, cand = _models(result)
    several = len(result.comparisons) > 1
    table = Table(show_header=True, header_style="bold", title=f"{escape(base)} → {escape(cand)}")
    for col in (["suite"] if several else []) + ["rule", "estimate", "CI", "p (Holm)", "n", "verdict"]:
        table.add_column(col, overflow="fold")
    for r in result.rules:
        whole = r.statistic in ("mean_difference", "candidate_mean", "slice_gap")
        est = fmt(r.estimate) if whole else fmt(r.estimate, 0)
        verdict = f"[{STYLE[r.verdict]}]{r.verdict}[/]"
        row = [escape(r.label), est, fmt_ci(r.ci), fmt_p(r.p_value_holm), str(r.n), verdict]
        table.add_row(*([escape(r.suite or "")] if several else []), *row)
    console.print(table)
    for r in result.rules:
        where = f"{r.suite}: " if several else ""
        console.print(f"  [{STYLE[r.verdict]}]{r.verdict:12}[/] {escape(where + r.label)}: {escape(r.reason)}",
                      highlight=False, soft_wrap=True)
    excluded: dict[str, Any] = {}
    for e in result.excluded:
        excluded[e.reason] = excluded.get(e.reason, 0) + 1
    if excluded:
        console.print("excluded items: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in excluded.items()))
    for c in result.comparisons:
        print_slices(c, console, suite=several)
    if result.multiplicity and result.multiplicity.get("family"):
        console.print(f"[dim]{escape(result.multiplicity['statement'])}[/]", soft_wrap=True)
    console.print(f"verdict: [{STYLE[result.verdict]}]{result.verdict.upper()}[/]")


def write_reports(result: GateResult, *, out: Path | None = None, junit: Path | None = None) -> list[Path]:
    """Write ``comparison.json``, ``report.md`` and ``report.html`` into ``out``, and JUnit XML to ``junit``.

    Every file is written atomically; returns the paths written.
    """
    from harness.report import write_atomic, write_json
    from harness.report.html import render_html
    from harness.report.junit import render_junit

    written = []
    if out is not None:
        written.append(write_json(out / "comparison.json", result.to_document()))
        written.append(write_atomic(out / "report.md", render_markdown(result)))
        written.append(write_atomic(out / "report.html", render_html(result)))
    if junit is not None:
        written.append(write_atomic(junit, render_junit(result)))
    return written
