"""The ``harness.agreement/v1`` document: coefficients with intervals, diagnostics, the gate."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np

from harness.agreement import coefficients as co
from harness.agreement.analytic import cohen_kappa_se, fleiss_kappa_se
from harness.agreement.bootstrap import bootstrap_values
from harness.agreement.concordance import MISSING_RULE, kendall_w, kendall_w_stat
from harness.agreement.diagnostics import (
    OUTLIER_RULE,
    drift,
    item_diagnostics,
    pairwise_summary,
    rater_diagnostics,
)
from harness.agreement.intraclass import ICC_FORMS
from harness.agreement.ratings import Group, Rating, Ratings, Scale, build_groups, load_ratings, parse_scale
from harness.agreement.suffstats import ItemStat
from harness.documents.constants import AGREEMENT_SCHEMA, DEFAULT_MIN_ALPHA
from harness.errors import InputError, check_choice
from harness.stats.bootstrap import percentile_interval
from harness.stats.params import check_confidence, check_float, check_int

__all__ = ["SCHEMA", "agreement_report", "gate_verdict"]

SCHEMA = AGREEMENT_SCHEMA
BOOTSTRAP_METHOD = "percentile interval; items resampled with replacement (exact multinomial over item patterns)"


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


class _Ctx:
    def __init__(self, bootstrap: int, seed: int, confidence: float) -> None:
        self.bootstrap, self.seed, self.confidence = bootstrap, seed, confidence

    def entry(self, build: Callable[[], ItemStat] | None, reason: str | None = None) -> dict[str, Any]:
        """A coefficient entry: value, bootstrap interval, reason when undefined."""
        if build is None:  # not applicable to this group or level (as opposed to undefined for the data)
            return {"value": None, "ci": None, "reason": reason, "applicable": False}
        stat = build()
        value = _num(stat.value())
        if value is None:
            return {"value": None, "ci": None, "reason": stat.reason or "undefined for these ratings"}
        out: dict[str, Any] = {"value": value, "ci": None}
        if self.bootstrap > 0:
            values = bootstrap_values(stat, n_resamples=self.bootstrap, seed=self.seed)
            lo, hi, undefined = percentile_interval(values, self.confidence)
            out["ci"] = [lo, hi] if math.isfinite(lo) and math.isfinite(hi) else None
            if undefined:
                out["bootstrap_undefined"] = undefined
        return out


def gate_verdict(entry: dict[str, Any], min_alpha: float) -> dict[str, Any]:
    """Pass when the interval's lower bound clears ``min_alpha``, fail when its upper bound is below, else inconclusive.

    Example:
        >>> gate_verdict({"value": 0.8, "ci": [0.7, 0.9]}, 0.667)["verdict"]
        'pass'
        >>> gate_verdict({"value": 0.7, "ci": [0.6, 0.8]}, 0.667)["verdict"]
        'inconclusive'
    """
    out: dict[str, Any] = {"coefficient": "krippendorff_alpha", "min_alpha": min_alpha}
    if entry["value"] is None:
        return {**out, "verdict": "inconclusive", "reason": f"alpha is undefined: {entry.get('reason')}"}
    if entry["ci"] is None:
        return {**out, "verdict": "inconclusive", "reason": "no confidence interval (bootstrap skipped or undefined)"}
    lo, hi = entry["ci"]
    if hi < min_alpha:
        return {**out, "verdict": "fail", "reason": f"the interval's upper bound {hi:.3f} is below {min_alpha}"}
    if lo >= min_alpha:
        return {**out, "verdict": "pass", "reason": f"the interval's lower bound {lo:.3f} clears {min_alpha}"}
    return {**out, "verdict": "inconclusive", "reason": f"the interval [{lo:.3f}, {hi:.3f}] straddles {min_alpha}"}


def _coefficients(g: Group, level: str, ctx: _Ctx) -> dict[str, dict[str, Any]]:
    x, labels, r = g.data, g.labels, len(g.rater_ids)
    out: dict[str, dict[str, Any]] = {"percent_agreement": ctx.entry(lambda: co.percent_agreement_stat(x))}
    two = f"Cohen's kappa compares exactly two raters; this group has {r} (see fleiss_kappa)"
    ordered = f"weighted kappa needs ordered categories; the level is {level}"
    for key, w in (("cohen_kappa", None), ("cohen_kappa_linear", "linear"), ("cohen_kappa_quadratic", "quadratic")):
        if r != 2:
            out[key] = ctx.entry(None, two)
        elif w is not None and level == "nominal":
            out[key] = ctx.entry(None, ordered)
        else:
            out[key] = ctx.entry(partial(co.cohen_kappa_stat, x[:, 0], x[:, 1], weights=w, labels=labels))
            if out[key]["value"] is not None:
                se = cohen_kappa_se(x[:, 0], x[:, 1], weights=w, labels=labels, confidence=ctx.confidence)
                out[key].update(se=_num(se.se), ci_analytic=[_num(se.ci_low), _num(se.ci_high)], n=se.n)
            if w is not None:
                out[key]["weights"] = f"{w} on category positions"
    out["fleiss_kappa"] = ctx.entry(lambda: co.fleiss_kappa_stat(x, labels=labels))
    m = (~np.isnan(x)).sum(axis=1)
    rated = m[m >= 1]
    out["fleiss_kappa"]["form"] = (
        "Fleiss (1971)" if rated.size and (rated == rated[0]).all() else "generalised to unequal raters (Gwet 2014)"
    )
    if out["fleiss_kappa"]["value"] is not None:
        fse = fleiss_kappa_se(x, labels=labels, confidence=ctx.confidence)
        out["fleiss_kappa"].update(se=_num(fse.se), ci_analytic=[_num(fse.ci_low), _num(fse.ci_high)])
    out["krippendorff_alpha"] = ctx.entry(lambda: co.krippendorff_alpha_stat(x, level=level))
    out["krippendorff_alpha"]["level"] = level
    out["gwet_ac1"] = ctx.entry(lambda: co.gwet_stat(x, labels=labels))
    if level == "nominal":
        out["gwet_ac2"] = ctx.entry(None, "AC2 weights need ordered categories; with nominal data AC2 is AC1")
    else:
        w = "ratio" if level == "ratio" else "quadratic"
        try:
            out["gwet_ac2"] = ctx.entry(lambda: co.gwet_stat(x, weights=w, labels=labels, func="gwet_ac2"))
        except InputError as exc:
            out["gwet_ac2"] = {"value": None, "ci": None, "reason": exc.message}
        out["gwet_ac2"]["weights"] = f"{w} on category values"
    out["kendall_w"] = _kendall_entry(x, level, ctx)
    for form in ICC_FORMS:
        if level in ("interval", "ratio"):
            out[form] = ctx.entry(partial(co.icc_stat, x, form=form))
        else:
            out[form] = ctx.entry(None, f"ICC needs interval or ratio scores; the level is {level}")
    return out


def _kendall_entry(x: np.ndarray, level: str, ctx: _Ctx) -> dict[str, Any]:
    """Kendall's W (each rater's scores ranking the items) with its chi-square test."""
    if level == "nominal":
        return ctx.entry(None, "Kendall's W ranks the items by each rater's scores; nominal categories have no order")
    entry = ctx.entry(lambda: kendall_w_stat(x))
    res = kendall_w(x)
    entry.update(
        n=res.n_items,
        chi2=_num(res.chi2),
        df=res.df,
        p_value=_num(res.p_value),
        ties=res.ties,
        form="tie-corrected (Kendall & Babington Smith 1939); chi-square test on n - 1 df",
        missing=MISSING_RULE,
    )
    return entry


def _show(g: Group) -> Callable[[float], Any]:
    if g.numeric:
        return lambda v: int(v) if float(v).is_integer() else float(v)
    return lambda v: g.categories[int(v)]


def _group_doc(g: Group, level: str, ctx: _Ctx, min_alpha: float) -> dict[str, Any]:
    x = g.data
    n_ratings = int((~np.isnan(x)).sum())
    coefs = _coefficients(g, level, ctx)
    show = _show(g)
    gold = g.gold if (~np.isnan(g.gold)).any() else None
    doc: dict[str, Any] = {
        "criterion": g.criterion,
        "n_items": len(g.item_ids),
        "n_raters": len(g.rater_ids),
        "n_ratings": n_ratings,
        "pairable_items": int(((~np.isnan(x)).sum(axis=1) >= 2).sum()),
        "missing_share": 1 - n_ratings / x.size if x.size else None,
        "categories": list(g.categories),
        "duplicates_ignored": g.duplicates_ignored,
        "coefficients": coefs,
        "gate": gate_verdict(coefs["krippendorff_alpha"], min_alpha),
        "raters": rater_diagnostics(x, level=level, rater_ids=g.rater_ids, gold=gold),
        "items": item_diagnostics(x, level=level, item_ids=g.item_ids, rater_ids=g.rater_ids, show=show, gold=g.gold),
    }
    trend = drift(
        x,
        level=level,
        timestamps=g.timestamps,
        rater_ids=g.rater_ids,
        lines=g.lines,
        overall=coefs["krippendorff_alpha"]["value"] or float("nan"),
        bootstrap=ctx.bootstrap,
        seed=ctx.seed,
        confidence=ctx.confidence,
        file=g.file,
    )
    if trend is not None:
        doc["drift"] = trend
    if g.pairwise:
        doc["pairwise"] = pairwise_summary(x, shown_first=g.shown_first, rater_ids=g.rater_ids)
    return doc


# The document is built as plain JSON values, in the key order and with the number types of the
# models in harness.documents.agreement (AgreementDocument, AgreementGroup, Coefficient):
# validating 20,000 item entries through pydantic cost more than computing them, and importing
# pydantic more than reading the file. Tests validate every written document against the
# models' JSON Schema (HARNESS_CHECK_DOCUMENTS=1) and check that a dump through the models
# gives the same text.
_GROUP_KEYS = ("criterion", "n_items", "n_raters", "n_ratings", "pairable_items", "missing_share", "categories",
               "duplicates_ignored", "coefficients", "gate", "raters", "items", "drift", "pairwise")  # fmt: skip
_COEFFICIENT_KEYS = ("value", "ci", "reason", "applicable", "se", "ci_analytic", "n", "level", "weights", "form",
                     "bootstrap_undefined")  # fmt: skip


def _float_or_none(v: Any) -> float | None:
    return None if v is None else float(v)


def _coefficient_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A coefficient entry as the ``Coefficient`` model writes it (declared keys first, floats as floats)."""
    out = {k: entry[k] for k in _COEFFICIENT_KEYS if k in entry}
    for k in ("value", "se"):
        if k in out:
            out[k] = _float_or_none(out[k])
    for k in ("ci", "ci_analytic"):
        if out.get(k) is not None:
            out[k] = [_float_or_none(v) for v in out[k]]
    for k in ("n", "bootstrap_undefined"):
        if out.get(k) is not None:
            out[k] = int(out[k])
    out.update((k, v) for k, v in entry.items() if k not in out)
    return out


