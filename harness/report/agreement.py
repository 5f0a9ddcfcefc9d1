"""Markdown and console renderings of a ``harness.agreement/v1`` document."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report import md_escape

_NAMES = {
    "percent_agreement": "Percent agreement",
    "cohen_kappa": "Cohen's kappa",
    "cohen_kappa_linear": "Cohen's kappa, linear weights",
    "cohen_kappa_quadratic": "Cohen's kappa, quadratic weights",
    "fleiss_kappa": "Fleiss' kappa",
    "krippendorff_alpha": "Krippendorff's alpha",
    "gwet_ac1": "Gwet's AC1",
    "gwet_ac2": "Gwet's AC2",
    "icc1": "ICC(1,1) one-way random",
    "icc2": "ICC(2,1) two-way random, agreement",
    "icc3": "ICC(3,1) two-way mixed, consistency",
    "icc1k": "ICC(1,k)",
    "icc2k": "ICC(2,k)",
    "icc3k": "ICC(3,k)",
    "kendall_w": "Kendall's W (tie-corrected)",
}
_STYLE = {"pass": "bold green", "fail": "bold red", "inconclusive": "bold yellow"}
SHOW_ITEMS = 15


def _v(x: float | None, digits: int = 3) -> str:
    return "—" if x is None else f"{x:.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return "—" if ci is None else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _name(key: str, doc: dict[str, Any]) -> str:
    name = _NAMES.get(key, key)
    return f"{name} ({doc['level']})" if key == "krippendorff_alpha" else name


def _note(entry: dict[str, Any]) -> str:
    parts = []
    if entry.get("reason"):
        parts.append(entry["reason"])
    for key in ("weights", "form"):
        if entry.get(key):
            parts.append(str(entry[key]))
    if entry.get("chi2") is not None:
        parts.append(f"chi2({entry['df']}) = {entry['chi2']:.3f}, p = {entry['p_value']:.3g}, n = {entry['n']}")
    if entry.get("bootstrap_undefined"):
        parts.append(f"{entry['bootstrap_undefined']} resamples undefined")
    return "; ".join(parts)


def _title(group: dict[str, Any]) -> str:
    return f"criterion `{group['criterion']}`" if group["criterion"] else "all ratings"


def _fmt_ratings(ratings: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in ratings.items())


def _missing(group: dict[str, Any]) -> str:
    share = group.get("missing_share")
    return "" if share is None else f" ({share:.0%} of cells missing)"


def render_markdown(doc: dict[str, Any]) -> str:
    """A Markdown report: verdict, then per group coefficients, raters, items, drift, pairwise."""
    boot = doc["bootstrap"]
    ci_text = (
        f"{boot['confidence']:.0%} bootstrap intervals from {boot['resamples']} item resamples (seed {boot['seed']})"
        if boot["resamples"]
        else "no bootstrap intervals (--bootstrap 0)"
    )
    out = [
        f"# Inter-rater agreement: `{md_escape(str(doc.get('file') or 'ratings'), 120)}`",
        "",
        f"**{doc['verdict'].upper()}**: Krippendorff's alpha ({doc['level']}) against the floor "
        f"{doc['min_alpha']} (pass when the interval's lower bound clears it, fail when its upper bound is below).",
        "",
        f"Level of measurement: **{doc['level']}**; scale: {doc['scale'] or 'observed values'}; {ci_text}. "
        f"Analytic intervals: {doc['analytic_ci']}.",
    ]
    for g in doc["groups"]:
        out += [
            "",
            f"## {_title(g)}: {g['n_items']} items, {g['n_raters']} raters, {g['n_ratings']} ratings{_missing(g)}",
            "",
            f"Gate: **{g['gate']['verdict']}**: {g['gate']['reason']}. Categories: "
            f"{', '.join(str(c) for c in g['categories'])}.",
            "",
            "| coefficient | value | CI | analytic CI | note |",
            "| --- | --- | --- | --- | --- |",
        ]
        for key, e in g["coefficients"].items():
            out.append(
                f"| {_name(key, doc)} | {_v(e['value'])} | {_ci(e['ci'])} | {_ci(e.get('ci_analytic'))} "
                f"| {md_escape(_note(e), 160)} |"
            )
        out += _md_raters(g)
        out += _md_items(g)
        if "drift" in g:
            out += _md_drift(g["drift"])
        if "pairwise" in g:
            out += _md_pairwise(g["pairwise"])
    return "\n".join(out) + "\n"


def _md_raters(g: dict[str, Any]) -> list[str]:
    gold = any("gold_accuracy" in r for r in g["raters"])
    ordered = any("offset" in r for r in g["raters"])
    head = "| rater | items | consensus agreement |" + (" offset | mean abs diff |" if ordered else "")
    head += " alpha without |" + (" gold n | gold accuracy |" if gold else "")
    out = ["", "### Raters", "", head + " flag |", "| --- " * head.count("|") + "|"]
    for r in g["raters"]:
        row = f"| {md_escape(r['rater_id'], 40)} | {r['n_items']} | {_v(r['consensus_agreement'])} |"
        if ordered:
            row += f" {_v(r.get('offset'), 2)} | {_v(r.get('mean_abs_diff'), 2)} |"
        row += f" {_v(r['alpha_without'])} |"
        if gold:
            row += f" {r.get('gold_n', 0)} | {_v(r.get('gold_accuracy'), 2)} |"
        flag = "⚠️ " + "; ".join(r["outlier_reasons"]) if r["outlier"] else ""
        out.append(row + f" {flag} |")
    return out


def _md_items(g: dict[str, Any]) -> list[str]:
    worst = [i for i in g["items"] if i["disagreement"] is not None][:SHOW_ITEMS]
    out = ["", f"### Items to adjudicate (worst {len(worst)} of {g['n_items']})", ""]
    out += ["| item | disagreement | ratings | gold |", "| --- | --- | --- | --- |"]
    for i in worst:
        shown = md_escape(_fmt_ratings(i["ratings"]), 200)
        out.append(f"| {md_escape(i['item_id'], 60)} | {_v(i['disagreement'], 2)} | {shown} | {i.get('gold', '')} |")
    return out


def _md_drift(d: dict[str, Any]) -> list[str]:
    out = ["", f"### Drift (by {d['by']} of the items' first rating)", ""]
    raters = sorted({r for p in d["periods"] for r in p.get("rater_consensus_agreement", {})})
    out.append(
        "| period | items | ratings | alpha | CI | " + " | ".join(md_escape(r, 30) for r in raters) + " | flag |"
    )
    out.append("| --- " * (6 + len(raters)) + "|")
    for p in d["periods"]:
        per = " | ".join(_v(p.get("rater_consensus_agreement", {}).get(r), 2) for r in raters)
        flag = "below overall" if p["below_overall"] else ""
        out.append(
            f"| {p['period']} | {p['n_items']} | {p['n_ratings']} | {_v(p['krippendorff_alpha'])} | {_ci(p['ci'])} "
            f"| {per} | {flag} |"
        )
    out += ["", "Rater columns: each rater's consensus agreement within the period."]
    return out


def _md_pairwise(p: dict[str, Any]) -> list[str]:
    c = p["counts"]
    out = [
        "",
        "### Pairwise preferences",
        "",
        f"A {c['A']}, B {c['B']}, tie {c['tie']} (tie rate {_v(p['tie_rate'], 2)}).",
    ]
    pb = p["position_bias"]
    if pb is None:
        out.append(f"Position bias: not measured ({p.get('position_bias_reason')}).")
    else:
        out.append(
            f"Position bias: the response shown first wins {pb['first_shown_wins']} of {pb['n_decisive']} decisive "
            f"judgements ({pb['rate']:.1%}, Wilson 95% CI {_ci(pb['ci'])}, binomial p = {pb['p_value']:.3g})"
            + (" — **biased**." if pb["biased"] else ".")
        )
    out += ["", "| rater | ratings | tie rate | first shown wins | p | flag |", "| --- | --- | --- | --- | --- | --- |"]
    for r in p["raters"]:
        b = r["position_bias"]
        wins = "—" if b is None else f"{b['first_shown_wins']}/{b['n_decisive']} ({b['rate']:.0%})"
        flag = "⚠️ position bias" if b and b["biased"] else ""
        p_text = "—" if b is None else f"{b['p_value']:.3g}"
        out.append(
            f"| {md_escape(r['rater_id'], 40)} | {r['n']} | {_v(r['tie_rate'], 2)} | {wins} | {p_text} | {flag} |"
        )
    return out


def _short(reason: str) -> str:
    return "gold" if "gold" in reason else "consensus" if "consensus" in reason else reason


def print_summary(doc: dict[str, Any], console: Console) -> None:
    """Rich tables: coefficients, raters, worst items, drift and pairwise per group, then the verdict."""
    for g in doc["groups"]:
        table = Table(title=f"Agreement, {escape(_title(g))} ({g['n_items']} items, {g['n_raters']} raters)")
        for col in ("coefficient", "value", "CI", "analytic CI", "note"):
            table.add_column(col, justify="right" if col in ("value",) else "left", overflow="fold")
        skipped: dict[str, list[str]] = {}
        for key, e in g["coefficients"].items():
            if e.get("applicable") is False:
                skipped.setdefault(e["reason"], []).append(key)
                continue
            style = "bold" if key == "krippendorff_alpha" else None
            table.add_row(
                _name(key, doc), _v(e["value"]), _ci(e["ci"]), _ci(e.get("ci_analytic")), escape(_note(e)), style=style
            )
        console.print(table)
        for reason, keys in skipped.items():
            console.print(f"[dim]not applicable: {', '.join(keys)} ({escape(reason)})[/]", highlight=False)
        raters = Table(title="Raters")
        for col in ("rater", "items", "consensus agr.", "offset", "alpha without", "gold acc.", "flag"):
            raters.add_column(col)
        for r in g["raters"]:
            raters.add_row(
                escape(r["rater_id"]),
                str(r["n_items"]),
                _v(r["consensus_agreement"]),
                _v(r.get("offset"), 2),
                _v(r["alpha_without"]),
                _v(r.get("gold_accuracy"), 2),
                "[bold red]outlier[/]: " + escape(", ".join(_short(x) for x in r["outlier_reasons"]))
                if r["outlier"]
                else "",
            )
        console.print(raters)
        worst = [i for i in g["items"] if i["disagreement"] is not None][:5]
        if worst:
            console.print(
                "[bold]Most disputed items[/]: "
                + "; ".join(
                    f"{escape(i['item_id'])} ({i['disagreement']:.2f}: {escape(_fmt_ratings(i['ratings']))})"
                    for i in worst
                ),
                highlight=False,
            )
        if "drift" in g:
            console.print(
                f"[bold]Drift by {g['drift']['by']}[/]: "
                + ", ".join(
                    f"{p['period']} {_v(p['krippendorff_alpha'])} {_ci(p['ci'])}"
                    + (" [red]below overall[/]" if p["below_overall"] else "")
                    for p in g["drift"]["periods"]
                ),
                highlight=False,
            )
        if "pairwise" in g and g["pairwise"]["position_bias"] is not None:
            pb = g["pairwise"]["position_bias"]
            biased = [
                r["rater_id"] for r in g["pairwise"]["raters"] if r["position_bias"] and r["position_bias"]["biased"]
            ]
            console.print(
                f"[bold]Position bias[/]: first shown wins {pb['rate']:.1%} of {pb['n_decisive']} "
                f"(p = {pb['p_value']:.3g}){'; biased raters: ' + escape(', '.join(biased)) if biased else ''}",
                highlight=False,
            )
        gate = g["gate"]
        console.print(
            f"Gate: [{_STYLE[gate['verdict']]}]{gate['verdict']}[/] — {escape(gate['reason'])}", highlight=False
        )
    console.print(
        f"[{_STYLE[doc['verdict']]}]{doc['verdict'].upper()}[/]: Krippendorff's alpha ({doc['level']}) "
        f"vs floor {doc['min_alpha']}",
        highlight=False,
    )
