"""Markdown, HTML and console renderings of a leaderboard (``harness.leaderboard/v1``).

The HTML page is self-contained (inline CSS, no script): per criterion the standings and a matrix
of pairwise differences (row − column, with the interval and Holm's p; significant cells coloured).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as rich_escape
from rich.table import Table

from harness.compare.leaderboard import CriterionBoard, Leaderboard, PairResult
from harness.files import write_atomic, write_json
from harness.report.formatting import fmt, fmt_ci
from harness.report.templating import render

__all__ = ["leaderboard_view", "print_leaderboard", "render_html", "render_markdown", "write_leaderboard"]


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


def _matrix(b: CriterionBoard) -> dict[str, Any]:
    """Row − column differences of every pair (the stored pair a − b, turned around when needed)."""
    labels = [s.label for s in b.standings]
    rows = []
    for r in labels:
        cells: list[dict[str, Any]] = []
        for c in labels:
            found = _pair(b, r, c) if r != c else None
            if r == c or found is None:
                cells.append({"self": r == c, "missing": found is None})
                continue
            p, sign = found
            d = None if p.delta is None else sign * p.delta
            ci = None if p.ci is None else sorted(sign * x for x in p.ci)
            cls = ("up" if (d or 0) > 0 else "down") if p.significant else ""
            cells.append({"self": False, "missing": False, "delta": d, "ci": ci, "p": p.p_value_holm, "cls": cls})
        rows.append({"label": r, "cells": cells})
    return {"labels": labels, "rows": rows}


def leaderboard_view(board: Leaderboard) -> dict[str, Any]:
    """What the templates show: per criterion (overall first) the standings, pairs and matrix."""
    boards = []
    for b in _order(board):
        standings = [
            {**s.model_dump(), "tied": "★ best" if s.best else ("yes" if s.indistinguishable_from_best else "no")}
            for s in b.standings
        ]
        boards.append({
            "title": "overall (rubric-weighted)" if b.criterion == board.overall else b.criterion, "n": b.n,
            "reason": b.reason, "standings": standings, "pairs": [p.model_dump() for p in b.pairs],
            "matrix": _matrix(b),
        })  # fmt: skip
    return {
        "suite": board.suite, "n_models": len(board.models), "n_items": board.n_items,
        "pct": round(board.confidence * 100), "method": board.method, "resamples": board.resamples,
        "n_excluded": len(board.excluded), "notes": board.notes, "models": [m.model_dump() for m in board.models],
        "boards": boards,
    }  # fmt: skip


def render_markdown(board: Leaderboard) -> str:
    """The leaderboard as Markdown: standings and pairs per criterion."""
    return render("leaderboard.md.j2", view=leaderboard_view(board))


def render_html(board: Leaderboard) -> str:
    """A self-contained HTML page: standings and the matrix of pairwise differences per criterion."""
    return render("leaderboard.html.j2", view=leaderboard_view(board))


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
