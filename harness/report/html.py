"""``report.html``: one self-contained file that works offline (inline CSS and SVG, no script).

Sections: verdict banner; per suite the rules, base vs candidate per criterion with interval bars,
the paired differences, fixed and broken items side by side with both outputs, leakage, judge
calibration, repeats, excluded items; the manifest.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

from harness.compare.models import CriterionStats
from harness.gate.verdict import Comparison, GateResult
from harness.report.comparison import fmt, fmt_ci, fmt_p
from harness.report.slices import html_slices, multiplicity_note

__all__ = ["render_html"]

_MAX_CARDS = 60
_COLOURS = {"pass": "#15803d", "fail": "#b91c1c", "inconclusive": "#b45309"}
_CSS = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       margin: 0; color: #111827; background: #f9fafb; }
main { max-width: 1180px; margin: 0 auto; padding: 0 20px 40px; }
.banner { padding: 22px 28px; color: #fff; font-size: 26px; font-weight: 700; letter-spacing: .5px; }
.banner small { display: block; font-size: 14px; font-weight: 400; opacity: .92; margin-top: 4px; }
.pass { background: #15803d; } .fail { background: #b91c1c; } .inconclusive { background: #b45309; }
.tag { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; font-weight: 600; }
h2 { margin-top: 34px; border-bottom: 2px solid #e5e7eb; padding-bottom: 4px; }
h3 { margin-top: 26px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #e5e7eb; padding: 5px 8px; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: #6b7280; }
.chart td { vertical-align: middle; }
svg.chart { width: 100%; max-width: 400px; min-width: 220px; height: auto; display: block; }
.cards { display: grid; grid-template-columns: 1fr; gap: 12px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 12px; }
.card.broken { border-left: 5px solid #b91c1c; } .card.fixed { border-left: 5px solid #15803d; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; }
.side pre, pre.block { white-space: pre-wrap; word-break: break-word; background: #f3f4f6; padding: 8px;
       margin: 4px 0; border-radius: 4px; font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; }
.legend span { margin-right: 16px; }
details summary { cursor: pointer; }
"""


def _tag(verdict: str, text: str | None = None) -> str:
    return f'<span class="tag {escape(verdict)}">{escape(text or verdict)}</span>'


def _x(v: float, lo: float, hi: float, left: float, width: float) -> float:
    return left + (min(max(v, lo), hi) - lo) / (hi - lo) * width


def _bar(y: float, mean: float | None, ci: list[float] | None, lo: float, hi: float, colour: str, label: str) -> str:
    left, width = 8.0, 384.0
    parts = []
    if ci:
        x1, x2 = _x(ci[0], lo, hi, left, width), _x(ci[1], lo, hi, left, width)
        parts.append(
            f'<line x1="{x1:.1f}" y1="{y}" x2="{x2:.1f}" y2="{y}" stroke="{colour}" stroke-width="3"/>'
            f'<line x1="{x1:.1f}" y1="{y - 5}" x2="{x1:.1f}" y2="{y + 5}" stroke="{colour}" stroke-width="2"/>'
            f'<line x1="{x2:.1f}" y1="{y - 5}" x2="{x2:.1f}" y2="{y + 5}" stroke="{colour}" stroke-width="2"/>'
        )
    if mean is not None:
        parts.append(f'<circle cx="{_x(mean, lo, hi, left, width):.1f}" cy="{y}" r="4.5" fill="{colour}">'
                     f"<title>{escape(label)}</title></circle>")
    return "".join(parts)


def _axis(lo: float, hi: float, ticks: list[float], height: int, zero: float | None = None) -> str:
    left, width = 8.0, 384.0
    out = []
    for t in ticks:
        x = _x(t, lo, hi, left, width)
        colour = "#9ca3af" if zero is not None and t == zero else "#e5e7eb"
        out.append(f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 12}" stroke="{colour}"/>'
                   f'<text x="{x:.1f}" y="{height - 1}" font-size="9" text-anchor="middle" fill="#6b7280">'
                   f"{t:g}</text>")
    return "".join(out)


def _means_svg(s: CriterionStats) -> str:
    h = 48
    body = _axis(0.0, 1.0, [0, 0.25, 0.5, 0.75, 1], h)
    body += _bar(12, s.base_mean, s.base_ci, 0.0, 1.0, "#6b7280", f"base {fmt(s.base_mean)} {fmt_ci(s.base_ci)}")
    body += _bar(26, s.candidate_mean, s.candidate_ci, 0.0, 1.0, "#2563eb",
                 f"candidate {fmt(s.candidate_mean)} {fmt_ci(s.candidate_ci)}")
    return (f'<svg width="400" height="{h}" viewBox="0 0 400 {h}" class="chart" role="img" '
            f'aria-label="base and candidate means with intervals">{body}</svg>')


