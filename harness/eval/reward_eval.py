"""Reward-model evaluation on held-out preference pairs (``harness rm-eval``; ``harness.reward_eval/v1``).

- **Accuracy**: the share of pairs where the chosen response gets the higher reward (a tie counts
  as wrong, as in RewardBench), with a Wilson interval; ``n`` is the number of pairs. Pairs from
  several raters' rankings of the same responses each count (they are separate judgements, not
  independent draws: the interval is then optimistic, and the document says so).
- **By category** when the data has a ``category`` field: the same per category (RewardBench's
  report shape: a section per category, each accuracy with its n).
- **Calibration** of ``P(chosen ≻ rejected) = σ(r_chosen - r_rejected)`` (the Bradley-Terry
  probability the model was trained on): each pair is a prediction with confidence
  ``max(p, 1 - p)`` that is correct when ``p > 0.5``; the reliability diagram bins confidence
  over [0.5, 1] and ECE = Σ_b (n_b / n) |accuracy_b - confidence_b|.
- **Agreement** with people: each response pair is an item; a rater's label is which response
  they ranked higher (``A`` = the first of the two in a fixed order, ``B``, or ``tie``), the
  model's label the same from its rewards. Cohen's kappa (with its Fleiss-Cohen-Everitt interval)
  and percent agreement of the model with each rater and with the raters' majority (consensus;
  items without a majority left out), computed by :mod:`harness.agreement`; Krippendorff's alpha
  among the people gives the ceiling to compare with.
- **Gate**: ``min_accuracy`` v (the rule ``reward-model accuracy at least v``): pass when the
  interval's lower bound is at least v, fail when its upper bound is below v, else inconclusive.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from harness.stats.intervals import wilson_interval

__all__ = ["SCHEMA", "PairJudgement", "accuracy_entry", "accuracy_gate", "reliability", "reward_eval_document"]

SCHEMA = "harness.reward_eval/v1"
N_BINS = 5


class PairJudgement(NamedTuple):
    """One held-out pair with the model's rewards: who preferred what, and the rewards."""

    item: str  # the response pair (same id whoever judged it)
    chosen_is_a: bool  # the chosen response is the pair's first ('A') response
    tie: bool  # the rater tied the two (not counted in accuracy)
    chosen_reward: float
    rejected_reward: float
    rater_id: str | None = None
    category: str | None = None