def _group_json(d: dict[str, Any]) -> dict[str, Any]:
    """A group as the ``AgreementGroup`` model writes it."""
    out = {k: d[k] for k in _GROUP_KEYS if k in d}
    out["coefficients"] = {name: _coefficient_json(e) for name, e in d["coefficients"].items()}
    if out.get("missing_share") is not None:
        out["missing_share"] = float(out["missing_share"])
    gate = out.get("gate")
    if gate is not None:
        out["gate"] = {**gate, "min_alpha": float(gate["min_alpha"])}
    out.update((k, v) for k, v in d.items() if k not in out)
    return out


def _check_params(*, level: str, by: str | None, bootstrap: int, min_alpha: float, confidence: float) -> float:
    """Check ``agreement_report``'s parameters (scikit-learn's message shape); the confidence as a float."""
    check_choice(level, co.LEVELS, param="level", func="agreement_report")
    if by is not None:
        check_choice(by, ("criterion",), param="by", func="agreement_report")
    check_int(bootstrap, param="bootstrap", func="agreement_report", low=0)
    check_float(min_alpha, param="min_alpha", func="agreement_report", low=-1.0, high=1.0)
    return check_confidence(confidence, "agreement_report")


def _as_ratings(ratings: Ratings | str | Path | Sequence[Rating], *, wide: bool, format: str | None) -> Ratings:
    """The ratings, loaded from a file when given one; at least one rating."""
    if isinstance(ratings, str | Path):
        ratings = load_ratings(ratings, wide=wide, format=format)
    elif not isinstance(ratings, Ratings):
        ratings = Ratings(list(ratings))
    if not len(ratings):
        raise InputError("no ratings", file=ratings.file)
    return ratings