def _delta_range(c: Comparison) -> float:
    big = 0.05
    for s in c.criteria.values():
        for v in (s.ci or []) + ([s.delta] if s.delta is not None else []):
            big = max(big, abs(v))
    for r in c.rules:
        if r.margin:
            big = max(big, r.margin)
    steps = [0.05, 0.1, 0.2, 0.25, 0.5, 1.0]
    return next((s for s in steps if big <= s), 1.0)


def _delta_svg(s: CriterionStats, span: float, margins: list[float]) -> str:
    h = 40
    lo, hi = -span, span
    ticks = [-span, -span / 2, 0.0, span / 2, span]
    body = _axis(lo, hi, ticks, h, zero=0.0)
    for m in margins:
        x = _x(-m, lo, hi, 8.0, 384.0)
        body += (f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{h - 12}" stroke="#b45309" stroke-dasharray="3,2">'
                 f"<title>margin -{m:g}</title></line>")
    colour = "#b45309"
    if s.ci and s.ci[0] > 0:
        colour = "#15803d"
    elif s.ci and s.ci[1] < 0:
        colour = "#b91c1c"
    body += _bar(14, s.delta, s.ci, lo, hi, colour, f"delta {fmt(s.delta)} {fmt_ci(s.ci)}")
    return (f'<svg width="400" height="{h}" viewBox="0 0 400 {h}" class="chart" role="img" '
            f'aria-label="paired difference with interval">{body}</svg>')


def _rules_table(c: Comparison) -> str:
    rows = []
    for r in c.rules:
        whole = r.statistic in ("mean_difference", "candidate_mean", "slice_gap")
        est = fmt(r.estimate) if whole else fmt(r.estimate, 0)
        cal = ""
        if r.calibration:
            cal = f'<div class="muted">{escape(r.calibration.get("reason", ""))}</div>'
        rows.append(
            f"<tr><td>{_tag(r.verdict)}{'' if r.counted else ' <span class=muted>(does not count)</span>'}</td>"
            f"<td>{escape(r.label)}</td><td class=num>{est}</td><td class=num>{fmt_ci(r.ci)}</td>"
            f"<td class=num>{fmt_p(r.p_value)}</td><td class=num>{fmt_p(r.p_value_holm)}</td>"
            f"<td class=num>{r.n}</td><td>{escape(r.reason)}{cal}</td></tr>"
        )
    if not rows:
        rows.append('<tr><td colspan="8" class="muted">no rules</td></tr>')
    return (
        "<table><tr><th>verdict</th><th>rule</th><th>estimate</th>"
        f"<th>{c.policy.confidence:.0%} CI</th><th>p</th><th>p (Holm)</th><th>n</th><th>reason</th></tr>"
        + "".join(rows) + "</table>"
    )


def _criteria_chart(c: Comparison) -> str:
    span = _delta_range(c)
    rows = []
    for name, s in c.criteria.items():
        margins = [r.margin for r in c.rules if r.criterion == name and r.margin]
        kind = "binary" if s.binary else ("judge" if s.judge else "")
        cnt = s.counts
        rows.append(
            f"<tr><td><b>{escape(name)}</b> <span class=muted>{kind}</span><br>"
            f"<span class=muted>n {s.n}{f', {s.n_unscored} unscored' if s.n_unscored else ''}</span></td>"
            f"<td class=num>{fmt(s.base_mean)}<br>{fmt(s.candidate_mean)}</td><td>{_means_svg(s)}</td>"
            f"<td class=num>{fmt(s.delta)}<br><span class=muted>{fmt_ci(s.ci)}</span><br>p {fmt_p(s.p_value)}</td>"
            f"<td>{_delta_svg(s, span, margins)}</td>"
            f"<td class=num>+{cnt.get('fixed', 0)} / −{cnt.get('broken', 0)}<br>"
            f"<span class=muted>{cnt.get('unchanged', 0)} same</span></td></tr>"
        )
    legend = ('<p class="legend"><span style="color:#6b7280">● base</span><span style="color:#2563eb">● candidate'
              "</span><span>bars: intervals; dashed: no-regression margin</span></p>")
    return (
        legend + '<table class="chart"><tr><th>criterion</th><th>base<br>cand.</th><th>means</th><th>Δ</th>'
        "<th>paired difference (candidate − base)</th><th>fixed / broken</th></tr>" + "".join(rows) + "</table>"
    )


