"""The per-slice part of a gate report's view, built from the ``harness.comparison/v1`` document.

One panel per slicing field and criterion (the rules' criteria, ``overall`` when there is none):
a row per slice with n, base and candidate means, Δ and its interval on an axis shared by the
suite's panels (small multiples), so a slice that moved against the others stands out. A slice
too small for an interval is listed and marked, never dropped; the ``(missing)`` slice holds the
items without the field. Markdown gets a text strip of Δ per row, HTML the interval plots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report.charts import Chart, delta_chart, delta_span
from harness.report.formatting import fmt, fmt_ci, fmt_p

__all__ = ["SlicePanel", "SliceRow", "multiplicity_text", "slice_panels", "slice_tests"]

Doc = Mapping[str, Any]
_STRIP = 21


@dataclass
class SliceRow:
    """One slice of a panel."""

    value: str
    n: int
    base: str
    candidate: str
    delta: str
    ci: str
    strip: str
    fixed: int
    broken: int
    too_small: bool
    difference: Chart


@dataclass
class SlicePanel:
    """One criterion by one field."""

    field: str
    criterion: str
    n_missing: int
    span: str
    rows: list[SliceRow]


def _strip(delta: float | None, ci: Sequence[float] | None, span: float) -> str:
    """Δ on a text axis from −span to +span: ``|`` zero, ``─`` the interval, ``●`` the estimate.

    >>> _strip(0.1, [-0.05, 0.2], 0.25)
    '`        ──|───●────  `'
    """
    def pos(v: float) -> int:
        return round((min(max(v, -span), span) + span) / (2 * span) * (_STRIP - 1))

    cells = [" "] * _STRIP
    cells[pos(0.0)] = "|"
    if ci:
        for k in range(pos(ci[0]), pos(ci[1]) + 1):
            cells[k] = "─" if cells[k] == " " else cells[k]
    if delta is not None:
        cells[pos(delta)] = "●"
    return "`" + "".join(cells) + "`"


def _shown(c: Doc) -> list[Doc]:
    tables = list(c.get("slices") or [])
    wanted = {r["criterion"] for r in c["rules"] if r["criterion"] != "leakage"} or {"overall"}
    return [t for t in tables if t["criterion"] in wanted] or tables[:1]


def slice_panels(c: Doc) -> list[SlicePanel]:
    """The panels of one comparison (empty when it has no slices)."""
    tables = _shown(c)
    values = [v for t in tables for s in t["slices"] for v in [*(s["ci"] or []), s["delta"]]
              if v is not None]
    span = delta_span(values, [])
    out = []
    for t in tables:
        rows = []
        for s in t["slices"]:
            small = bool(s.get("too_small"))
            ci = "too small for an interval" if small else fmt_ci(s["ci"])
            rows.append(SliceRow(
                value=s["value"], n=s["n"], base=fmt(s["base_mean"]), candidate=fmt(s["candidate_mean"]),
                delta=fmt(s["delta"]), ci=ci, strip=_strip(s["delta"], s["ci"], span),
                fixed=s["counts"].get("fixed", 0), broken=s["counts"].get("broken", 0), too_small=small,
                difference=delta_chart(s["delta"], s["ci"], span, [], title=f"{s['value']}: Δ {fmt(s['delta'])} {ci}"),
            ))
        out.append(SlicePanel(field=t["field"], criterion=t["criterion"], n_missing=t["n_missing"],
                              span=f"{span:g}", rows=rows))
    return out


def slice_tests(r: Doc) -> str:
    """A rule with ``by``: its verdict in every slice, on one line."""
    return "; ".join(
        f"{t['verdict']} {t['value']} {fmt(t['estimate'])} {fmt_ci(t['ci'])} (n {t['n']}, p Holm "
        f"{fmt_p(t.get('p_value_holm'))})"
        for t in r.get("slices") or []
    )


def multiplicity_text(c: Doc) -> str:
    """The sentence that states how p-values were adjusted."""
    m = c.get("multiplicity")
    if m and m.get("family"):
        return f"Multiplicity: {m['statement']}."
    return "Holm-adjusted across the gate's rules."