def _overall_verdict(verdicts: Sequence[str]) -> Literal["pass", "fail", "inconclusive"]:
    """Any group failing fails the document; else any inconclusive makes it inconclusive."""
    return "fail" if "fail" in verdicts else "inconclusive" if "inconclusive" in verdicts else "pass"


def agreement_report(
    ratings: Ratings | str | Path | Sequence[Rating],
    *,
    level: str,
    by: str | None = None,
    bootstrap: int = 1000,
    seed: int = 0,
    scale: Scale | str | None = None,
    min_alpha: float = DEFAULT_MIN_ALPHA,
    confidence: float = 0.95,
    wide: bool = False,
    format: str | None = None,
) -> dict[str, Any]:
    """Measure inter-rater agreement and build the ``harness.agreement/v1`` document.

    Args:
        ratings: a ratings file (long form, or wide with ``wide=True``), loaded :class:`Ratings`,
            or a list of :class:`Rating`.
        level: level of measurement: ``"nominal"``, ``"ordinal"``, ``"interval"`` or ``"ratio"``
            (no default: the level decides which coefficients mean anything).
        by: ``"criterion"`` for one group per criterion.
        bootstrap: item resamples for the confidence intervals (0 skips them).
        seed: random seed of the bootstrap.
        scale: the declared scale (``"1-5"``, ``"low,mid,high"`` or a :class:`Scale`); scores
            off it are errors, and its unused points count for AC1/AC2 and weighted kappa.
        min_alpha: the gate: Krippendorff's floor for tentative conclusions is 0.667.
        confidence: interval level.
        wide: read ``ratings`` as a wide file (a column per rater).
        format: force the file format (``csv``, ``jsonl``, ``parquet``).

    Returns:
        The document: ``schema``, ``level``, ``verdict`` (pass / fail / inconclusive) and
        ``groups`` (``criterion``, ``n_items``, ``n_raters``, ``coefficients``, ``raters``,
        ``items``, ``gate`` and, when the data allow, ``drift`` and ``pairwise``).

    Raises:
        InputError: bad parameters or bad ratings (file, line and field in the message).

    Example:
        >>> from harness.agreement.ratings import Rating
        >>> rows = [Rating(str(i), r, s) for i, (a, b) in enumerate([(1, 1), (2, 2), (3, 3), (1, 2)])
        ...         for r, s in (("r1", a), ("r2", b))]
        >>> doc = agreement_report(rows, level="ordinal", bootstrap=0)
        >>> round(doc["groups"][0]["coefficients"]["krippendorff_alpha"]["value"], 4), doc["verdict"]
        (0.79, 'inconclusive')
    """
    confidence = _check_params(level=level, by=by, bootstrap=bootstrap, min_alpha=min_alpha, confidence=confidence)
    ratings = _as_ratings(ratings, wide=wide, format=format)
    declared = parse_scale(scale) if isinstance(scale, str) else scale
    groups = build_groups(ratings, level=level, scale=declared, by=by)
    ctx = _Ctx(bootstrap, seed, confidence)
    docs = [_group_doc(g, level, ctx, min_alpha) for g in groups]
    return {
        "schema": SCHEMA,
        "level": level,
        "file": ratings.file,
        "form": ratings.form,
        "by": by,
        "scale": declared.text if declared is not None else None,
        "n_ratings": len(ratings),
        "bootstrap": {
            "resamples": bootstrap,
            "seed": seed,
            "confidence": float(confidence),
            "method": BOOTSTRAP_METHOD if bootstrap else None,
        },
        "analytic_ci": "Cohen: normal, Fleiss-Cohen-Everitt (1969) SE; Fleiss: t(n-1), Gwet (2014) SE",
        "outlier_rule": OUTLIER_RULE,
        "min_alpha": float(min_alpha),
        "verdict": _overall_verdict([d["gate"]["verdict"] for d in docs]),
        "groups": [_group_json(d) for d in docs],
    }