def _cards(c: Comparison) -> str:
    if not c.changes:
        return '<p class="muted">No item changed between pass and fail.</p>'
    cards = []
    for ch in c.changes[:_MAX_CARDS]:
        kind = "broken" if ch.broken else "fixed"
        tags = "".join(_tag("fail", f"broken: {b}") + " " for b in ch.broken)
        tags += "".join(_tag("pass", f"fixed: {f}") + " " for f in ch.fixed)
        leak = " " + _tag("inconclusive", "leaked") if ch.leaked else ""
        ref = "" if ch.reference is None else (
            f"<details><summary>reference</summary><pre class=block>"
            f"{escape(ch.reference if isinstance(ch.reference, str) else json.dumps(ch.reference, ensure_ascii=False))}"
            "</pre></details>"
        )
        cards.append(
            f'<div class="card {kind}"><b>{escape(ch.id)}</b>{leak} {tags}'
            f"<details><summary>prompt</summary><pre class=block>{escape(ch.prompt)}</pre></details>{ref}"
            f'<div class="side"><div><b>base</b><pre>{escape(ch.base_output)}</pre></div>'
            f"<div><b>candidate</b><pre>{escape(ch.candidate_output)}</pre></div></div></div>"
        )
    more = len(c.changes) - _MAX_CARDS
    tail = f'<p class="muted">{more} more items in comparison.json.</p>' if more > 0 else ""
    return f'<div class="cards">{"".join(cards)}</div>{tail}'


def _leakage(c: Comparison) -> str:
    lk = c.leakage
    if not lk.checked:
        return '<p class="muted">Not checked: pass <code>--train-data FILE</code> or gate a train run folder.</p>'
    files = ", ".join(escape(f) for f in lk.train_data) or "—"
    out = [f"<p>Training data {files}: <b>{len(lk.leaked_ids)}</b> suite items found.</p>"]
    if lk.leaked_ids:
        out.append("<p>Leaked items are left out of the verdict; "
                   + ("allowed by <code>--allow-leakage</code>." if lk.allowed else
                      "the gate fails unless <code>--allow-leakage</code> is given.") + "</p>")
        rows = []
        for f in lk.findings[:50]:
            rows.append(f"<tr><td>{escape(str(f.get('check', '')))}</td>"
                        f"<td>{escape(', '.join(map(str, f.get('holdout_ids', []))))}</td>"
                        f"<td>{escape(', '.join(map(str, list(f.get('ids', []))[:5])))}</td>"
                        f"<td>{escape(str(f.get('message', '')))}</td></tr>")
        if rows:
            out.append("<table><tr><th>check</th><th>suite items</th><th>training examples</th><th>evidence</th></tr>"
                       + "".join(rows) + "</table>")
        if c.with_leaked:
            wr = "".join(
                f"<tr><td>{escape(r['label'])}</td><td class=num>{fmt(r['estimate'])}</td>"
                f"<td class=num>{fmt_ci(r['ci'])}</td><td>{_tag(r['verdict'])}</td></tr>"
                for r in c.with_leaked.get("rules", [])
            )
            out.append(f"<h4>With the leaked items kept in ({c.with_leaked.get('n_paired')} items)</h4>"
                       "<table><tr><th>rule</th><th>estimate</th><th>CI</th><th>verdict</th></tr>" + wr + "</table>")
    if lk.note:
        out.append(f'<p class="muted">{escape(lk.note)}</p>')
    return "".join(out)


def _calibration(c: Comparison) -> str:
    if not c.calibration:
        return '<p class="muted">No judge criteria.</p>'
    rows = "".join(
        f"<tr><td>{escape(cid)}</td><td>{_tag('pass' if cal.counts else 'inconclusive', cal.status)}</td>"
        f"<td class=num>{fmt(cal.alpha)} <span class=muted>{escape(cal.alpha_level or '')}</span></td>"
        f"<td class=num>{fmt(cal.kappa)}</td><td class=num>{cal.n_items}</td><td class=num>{cal.floor:g}</td>"
        f"<td>{escape(cal.rated or '')} {escape(cal.reason or '')}</td></tr>"
        for cid, cal in c.calibration.items()
    )
    return ("<table><tr><th>criterion</th><th>status</th><th>Krippendorff alpha</th><th>Cohen kappa</th>"
            "<th>rated outputs</th><th>floor</th><th>notes</th></tr>" + rows + "</table>")


