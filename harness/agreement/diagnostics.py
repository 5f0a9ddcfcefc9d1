"""Diagnostics a calibrator acts on: raters, items, drift over time, pairwise position bias.

- Per rater: items rated; agreement with the *leave-one-out consensus* (the other raters' mode
  for nominal data, median for ordinal, mean for interval and ratio), as Krippendorff's alpha at
  the report's level between the rater and that consensus; systematic offset and mean absolute
  difference from it (ordered levels); alpha of the others without this rater; accuracy on gold
  items; and an outlier flag (rule in :data:`OUTLIER_RULE`).
- Per item: disagreement = mean pairwise difference of its ratings (Krippendorff's metric at the
  level) divided by the expected difference between two random ratings; 0 is unanimous, 1 is
  chance level. Listed worst first for adjudication.
- Drift: alpha per ISO week of the items' first rating (or per batch label when timestamps are
  not dates), with bootstrap intervals; a period whose interval lies below the overall alpha is
  flagged.
- Pairwise A/B/tie: choice shares, tie rate, and position bias: how often the response shown
  first wins among decisive judgements, exact binomial test against 1/2 and Wilson interval,
  overall and per rater.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

import numpy as np

from harness.agreement.bootstrap import bootstrap_ci
from harness.agreement.coefficients import krippendorff_alpha, krippendorff_alpha_stat
from harness.agreement.loo import alpha_without_each, loo_consensus_cells
from harness.agreement.suffstats import code_categories, count_matrix, metric_matrix
from harness.arrays import distinct
from harness.errors import InputError
from harness.gcpause import paused_gc

__all__ = [
    "OUTLIER_RULE",
    "consensus_agreement",
    "drift",
    "item_diagnostics",
    "item_disagreement",
    "loo_consensus",
    "pairwise_summary",
    "rater_diagnostics",
]

MIN_ITEMS_FOR_FLAG = 5
CONSENSUS_FLOOR = 0.15
GOLD_FLOOR = 0.2
OUTLIER_RULE = (
    "flagged when the rater's consensus agreement is below the raters' median by more than "
    f"max(3 x 1.4826 x MAD, {CONSENSUS_FLOOR}), or gold accuracy below the median by more than "
    f"max(3 x 1.4826 x MAD, {GOLD_FLOOR}); needs 3+ raters and {MIN_ITEMS_FOR_FLAG}+ compared items"
)


def _f(v: float) -> float | None:
    return None if v is None or not np.isfinite(v) else float(v)


# ---------------------------------------------------------------------------- raters
def loo_consensus(data: np.ndarray, j: int, level: str) -> np.ndarray:
    """The other raters' consensus on each item (NaN where no other rater rated it).

    Nominal: the modal value (ties go to the value most frequent in the whole table, then the
    smallest); ordinal: the median; interval and ratio: the mean.
    """
    others = np.delete(data, j, axis=1)
    has = (~np.isnan(others)).any(axis=1)
    out = np.full(len(data), np.nan)
    if not has.any():
        return out
    if level == "nominal":
        coded = code_categories(data)
        q = len(coded.categories)
        counts = count_matrix(np.delete(coded.codes, j, axis=1), q)
        overall = count_matrix(coded.codes, q).sum(axis=0)
        preference = np.empty(q)
        preference[np.lexsort((np.arange(q), -overall))] = np.arange(q)[::-1]  # more frequent, then smaller, wins
        key = counts * q + preference
        out[has] = coded.categories[np.argmax(key[has], axis=1)]
    elif level == "ordinal":
        out[has] = np.nanmedian(others[has], axis=1)
    else:
        out[has] = np.nanmean(others[has], axis=1)
    return out


def _low_outliers(values: list[float | None], floor: float, eligible: list[bool]) -> list[bool]:
    arr = np.array([np.nan if v is None or not ok else v for v, ok in zip(values, eligible, strict=True)])
    ok = arr[~np.isnan(arr)]
    if ok.size < 3:
        return [False] * len(values)
    # statistics.median: the same value as np.median here (no NaN), without its import of numpy.ma.
    med = float(statistics.median(ok.tolist()))
    mad = 1.4826 * float(statistics.median(np.abs(ok - med).tolist()))
    threshold = med - max(3 * mad, floor)
    return [bool(not np.isnan(v) and v < threshold) for v in arr]


def rater_diagnostics(
    data: np.ndarray, *, level: str, rater_ids: list[str], gold: np.ndarray | None = None
) -> list[dict[str, Any]]:
    """Per-rater diagnostics (see the module docstring), in rater order.

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN missing.
        level: level of measurement.
        rater_ids: the raters' names (columns of ``data``).
        gold: per-item gold value (NaN where none), coded like ``data``.
    """
    ordered = level != "nominal"
    out = []
    cell_items, cell_raters, cell_cons = loo_consensus_cells(data, level)
    bounds = np.concatenate(([0], np.cumsum(np.bincount(cell_raters, minlength=len(rater_ids)))))
    # stable: each rater's cells in item order (a narrow integer type sorts by radix, in linear time)
    by_rater = np.argsort(cell_raters.astype(np.min_scalar_type(max(len(rater_ids) - 1, 0))), kind="stable")
    without = alpha_without_each(data, level)
    for j, rater in enumerate(rater_ids):
        x = data[:, j]
        cells = by_rater[bounds[j] : bounds[j + 1]]
        known = ~np.isnan(cell_cons[cells])
        mine, cons = x[cell_items[cells][known]], cell_cons[cells][known]
        row: dict[str, Any] = {"rater_id": rater, "n_items": int(cells.size), "n_compared": int(known.sum())}
        agree = krippendorff_alpha(np.column_stack([mine, cons]), level=level) if known.any() else float("nan")
        row["consensus_agreement"] = _f(agree)
        if ordered:
            diff = mine - cons
            row["offset"] = _f(diff.mean()) if diff.size else None
            row["mean_abs_diff"] = _f(np.abs(diff).mean()) if diff.size else None
        alone = without[j] if without is not None else krippendorff_alpha(np.delete(data, j, axis=1), level=level)
        row["alpha_without"] = _f(alone)
        if gold is not None and (~np.isnan(gold)).any():
            g = ~np.isnan(x) & ~np.isnan(gold)
            row["gold_n"] = int(g.sum())
            row["gold_accuracy"] = _f((x[g] == gold[g]).mean()) if g.any() else None
            if ordered:
                row["gold_mean_abs_diff"] = _f(np.abs(x[g] - gold[g]).mean()) if g.any() else None
        out.append(row)
    eligible = [r["n_compared"] >= MIN_ITEMS_FOR_FLAG for r in out]
    low_cons = _low_outliers([r["consensus_agreement"] for r in out], CONSENSUS_FLOOR, eligible)
    gold_ok = [r.get("gold_n", 0) >= MIN_ITEMS_FOR_FLAG for r in out]
    low_gold = _low_outliers([r.get("gold_accuracy") for r in out], GOLD_FLOOR, gold_ok)
    for r, lc, lg in zip(out, low_cons, low_gold, strict=True):
        reasons = []
        if lc:
            reasons.append("low agreement with the consensus of the other raters")
        if lg:
            reasons.append("low accuracy on gold items")
        r["outlier"] = bool(reasons)
        r["outlier_reasons"] = reasons
    return out


# ---------------------------------------------------------------------------- items
def _level_values(data: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Values under the level's metric (mid-ranks for ordinal), the pairable mask, and distinct values."""
    m = (~np.isnan(data)).sum(axis=1)
    pairable = m >= 2
    x = np.where(pairable[:, None], data, np.nan)
    if level != "ordinal":
        return x, pairable, distinct(x[~np.isnan(x)])
    vals, counts = np.unique(x[~np.isnan(x)], return_counts=True)
    ranks = np.cumsum(counts) - counts / 2.0
    out = np.full(x.shape, np.nan)
    mask = ~np.isnan(x)
    out[mask] = ranks[np.searchsorted(vals, x[mask])]
    return out, pairable, distinct(ranks)


