"""Reward-model evaluation: accuracy and its interval, calibration, agreement, the gate, pairs from files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.proportion import proportion_confint

from harness.eval.reward_eval import (
    PairJudgement,
    accuracy_entry,
    accuracy_gate,
    judge_pairs,
    reliability,
    reward_eval_document,
)

ROOT = Path(__file__).parent.parent


@settings(max_examples=40, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=200))
def test_accuracy_interval_is_statsmodels_wilson(correct):
    e = accuracy_entry(correct)
    lo, hi = proportion_confint(sum(correct), len(correct), alpha=0.05, method="wilson")
    assert e["value"] == pytest.approx(sum(correct) / len(correct))
    assert e["ci"] == pytest.approx([lo, hi], abs=1e-12) and e["n"] == len(correct)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=100), st.integers(1, 10))
def test_ece_against_a_direct_computation(p, n_bins):
    r = reliability(p, n_bins=n_bins)
    conf = [max(x, 1 - x) for x in p]
    right = [x > 0.5 for x in p]
    ece = 0.0
    for b in range(n_bins):
        lo, hi = 0.5 + b * 0.5 / n_bins, 0.5 + (b + 1) * 0.5 / n_bins
        members = [i for i, c in enumerate(conf) if lo <= c < hi or (b == n_bins - 1 and c >= hi)]
        if members:
            acc = sum(right[i] for i in members) / len(members)
            ece += len(members) / len(p) * abs(acc - sum(conf[i] for i in members) / len(members))
    assert r["ece"] == pytest.approx(ece, abs=1e-9)
    assert sum(b["n"] for b in r["bins"]) == len(p)


def test_gate_rule_reward_model_accuracy_at_least():
    assert accuracy_gate(accuracy_entry([True] * 95 + [False] * 5), 0.8)["verdict"] == "pass"
    assert accuracy_gate(accuracy_entry([True] * 5 + [False] * 95), 0.8)["verdict"] == "fail"
    assert accuracy_gate(accuracy_entry([True] * 8 + [False] * 2), 0.8)["verdict"] == "inconclusive"
    assert accuracy_gate(accuracy_entry([]), 0.8)["verdict"] == "inconclusive"  # no data never passes


def _judgements(rng: np.random.Generator, n_items: int, raters: list[str]) -> list[PairJudgement]:
    out = []
    truth = rng.random(n_items) < 0.5  # which response is better
    rewards = rng.normal(size=(n_items, 2))
    for i in range(n_items):
        for r in raters:
            a_wins = truth[i] if rng.random() < 0.8 else not truth[i]
            ra, rb = rewards[i]
            cr, rr = (ra, rb) if a_wins else (rb, ra)
            out.append(PairJudgement(f"i{i}", bool(a_wins), False, float(cr), float(rr), r, "c1" if i % 3 else "c2"))
    return out


def test_agreement_with_each_rater_and_consensus_is_sklearn_kappa():
    rng = np.random.default_rng(3)
    js = _judgements(rng, 60, ["r1", "r2", "r3"])
    doc = reward_eval_document(js, model={"path": "m"}, data={"file": "f"}, min_accuracy=0.5)
    model = {j.item: "A" if (j.chosen_reward > j.rejected_reward) == j.chosen_is_a else "B" for j in js}
    for rater in ("r1", "r2", "r3"):
        human = {j.item: "A" if j.chosen_is_a else "B" for j in js if j.rater_id == rater}
        items = sorted(human)
        ref = cohen_kappa_score([model[i] for i in items], [human[i] for i in items])
        assert doc["agreement"]["raters"][rater]["cohen_kappa"] == pytest.approx(ref, abs=1e-12)
    votes = {}
    for j in js:
        votes.setdefault(j.item, []).append("A" if j.chosen_is_a else "B")
    cons = {i: max(set(v), key=v.count) for i, v in votes.items()}
    items = sorted(cons)
    ref = cohen_kappa_score([model[i] for i in items], [cons[i] for i in items])
    assert doc["agreement"]["consensus"]["cohen_kappa"] == pytest.approx(ref, abs=1e-12)
    assert doc["agreement"]["among_raters"]["krippendorff_alpha"] is not None
    correct = [j.chosen_reward > j.rejected_reward for j in js]
    assert doc["accuracy"]["n"] == len(js) and doc["accuracy"]["value"] == pytest.approx(np.mean(correct))
    assert set(doc["by_category"]) == {"c1", "c2"}
    assert sum(e["n"] for e in doc["by_category"].values()) == len(js)
    json.dumps(doc, allow_nan=False)


def test_judge_pairs_from_the_bundled_rankings_with_a_fake_scorer():
    # A scorer that prefers bare JSON objects: it should rank the example's responses mostly right.
    def score(prompts, responses):
        return [float(r.strip().startswith("{") and r.strip().endswith("}")) + 0.01 * len(r) for r in responses]

    js, data = judge_pairs(ROOT / "examples" / "rankings_eval.jsonl", score)
    assert data["kind"] == "ranking" and data["n_pairs"] == len(js) > 0
    doc = reward_eval_document(js, model={"path": "fake"}, data=data)
    assert set(doc["agreement"]["raters"]) >= {"ana"}
    assert doc["accuracy"]["value"] > 0.5 and doc["by_category"]