def _repeats(c: Comparison) -> str:
    if not c.repeats:
        return ""
    rows = "".join(
        f"<tr><td>{side}</td><td>{escape(crit)}</td><td class=num>{v.attempts_per_item:.1f}</td>"
        f"<td class=num>{fmt(v.between_items, 4)}</td><td class=num>{fmt(v.within_item, 4)}</td>"
        f"<td class=num>{fmt(v.generation, 4)}</td><td class=num>{fmt(v.grading, 4)}</td>"
        f"<td>{escape(v.reason or (f'grading from {v.grading_from}' if v.grading_from else ''))}</td></tr>"
        for side, splits in c.repeats.items() for crit, v in splits.items()
    )
    return ("<h3>Repeats: variance from generation and from grading</h3><table><tr><th>run</th><th>criterion</th>"
            "<th>attempts/item</th><th>between items</th><th>within item</th><th>generation</th><th>grading</th>"
            "<th>note</th></tr>" + rows + "</table>")


def _excluded(c: Comparison) -> str:
    if not c.excluded:
        return ""
    rows = "".join(f"<tr><td>{escape(e.id)}</td><td>{escape(e.reason.replace('_', ' '))}</td>"
                   f"<td>{escape(e.detail)}</td></tr>" for e in c.excluded[:500])
    return (f"<h3>Excluded items ({len(c.excluded)})</h3><table><tr><th>item</th><th>reason</th><th>detail</th></tr>"
            + rows + "</table>")


def _json_block(title: str, data: Any) -> str:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return f"<details><summary>{escape(title)}</summary><pre class=block>{escape(text)}</pre></details>"


def _suite_section(c: Comparison) -> str:
    pol = c.policy
    method = (f"{pol.confidence:.0%} intervals from a paired bootstrap ({pol.method}, {pol.resamples:,} resamples, "
              f"seed {pol.seed}); p-values at each rule's boundary (McNemar exact for binary criteria), "
              f"Holm-adjusted; an item passes at score ≥ {pol.pass_threshold:g}. {multiplicity_note(c)}")
    notes = "".join(f"<li>{escape(n)}</li>" for n in c.notes)
    return (
        f'<section><h2>Suite {escape(c.suite)} {_tag(c.verdict)}</h2>'
        f"<p>{c.n_paired} paired items. {escape(method)}</p>"
        f"<h3>Rules</h3>{_rules_table(c)}"
        f"<h3>Base vs candidate per criterion</h3>{_criteria_chart(c)}"
        f"{html_slices(c)}"
        f"<h3>Fixed and broken items</h3>{_cards(c)}"
        f"<h3>Leakage</h3>{_leakage(c)}"
        f"<h3>Judge calibration</h3>{_calibration(c)}"
        f"{_repeats(c)}{_excluded(c)}"
        + (f"<ul>{notes}</ul>" if notes else "")
        + "</section>"
    )


def render_html(result: GateResult) -> str:
    """The whole gate as one self-contained HTML page.

    Example:
        >>> from harness.gate.verdict import GateResult
        >>> "Gate: INCONCLUSIVE" in render_html(GateResult(verdict="inconclusive", comparisons=[]))
        True
    """
    first = result.comparisons[0] if result.comparisons else None
    base = str(first.base.model.get("spec", "?")) if first else "?"
    cand = str(first.candidate.model.get("spec", "?")) if first else "?"
    counts = {v: sum(r.verdict == v for r in result.rules) for v in ("pass", "fail", "inconclusive")}
    sub = (f"base {base} → candidate {cand} · {len(result.comparisons)} suite(s) · "
           f"{counts['pass']} pass, {counts['fail']} fail, {counts['inconclusive']} inconclusive")
    manifest = {
        "gate": result.manifest,
        "runs": [
            {"suite": c.suite, "suite_info": c.suite_info, "base": c.base.model_dump(mode="json"),
             "candidate": c.candidate.model_dump(mode="json"), "policy": c.policy.model_dump(mode="json")}
            for c in result.comparisons
        ],
    }
    title = f"Gate: {result.verdict.upper()}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} — harness</title><style>{_CSS}</style></head><body>"
        f'<div class="banner {escape(result.verdict)}" id="verdict">{escape(title)}<small>{escape(sub)}</small></div>'
        "<main>" + "".join(_suite_section(c) for c in result.comparisons)
        + "<h2>Manifest</h2>" + _json_block("manifest (hashes, versions, settings)", manifest)
        + "</main></body></html>\n"
    )