def _f(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def accuracy_entry(correct: Sequence[bool], *, confidence: float = 0.95) -> dict[str, Any]:
    """Accuracy with its Wilson interval and n (value and interval null when n = 0).

    Example:
        >>> e = accuracy_entry([True] * 8 + [False] * 2)
        >>> e["value"], [round(x, 4) for x in e["ci"]], e["n"]
        (0.8, [0.4902, 0.9433], 10)
    """
    n = len(correct)
    if n == 0:
        return {"value": None, "ci": None, "n": 0, "reason": "no pairs"}
    k = int(sum(correct))
    lo, hi = wilson_interval(k, n, confidence=confidence)
    return {"value": k / n, "ci": [lo, hi], "n": n, "correct": k, "interval": "Wilson"}


def accuracy_gate(entry: dict[str, Any], min_accuracy: float) -> dict[str, Any]:
    """The rule 'reward-model accuracy at least v' on an accuracy entry.

    Example:
        >>> accuracy_gate({"value": 0.9, "ci": [0.8, 0.95], "n": 50}, 0.7)["verdict"]
        'pass'
    """
    rule = {"criterion": "reward_model_accuracy", "require": "at_least", "value": min_accuracy}
    if entry.get("ci") is None:
        return {**rule, "verdict": "inconclusive", "reason": "no held-out pairs: accuracy is undefined"}
    lo, hi = entry["ci"]
    if lo >= min_accuracy:
        return {**rule, "verdict": "pass", "reason": f"the interval's lower bound {lo:.3f} is at least {min_accuracy}"}
    if hi < min_accuracy:
        return {**rule, "verdict": "fail", "reason": f"the interval's upper bound {hi:.3f} is below {min_accuracy}"}
    return {**rule, "verdict": "inconclusive", "reason": f"the interval [{lo:.3f}, {hi:.3f}] straddles {min_accuracy}"}


def reliability(p_chosen: Sequence[float], *, n_bins: int = N_BINS) -> dict[str, Any]:
    """Reliability bins and expected calibration error of pairwise win probabilities.

    Example:
        >>> r = reliability([0.9, 0.9, 0.9, 0.9, 0.2])  # 4 right at 0.9, 1 wrong at confidence 0.8
        >>> round(r["ece"], 4)
        0.24
    """
    p = np.asarray(p_chosen, dtype=float)
    conf = np.maximum(p, 1 - p)
    correct = (p > 0.5).astype(float)
    edges = np.linspace(0.5, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        sel = idx == b
        n = int(sel.sum())
        entry: dict[str, Any] = {"lo": float(edges[b]), "hi": float(edges[b + 1]), "n": n}
        if n:
            acc, c = float(correct[sel].mean()), float(conf[sel].mean())
            entry.update(accuracy=acc, confidence=c)
            ece += n / len(p) * abs(acc - c)
        bins.append(entry)
    return {
        "ece": ece if len(p) else None,
        "n": len(p),
        "bins": bins,
        "definition": "confidence max(p, 1-p) of p = sigmoid(r_chosen - r_rejected), correct when p > 0.5; "
        f"{n_bins} equal bins over [0.5, 1]",
    }


def _labels(judgements: Sequence[PairJudgement]) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per-rater and model labels of each item: 'A', 'B' or 'tie'."""
    people: dict[str, dict[str, str]] = defaultdict(dict)
    model: dict[str, str] = {}
    for j in judgements:
        r_a, r_b = (j.chosen_reward, j.rejected_reward) if j.chosen_is_a else (j.rejected_reward, j.chosen_reward)
        model[j.item] = "A" if r_a > r_b else "B" if r_b > r_a else "tie"
        people[j.rater_id or "(no rater)"].setdefault(j.item, "tie" if j.tie else ("A" if j.chosen_is_a else "B"))
    return people, model


def _kappa(model: dict[str, str], human: dict[str, str], confidence: float) -> dict[str, Any]:
    from harness.agreement import cohen_kappa_se

    items = sorted(set(model) & set(human))
    cats = ["A", "B", "tie"]
    a = [cats.index(model[i]) for i in items]
    b = [cats.index(human[i]) for i in items]
    if not items:
        return {"n": 0, "cohen_kappa": None, "percent_agreement": None, "reason": "no item judged by both"}
    res = cohen_kappa_se(a, b, labels=[0, 1, 2], confidence=confidence)
    return {
        "n": len(items),
        "percent_agreement": float(np.mean(np.array(a) == np.array(b))),
        "cohen_kappa": _f(res.value),
        "ci": [_f(res.ci_low), _f(res.ci_high)] if _f(res.value) is not None else None,
    }


def agreement_section(judgements: Sequence[PairJudgement], *, confidence: float = 0.95) -> dict[str, Any]:
    """Agreement of the model with each rater, with their consensus, and among the raters."""
    from harness.agreement import krippendorff_alpha

    people, model = _labels(judgements)
    raters = {r: _kappa(model, labels, confidence) for r, labels in sorted(people.items())}
    consensus: dict[str, str] = {}
    for item in model:
        votes = Counter(labels[item] for labels in people.values() if item in labels)
        top = votes.most_common(2)
        if top and (len(top) == 1 or top[0][1] > top[1][1]):
            consensus[item] = top[0][0]
    out: dict[str, Any] = {
        "labels": "per response pair: A (first response preferred), B, or tie",
        "raters": raters,
        "consensus": {**_kappa(model, consensus, confidence), "rule": "majority of the raters; no majority: left out"},
    }
    if len(people) >= 2:
        items = sorted(model)
        cats = ["A", "B", "tie"]
        mat = np.array([[cats.index(p[i]) if i in p else np.nan for p in people.values()] for i in items], dtype=float)
        out["among_raters"] = {
            "krippendorff_alpha": _f(krippendorff_alpha(mat, level="nominal")),
            "n_items": len(items),
        }
    return out


def reward_eval_document(
    judgements: Sequence[PairJudgement],
    *,
    model: dict[str, Any],
    data: dict[str, Any],
    min_accuracy: float | None = None,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The ``harness.reward_eval/v1`` document from judged pairs (see the module docstring)."""
    scored = [j for j in judgements if not j.tie]
    correct = [j.chosen_reward > j.rejected_reward for j in scored]
    acc = accuracy_entry(correct, confidence=confidence)
    by_cat: dict[str, list[bool]] = defaultdict(list)
    for j, c in zip(scored, correct, strict=True):
        if j.category is not None:
            by_cat[j.category].append(c)
    probs = [1 / (1 + math.exp(-(j.chosen_reward - j.rejected_reward))) for j in scored]
    raters = {j.rater_id for j in scored}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "model": model,
        "data": data,
        "accuracy": {
            **acc,
            "definition": "share of pairs with r(chosen) > r(rejected); a reward tie counts as wrong",
            "note": "pairs from several raters of the same responses count separately; the interval treats "
            "them as independent"
            if len(raters) > 1
            else None,
        },
        "by_category": {c: accuracy_entry(v, confidence=confidence) for c, v in sorted(by_cat.items())},
        "calibration": reliability(probs),
        "agreement": agreement_section(judgements, confidence=confidence),
        "ties_in_data": sum(j.tie for j in judgements),
        "confidence": confidence,
    }
    if min_accuracy is not None:
        doc["gate"] = accuracy_gate(acc, min_accuracy)
    doc["verdict"] = doc["gate"]["verdict"] if "gate" in doc else None
    return doc


def _pair_rows(path: Any, *, scheme: str, format: str | None) -> tuple[list[dict[str, Any]], int, bool]:
    """The pairs of a preference or rankings file, the number of records, and whether they were rankings.

    Raises:
        InputError: a bad row (file, line, field) or no pair in the file.
    """
    from harness.errors import InputError
    from harness.rankings import ranking_pairs
    from harness.records import PreferenceRecord, RankingRecord, RowProblem, iter_records

    records = []
    for item in iter_records(path, format=format):
        if isinstance(item, RowProblem):
            raise InputError(item.message, file=path, line=item.line, field=item.field)
        records.append(item)
    rankings = [r for r in records if isinstance(r, RankingRecord)]
    rows: list[dict[str, Any]]
    if rankings:
        rows = ranking_pairs(rankings, scheme=scheme, ties="margin0", file=path).pairs
    else:
        rows = [
            {
                "prompt": r.prompt,
                "chosen": r.chosen,
                "rejected": r.rejected,
                "tie": False,
                "rater_id": (r.model_extra or {}).get("rater_id"),
                "category": (r.model_extra or {}).get("category"),
            }
            for r in records
            if isinstance(r, PreferenceRecord)
        ]
    if not rows:
        raise InputError("no preference pairs or rankings to evaluate on", file=path)
    return rows, len(records), bool(rankings)


def _key(value: Any) -> str:
    """A text or a conversation as one hashable string."""
    import json

    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _rewards(rows: Sequence[dict[str, Any]], score: Any) -> dict[tuple[str, str], Any]:
    """The reward of every distinct (prompt, response) of the pairs, each scored once."""
    texts: dict[tuple[str, str], tuple[Any, Any]] = {}
    for r in rows:
        for side in ("chosen", "rejected"):
            texts.setdefault((_key(r["prompt"]), _key(r[side])), (r["prompt"], r[side]))
    keys = list(texts)
    return dict(zip(keys, score([texts[k][0] for k in keys], [texts[k][1] for k in keys]), strict=True))


def _judgement(row: dict[str, Any], rewards: dict[tuple[str, str], Any]) -> PairJudgement:
    """One pair as judged: its item (the prompt and both responses, in a fixed order) and both rewards."""
    from harness.records import message_text
    from harness.text import digest, normalize

    p = _key(row["prompt"])
    dc, dr = (digest(normalize(message_text(row[s]))) for s in ("chosen", "rejected"))
    first, second = sorted((dc, dr))
    return PairJudgement(
        item=digest(normalize(message_text(row["prompt"])), first.hex(), second.hex()).hex(),
        chosen_is_a=dc == first,
        tie=bool(row.get("tie")),
        chosen_reward=float(rewards[(p, _key(row["chosen"]))]),
        rejected_reward=float(rewards[(p, _key(row["rejected"]))]),
        rater_id=row.get("rater_id"),
        category=row.get("category"),
    )


def judge_pairs(
    path: Any, score: Any, *, scheme: str = "all", format: str | None = None
) -> tuple[list[PairJudgement], dict[str, Any]]:
    """Read held-out pairs (a preference or rankings file) and score both sides of each.

    Args:
        path: preference records (``prompt, chosen, rejected`` and optional ``category``,
            ``rater_id``) or rankings (converted with ``scheme``, ties kept as ties).
        score: ``score(prompts, responses) -> rewards`` (e.g. :meth:`RewardModel.score`).
        scheme: pairs from rankings: ``all`` or ``adjacent``.
        format: force the file format.

    Returns:
        The judged pairs and a description of the data for the document.

    Raises:
        InputError: a bad row (file, line, field) or no pair in the file.
    """
    rows, n_records, from_rankings = _pair_rows(path, scheme=scheme, format=format)
    rewards = _rewards(rows, score)
    out = [_judgement(r, rewards) for r in rows]
    data = {
        "file": str(path),
        "kind": "ranking" if from_rankings else "preference",
        "n_records": n_records,
        "n_pairs": len(out),
        "pairs_from_rankings": {"scheme": scheme, "ties": "kept as ties (not in accuracy)"} if from_rankings else None,
    }
    return out, data


def plot_reliability(calibration: dict[str, Any], path: Any, *, title: str) -> bool:
    """Draw the reliability diagram as a PNG; False when there is nothing to draw."""
    import io

    bins = [b for b in calibration["bins"] if b["n"]]
    if not bins:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from harness.files import write_atomic

    fig, ax = plt.subplots(figsize=(4.8, 4.2), dpi=100)
    ax.plot([0.5, 1], [0.5, 1], "--", color="grey", linewidth=1, label="perfect calibration")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label="reward model")
    for b in bins:
        ax.annotate(
            str(b["n"]), (b["confidence"], b["accuracy"]), textcoords="offset points", xytext=(4, 4), fontsize=8
        )
    ax.set_xlabel("confidence max(p, 1-p), p = σ(r_chosen − r_rejected)")
    ax.set_ylabel("accuracy")
    ece = calibration["ece"]
    ax.set_title(f"{title} (ECE {ece:.3f})" if ece is not None else title, fontsize=10)
    ax.set_xlim(0.5, 1.0)
    ax.set_ylim(0.0, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_atomic(path, buf.getvalue())
    return True


def render_markdown(doc: dict[str, Any]) -> str:
    """The reward-model evaluation as Markdown."""

    def num(x: Any, d: int = 3) -> str:
        return "n/a" if x is None else f"{x:.{d}f}"

    def ci(c: Any) -> str:
        return "n/a" if not c or c[0] is None else f"[{c[0]:.3f}, {c[1]:.3f}]"

    acc = doc["accuracy"]
    out = [
        f"# Reward model evaluation: `{doc['model'].get('path')}`",
        "",
        f"Data: `{doc['data']['file']}` ({doc['data']['kind']}, {doc['data']['n_pairs']} pairs).",
        "",
        f"**Accuracy {num(acc['value'])}** (Wilson {round(doc['confidence'] * 100)}% CI {ci(acc['ci'])}, "
        f"n = {acc['n']}).",
    ]
    if acc.get("note"):
        out.append(f"_{acc['note']}._")
    if doc.get("gate"):
        g = doc["gate"]
        out += ["", f"Gate: reward-model accuracy at least {g['value']}: **{g['verdict']}** ({g['reason']})."]
    if doc["by_category"]:
        out += ["", "| category | accuracy | CI | n |", "| --- | --- | --- | --- |"]
        for c, e in doc["by_category"].items():
            out.append(f"| {c} | {num(e['value'])} | {ci(e['ci'])} | {e['n']} |")
    cal = doc["calibration"]
    out += [
        "",
        f"Calibration: ECE {num(cal['ece'])} ({cal['definition']}).",
        "",
        "| bin | n | accuracy | confidence |",
        "| --- | --- | --- | --- |",
    ]
    for b in cal["bins"]:
        out.append(
            f"| {b['lo']:.1f}-{b['hi']:.1f} | {b['n']} | {num(b.get('accuracy'))} | {num(b.get('confidence'))} |"
        )
    ag = doc["agreement"]
    out += [
        "",
        "Agreement with people (Cohen's kappa on A/B/tie per response pair):",
        "",
        "| with | n | kappa | CI | % agreement |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r, e in [*ag["raters"].items(), ("consensus", ag["consensus"])]:
        out.append(f"| {r} | {e['n']} | {num(e['cohen_kappa'])} | {ci(e.get('ci'))} | {num(e['percent_agreement'])} |")
    if "among_raters" in ag:
        out.append(
            f"\nAmong the raters: Krippendorff's alpha (nominal) {num(ag['among_raters']['krippendorff_alpha'])}."
        )
    return "\n".join(out) + "\n"
