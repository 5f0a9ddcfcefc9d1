"""Markdown, HTML and console renderings of a leaderboard (``harness.leaderboard/v1``).

The HTML page is self-contained (inline CSS, no script): per criterion the standings and a matrix
of pairwise differences (row − column, with the interval and Holm's p; significant cells coloured).
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from harness.compare.leaderboard import CriterionBoard, Leaderboard, PairResult
from harness.report import md_escape, write_atomic, write_json
from harness.report.formatting import fmt, fmt_ci, fmt_p

__all__ = ["print_leaderboard", "render_html", "render_markdown", "write_leaderboard"]


def _order(board: Leaderboard) -> list[CriterionBoard]:
    crits = list(board.criteria.values())
    return sorted(crits, key=lambda c: (c.criterion != board.overall, c.criterion))


def _pair(b: CriterionBoard, row: str, col: str) -> tuple[PairResult, float] | None:
    for p in b.pairs:
        if (p.a, p.b) == (row, col):
            return p, 1.0
        if (p.a, p.b) == (col, row):
            return p, -1.0
    return None


def render_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: standings and pairs per criterion."""
    pct = round(board.confidence * 100)
    lines = [f"# Leaderboard: {md_escape(board.suite, 80)}", "",
             f"{len(board.models)} models on {board.n_items} items every run holds; {pct}% intervals "
             f"({board.method}, {board.resamples} resamples); Holm across each criterion's pairs.", ""]  # fmt: skip
    if board.excluded:
        lines += [f"{len(board.excluded)} items left out (missing from a run or with another prompt).", ""]
    lines += [f"- {n}" for n in board.notes]
    for b in _order(board):
        title = "overall (rubric-weighted)" if b.criterion == board.overall else b.criterion
        lines += [f"## {md_escape(title, 80)}", "", f"n = {b.n}" + (f"; {b.reason}" if b.reason else ""), "",
                  "| rank | model | mean | CI | tied with best |", "| ---: | --- | ---: | --- | --- |"]  # fmt: skip
        for s in b.standings:
            tied = "★ best" if s.best else ("yes" if s.indistinguishable_from_best else "no")
            lines.append(f"| {s.rank} | {md_escape(s.label, 80)} | {fmt(s.mean)} | {fmt_ci(s.ci)} | {tied} |")
        if b.pairs:
            lines += ["", "| a | b | a − b | CI | p | p (Holm) | |", "| --- | --- | ---: | --- | ---: | ---: | --- |"]
            for p in b.pairs:
                sig = "significant" if p.significant else ""
                lines.append(f"| {md_escape(p.a, 60)} | {md_escape(p.b, 60)} | {fmt(p.delta)} | {fmt_ci(p.ci)} "
                             f"| {fmt_p(p.p_value)} | {fmt_p(p.p_value_holm)} | {sig} |")  # fmt: skip
        lines.append("")
    return "\n".join(lines) + "\n"


_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; margin: 0;
       color: #111827; background: #f9fafb; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
header { background: #1f2937; color: #fff; padding: 20px 28px; font-size: 24px; font-weight: 700; }
header small { display: block; font-size: 14px; font-weight: 400; opacity: .9; }
h2 { margin-top: 30px; border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #e5e7eb; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.up { background: #dcfce7; } td.down { background: #fee2e2; } td.self { background: #f3f4f6; }
.muted { color: #6b7280; font-size: 12px; }
"""


def _matrix(b: CriterionBoard) -> str:
    labels = [s.label for s in b.standings]
    head = "".join(f"<th>{escape(c)}</th>" for c in labels)
    rows = []
    for r in labels:
        cells = []
        for c in labels:
            found = _pair(b, r, c) if r != c else None
            if r == c:
                cells.append('<td class="self"></td>')
            elif found is None:
                cells.append('<td class="num">—</td>')
            else:
                p, sign = found
                d = None if p.delta is None else sign * p.delta
                ci = None if p.ci is None else sorted(sign * x for x in p.ci)
                cls = ("up" if (d or 0) > 0 else "down") if p.significant else ""
                cells.append(f'<td class="num {cls}">{fmt(d, 3)}<br><span class="muted">{fmt_ci(ci)}<br>'
                             f"p<sub>Holm</sub> {fmt_p(p.p_value_holm)}</span></td>")  # fmt: skip
        rows.append(f"<tr><th>{escape(r)}</th>{''.join(cells)}</tr>")
    return f"<table><tr><th>row − column</th>{head}</tr>{''.join(rows)}</table>"


def render_html(board: Leaderboard) -> str:
    """A self-contained HTML page: standings and the matrix of pairwise differences per criterion."""
    pct = round(board.confidence * 100)
    parts = [f"<header>Leaderboard: {escape(board.suite)}<small>{len(board.models)} models · {board.n_items} "
             f"paired items · {pct}% intervals · Holm across pairs</small></header><main>"]  # fmt: skip
    parts += [f"<p>{escape(n)}</p>" for n in board.notes]
    models = "".join(
        f"<tr><td>{escape(m.label)}</td><td>{escape(str(m.spec))}</td><td><code>{escape(str(m.fingerprint))}</code>"
        f"</td><td>{escape(m.verdict or '')}</td></tr>"
        for m in board.models
    )
    parts.append(f"<h2>Models</h2><table><tr><th>label</th><th>spec</th><th>fingerprint</th><th>gate</th></tr>"
                 f"{models}</table>")  # fmt: skip
    for b in _order(board):
        title = "overall (rubric-weighted)" if b.criterion == board.overall else b.criterion
        rows = "".join(
            f"<tr><td class='num'>{s.rank}</td><td>{escape(s.label)}{' ★' if s.best else ''}</td>"
            f"<td class='num'>{fmt(s.mean)}</td><td class='num'>{fmt_ci(s.ci)}</td>"
            f"<td>{'yes' if s.indistinguishable_from_best else 'no'}</td></tr>"
            for s in b.standings
        )
        parts.append(f"<h2>{escape(title)}</h2><p class='muted'>n = {b.n}{'; ' + escape(b.reason) if b.reason else ''}"
                     f"</p><table><tr><th>rank</th><th>model</th><th>mean</th><th>CI</th>"
                     f"<th>cannot be told from the best</th></tr>{rows}</table>")  # fmt: skip
        if b.pairs:
            parts.append("<h3>Pairwise differences</h3>" + _matrix(b))
    parts.append("</main>")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Leaderboard: {escape(board.suite)}'
            f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>\n")  # fmt: skip


def print_leaderboard(board: Leaderboard, console: Console) -> None:
    """The standings of every criterion on the console."""
    for b in _order(board):
        table = Table(title=f"{rich_escape(board.suite)} · {rich_escape(b.criterion)} (n = {b.n})", header_style="bold")
        for col in ("rank", "model", "mean", "CI", "tied with best"):
            table.add_column(col, overflow="fold")
        for s in b.standings:
            tied = "★ best" if s.best else ("yes" if s.indistinguishable_from_best else "no")
            table.add_row(str(s.rank), rich_escape(s.label), fmt(s.mean), fmt_ci(s.ci), tied)
        console.print(table)


def write_leaderboard(board: Leaderboard, out: Path, *, stem: str = "leaderboard") -> list[Path]:
    """Write ``leaderboard.json``, ``.md`` and ``.html`` into ``out`` (atomically)."""
    return [
        write_json(out / f"{stem}.json", board.to_document()),
        write_atomic(out / f"{stem}.md", render_markdown(board)),
        write_atomic(out / f"{stem}.html", render_html(board)),
    ]