def _delta(a: np.ndarray, b: np.ndarray, level: str) -> np.ndarray:
    if level == "nominal":
        return (a != b).astype(float)
    if level == "ratio":
        s = a + b
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(s == 0, 0.0, ((a - b) / s) ** 2)
    return (a - b) ** 2  # interval, and ordinal on mid-ranks


def _pair_sums_by_counts(x: np.ndarray, level: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Per item, the sum of differences over ordered pairs of its ratings, linear in the cells.

    Interval and ordinal (mid-ranks): ``2 (m sum a^2 - (sum a)^2)``; nominal and ratio: ``n' D n``
    over the item's category counts ``n`` (None when there are too many distinct values).
    """
    valid = ~np.isnan(x)
    m = valid.sum(axis=1).astype(float)
    if level in ("interval", "ordinal"):
        centred = np.where(valid, x - np.nanmean(x[valid]) if valid.any() else x, 0.0)
        s1, s2 = centred.sum(axis=1), (centred**2).sum(axis=1)
        hi = np.where(valid, x, -np.inf).max(axis=1)
        lo = np.where(valid, x, np.inf).min(axis=1)
        return np.where(hi == lo, 0.0, np.maximum(2 * (m * s2 - s1**2), 0.0)), m  # unanimous: exactly 0
    coded = code_categories(x) if valid.any() else None
    if coded is None or len(coded.categories) > 64:
        return None
    counts = count_matrix(coded.codes, len(coded.categories))
    delta = metric_matrix(coded.categories, level)
    return ((counts @ delta) * counts).sum(axis=1), m


def item_disagreement(data: np.ndarray, *, level: str) -> np.ndarray:
    """Per item: mean pairwise difference of its ratings over the expected difference (NaN if unpairable).

    Example:
        >>> item_disagreement(np.array([[1, 1, 1], [1, 2, 3], [2, 2, np.nan], [3, np.nan, np.nan]]), level="nominal")
        array([0.        , 1.47368421, 0.        ,        nan])
    """
    x, _, _ = _level_values(np.asarray(data, dtype=float), level)
    vals = x[~np.isnan(x)]
    n_dot = vals.size
    if n_dot < 2:
        return np.full(len(x), np.nan)
    if level == "nominal":
        _, counts = np.unique(vals, return_counts=True)
        expected = (n_dot**2 - (counts**2).sum()) / (n_dot * (n_dot - 1))
    elif level == "ratio":
        uniq, counts = np.unique(vals, return_counts=True)
        expected = counts @ metric_matrix(uniq, "ratio") @ counts / (n_dot * (n_dot - 1))
    else:
        c = vals - vals.mean()
        expected = 2 * (n_dot * (c**2).sum() - c.sum() ** 2) / (n_dot * (n_dot - 1))
    out = np.full(len(x), np.nan)
    if expected <= 0:
        return out
    by_counts = _pair_sums_by_counts(x, level)
    if by_counts is not None:
        sums, m = by_counts
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(m >= 2, sums / (m * (m - 1)) / expected, np.nan)
    r = x.shape[1]
    block = max(1, 2_000_000 // max(r * r, 1))
    for start in range(0, len(x), block):
        xb = x[start : start + block]
        valid = ~np.isnan(xb)
        d = _delta(xb[:, :, None], xb[:, None, :], level)
        d = np.where(valid[:, :, None] & valid[:, None, :], d, 0.0)
        m = valid.sum(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start : start + block] = np.where(m >= 2, d.sum(axis=(1, 2)) / (m * (m - 1)) / expected, np.nan)
    return out


def item_diagnostics(
    data: np.ndarray,
    *,
    level: str,
    item_ids: list[str],
    rater_ids: list[str],
    show: Any = None,
    gold: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """Per-item disagreement with the ratings, worst first (unpairable items last).

    Args:
        data: ``(n_items, n_raters)`` ratings, NaN missing.
        level: level of measurement.
        item_ids: item names (rows).
        rater_ids: rater names (columns).
        show: maps a coded value to what the report shows (e.g. a label); default the number.
        gold: per-item gold value, coded like ``data``.
    """
    show = show or (lambda v: float(v))
    dis = item_disagreement(data, level=level)
    n_items = len(item_ids)
    order = np.lexsort((np.arange(n_items), -np.nan_to_num(dis), np.isnan(dis))).tolist()
    rated_all = ~np.isnan(data)
    flat = data[rated_all]  # row-major: each item's ratings together, in rater order
    values_seen = distinct(flat)
    shown = [show(v) for v in values_seen]  # show each value once
    values = list(map(shown.__getitem__, np.searchsorted(values_seen, flat).tolist()))
    counts = rated_all.sum(axis=1)
    bounds = np.concatenate(([0], np.cumsum(counts))).tolist()
    # the raters of each item, one tuple per distinct set of raters
    sets, set_of = _row_sets(rated_all)
    in_set = sets.sum(axis=1).tolist()
    names = list(map(rater_ids.__getitem__, np.nonzero(sets)[1].tolist()))  # row-major: each set's raters in order
    ends = np.cumsum(in_set).tolist()
    keys = list(map(tuple, map(names.__getitem__, map(slice, [0, *ends[:-1]], ends))))
    del flat
    with paused_gc():  # tens of thousands of dicts, no cycles: the collector's passes would cost more than them
        # each item's ratings as {rater: value}, built in C loops
        pieces = list(map(slice, bounds[:-1], bounds[1:]))
        ratings = list(map(dict, map(zip, map(keys.__getitem__, set_of), map(values.__getitem__, pieces))))
        del pieces, values
        counts_out = counts.tolist()
        dis_out = [v if ok else None for v, ok in zip(dis.tolist(), np.isfinite(dis).tolist(), strict=True)]
        out = [
            {"item_id": item_ids[i], "n_ratings": counts_out[i], "disagreement": dis_out[i], "ratings": ratings[i]}
            for i in order
        ]
    if gold is not None and (has_gold := np.flatnonzero(~np.isnan(gold))).size:
        position = np.empty(n_items, dtype=np.intp)
        position[order] = np.arange(n_items)
        for i in has_gold.tolist():
            entry, row, rated = out[position[i]], data[i], rated_all[i]
            entry["gold"] = show(gold[i])
            entry["gold_agreement"] = _f((row[rated] == gold[i]).mean()) if rated.any() else None
    return out


def _row_sets(mask: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """The distinct rows of a boolean matrix and the index of each row's one among them."""
    if mask.shape[1] <= 62:
        key = mask.astype(np.int64) @ (np.int64(1) << np.arange(mask.shape[1], dtype=np.int64))
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(mask, axis=0, return_index=True, return_inverse=True)
    return mask[first], inverse.reshape(-1).tolist()


# ---------------------------------------------------------------------------- drift
def _parse_time(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def _natural(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


def _periods(timestamps: list[list[str | None]], lines: np.ndarray, file: str | None) -> tuple[list[str | None], str]:
    """Each item's period (ISO week of its first rating, or its first batch label)."""
    seen = [(t, int(lines[i, j])) for i, row in enumerate(timestamps) for j, t in enumerate(row) if t is not None]
    parsed = {t: _parse_time(t) for t, _ in seen}
    dates = [t for t, p in parsed.items() if p is not None]
    if dates and len(dates) < len(parsed):
        bad, line = next((t, ln) for t, ln in seen if parsed[t] is None)
        raise InputError(
            f"timestamp {bad!r} is not an ISO 8601 date, while other timestamps are dates",
            file=file,
            line=line or None,
            field="timestamp",
        )
    mode = "week" if dates else "batch"
    out: list[str | None] = []
    for row in timestamps:
        stamps = [t for t in row if t is not None]
        if not stamps:
            out.append(None)
        elif mode == "week":
            first = min((parsed[t] for t in stamps), key=lambda d: d.timestamp())  # type: ignore[union-attr]
            year, week, _ = first.isocalendar()  # type: ignore[union-attr]
            out.append(f"{year}-W{week:02d}")
        else:
            out.append(min(stamps, key=_natural))
    return out, mode


def consensus_agreement(data: np.ndarray, j: int, level: str) -> float:
    """Krippendorff's alpha between rater ``j`` and the leave-one-out consensus of the others (NaN if undefined)."""
    x = data[:, j]
    cons = loo_consensus(data, j, level)
    both = ~np.isnan(x) & ~np.isnan(cons)
    if not both.any():
        return float("nan")
    return krippendorff_alpha(np.column_stack([x[both], cons[both]]), level=level)


def drift(
    data: np.ndarray,
    *,
    level: str,
    timestamps: list[list[str | None]],
    rater_ids: list[str],
    lines: np.ndarray,
    overall: float,
    bootstrap: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    file: str | None = None,
) -> dict[str, Any] | None:
    """Krippendorff's alpha per period (ISO week or batch); None when no rating has a timestamp."""
    if not any(map(any, timestamps)):  # timestamps are non-empty strings or None; C-speed scan
        return None
    periods, mode = _periods(timestamps, lines, file)
    labels = sorted({p for p in periods if p is not None}, key=_natural if mode == "batch" else str)
    rows = []
    for label in labels:
        idx = np.array([i for i, p in enumerate(periods) if p == label])
        sub = data[idx]
        stat = krippendorff_alpha_stat(sub, level=level)
        entry: dict[str, Any] = {
            "period": label,
            "n_items": len(idx),
            "n_ratings": int((~np.isnan(sub)).sum()),
            "krippendorff_alpha": None,
            "ci": None,
        }
        if bootstrap > 0:
            res = bootstrap_ci(stat, n_resamples=bootstrap, seed=seed, confidence=confidence)
            value, lo, hi = res.estimate, res.ci_low, res.ci_high
            entry["ci"] = [lo, hi] if np.isfinite(lo) and np.isfinite(hi) else None
        else:
            value = stat.value()
        entry["krippendorff_alpha"] = _f(value)
        if entry["krippendorff_alpha"] is None:
            entry["reason"] = stat.reason or "undefined for this period's ratings"
        entry["rater_consensus_agreement"] = {
            rater: _f(consensus_agreement(sub, j, level)) for j, rater in enumerate(rater_ids)
        }
        ci = entry["ci"]
        entry["below_overall"] = bool(ci is not None and np.isfinite(overall) and ci[1] < overall)
        rows.append(entry)
    undated = sum(p is None for p in periods)
    return {"by": mode, "periods": rows, "items_without_timestamp": undated}


# ---------------------------------------------------------------------------- pairwise A/B/tie
def _position(chose_first: np.ndarray) -> dict[str, Any] | None:
    n = int(chose_first.size)
    if n == 0:
        return None
    k = int(chose_first.sum())
    from scipy import stats  # only for pairwise A/B data: scipy's import is slow

    test = stats.binomtest(k, n, 0.5)
    ci = test.proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "n_decisive": n,
        "first_shown_wins": k,
        "rate": k / n,
        "ci": [float(ci.low), float(ci.high)],
        "p_value": float(test.pvalue),
        "biased": bool(test.pvalue < 0.05),
    }


def pairwise_summary(data: np.ndarray, *, shown_first: np.ndarray, rater_ids: list[str]) -> dict[str, Any]:
    """Choice shares, tie rate and position bias for A/B/tie codes (0 A, 1 B, 2 tie).

    Args:
        data: ``(n_items, n_raters)`` codes, NaN missing.
        shown_first: same shape: 0 when A was shown first, 1 when B was, -1 unknown.
        rater_ids: rater names.
    """
    rated = ~np.isnan(data)
    codes = np.where(rated, data, -1).astype(int)

    def shares(c: np.ndarray) -> dict[str, Any]:
        n = int(c.size)
        counts = {name: int((c == k).sum()) for k, name in enumerate(("A", "B", "tie"))}
        return {"n": n, "counts": counts, "tie_rate": counts["tie"] / n if n else None}

    known = rated & (shown_first >= 0) & (codes < 2)
    out: dict[str, Any] = shares(codes[rated])
    out["position_bias"] = _position((codes == shown_first)[known])
    if out["position_bias"] is None:
        out["position_bias_reason"] = "no decisive rating has a recorded shown_order"
    out["raters"] = []
    for j, rater in enumerate(rater_ids):
        entry = {"rater_id": rater, **shares(codes[rated[:, j], j])}
        entry["position_bias"] = _position((codes[:, j] == shown_first[:, j])[known[:, j]])
        out["raters"].append(entry)
    return out
