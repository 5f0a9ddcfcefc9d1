"""Markdown and console renderings of a ``harness.agreement/v1`` document."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from harness.report.formatting import md_escape
from harness.report.templating import render

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


def _table(head: list[str], rows: list[list[Any]], *, columns: int | None = None) -> dict[str, Any]:
    return {"head": head, "rows": [[str(c) for c in r] for r in rows], "columns": columns or len(head)}


def _raters_table(g: dict[str, Any]) -> dict[str, Any]:
    gold = any("gold_accuracy" in r for r in g["raters"])
    ordered = any("offset" in r for r in g["raters"])
    head = ["rater", "items", "consensus agreement", *(["offset", "mean abs diff"] if ordered else []),
            "alpha without", *(["gold n", "gold accuracy"] if gold else []), "flag"]
    rows = []
    for r in g["raters"]:
        row = [md_escape(r["rater_id"], 40), r["n_items"], _v(r["consensus_agreement"])]
        if ordered:
            row += [_v(r.get("offset"), 2), _v(r.get("mean_abs_diff"), 2)]
        row.append(_v(r["alpha_without"]))
        if gold:
            row += [r.get("gold_n", 0), _v(r.get("gold_accuracy"), 2)]
        rows.append([*row, "⚠️ " + "; ".join(r["outlier_reasons"]) if r["outlier"] else ""])
    return _table(head, rows)


def _drift_table(d: dict[str, Any]) -> dict[str, Any]:
    raters = sorted({r for p in d["periods"] for r in p.get("rater_consensus_agreement", {})})
    head = ["period", "items", "ratings", "alpha", "CI", " | ".join(md_escape(r, 30) for r in raters), "flag"]
    rows = [
        [p["period"], p["n_items"], p["n_ratings"], _v(p["krippendorff_alpha"]), _ci(p["ci"]),
         " | ".join(_v(p.get("rater_consensus_agreement", {}).get(r), 2) for r in raters),
         "below overall" if p["below_overall"] else ""]
        for p in d["periods"]
    ]
    return _table(head, rows, columns=6 + len(raters))


def _pairwise_view(p: dict[str, Any]) -> dict[str, Any]:
    rows = []
    for r in p["raters"]:
        b = r["position_bias"]
        rows.append([md_escape(r["rater_id"], 40), r["n"], _v(r["tie_rate"], 2),
                     "—" if b is None else f"{b['first_shown_wins']}/{b['n_decisive']} ({b['rate']:.0%})",
                     "—" if b is None else f"{b['p_value']:.3g}", "⚠️ position bias" if b and b["biased"] else ""])
    return {"counts": p["counts"], "tie_rate": _v(p["tie_rate"], 2), "bias": p["position_bias"],
            "bias_ci": _ci(p["position_bias"]["ci"]) if p["position_bias"] else None,
            "bias_reason": p.get("position_bias_reason"),
            "raters": _table(["rater", "ratings", "tie rate", "first shown wins", "p", "flag"], rows)}


def _group_view(g: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    coefficients = [[_name(k, doc), _v(e["value"]), _ci(e["ci"]), _ci(e.get("ci_analytic")), md_escape(_note(e), 160)]
                    for k, e in g["coefficients"].items()]
    worst = [i for i in g["items"] if i["disagreement"] is not None][:SHOW_ITEMS]
    items = [[md_escape(i["item_id"], 60), _v(i["disagreement"], 2), md_escape(_fmt_ratings(i["ratings"]), 200),
              i.get("gold", "")] for i in worst]
    return {
        "heading": f"{_title(g)}: {g['n_items']} items, {g['n_raters']} raters, {g['n_ratings']} ratings{_missing(g)}",
        "gate": g["gate"], "categories": ", ".join(str(c) for c in g["categories"]), "n_items": g["n_items"],
        "coefficients": _table(["coefficient", "value", "CI", "analytic CI", "note"], coefficients),
        "raters": _raters_table(g),
        "worst": _table(["item", "disagreement", "ratings", "gold"], items),
        "drift": {"by": g["drift"]["by"], "table": _drift_table(g["drift"])} if "drift" in g else None,
        "pairwise": _pairwise_view(g["pairwise"]) if "pairwise" in g else None,
    }


def agreement_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``agreement.md`` shows of a ``harness.agreement/v1`` document: verdict, settings, one view per group."""
    boot = doc["bootstrap"]
    ci_text = (
        f"{boot['confidence']:.0%} bootstrap intervals from {boot['resamples']} item resamples (seed {boot['seed']})"
        if boot["resamples"]
        else "no bootstrap intervals (--bootstrap 0)"
    )
    return {"doc": doc, "file": md_escape(str(doc.get("file") or "ratings"), 120), "ci_text": ci_text,
            "groups": [_group_view(g, doc) for g in doc["groups"]]}


def render_markdown(doc: dict[str, Any]) -> str:
    """A Markdown report: verdict, then per group coefficients, raters, items, drift, pairwise."""
    return render("agreement.md.j2", view=agreement_view(doc))


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
