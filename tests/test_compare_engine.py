"""compare_runs on constructed runs: pairing, exclusions, rules, Holm, verdicts, repeats, leakage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats as sps
import statsmodels.formula.api as smf
from fixtures.runs import binary_rubric, make_run
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.compare import LeakageInfo, mcnemar_exact, paired_bootstrap, variance_split
from harness.errors import ConfigError, InputError
from harness.gate import compare_runs, gate_result, policy_from_gate
from harness.stats.bootstrap import stable_seed


def _policy(*rules: dict, **kw) -> object:
    return policy_from_gate({"rules": list(rules), **kw})


def _binary_pair(n: int = 60, fix: float = 0.35, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = (rng.random(n) < 0.45).astype(float)
    cand = np.where(rng.random(n) < fix, 1.0, base)
    return base, cand


def test_items_pair_by_id_and_unmatched_are_excluded() -> None:
    base = make_run({"acc": [1, 0, 1, 0]}, ids=["a", "b", "c", "d"])
    cand = make_run({"acc": [1, 1, 1, 0]}, ids=["b", "c", "d", "e"])
    cand.items[2].prompt = "a different prompt"  # "d": same id, other prompt
    comp = compare_runs(base, cand, _policy({"criterion": "acc", "require": "improvement"}))
    reasons = {(e.id, e.reason) for e in comp.excluded}
    assert reasons == {("a", "only_in_base"), ("e", "only_in_candidate"), ("d", "prompt_differs")}
    assert comp.n_paired == 2
    s = comp.criteria["acc"]
    assert (s.base_mean, s.candidate_mean, s.delta) == (0.5, 1.0, 0.5)  # items b and c


def test_criterion_statistics_match_independent_computation() -> None:
    base, cand = _binary_pair(80, seed=4)
    comp = compare_runs(make_run({"acc": base}, rubric=binary_rubric("acc")),
                        make_run({"acc": cand}, rubric=binary_rubric("acc")),
                        _policy({"criterion": "acc", "require": "improvement"}))
    s = comp.criteria["acc"]
    assert s.binary and s.n == 80
    table = [[int(np.sum((base == 1) & (cand == 1))), int(np.sum((base == 1) & (cand == 0)))],
             [int(np.sum((base == 0) & (cand == 1))), int(np.sum((base == 0) & (cand == 0)))]]
    assert s.p_value == pytest.approx(float(mcnemar(table, exact=True).pvalue))
    assert s.counts["fixed"] == table[1][0] and s.counts["broken"] == table[0][1]
    assert s.counts["unchanged"] == table[0][0] + table[1][1]
    boot = paired_bootstrap(base, cand, seed=stable_seed(0, "demo", "acc", "delta"))
    assert s.ci == list(boot.interval(0.95))
    assert s.delta == pytest.approx(cand.mean() - base.mean())


def test_unscored_items_are_counted_not_zero() -> None:
    base = make_run({"acc": [1, None, 0, 1, 0, 1]})
    cand = make_run({"acc": [1, 1, None, 1, 1, 1]})
    comp = compare_runs(base, cand, _policy({"criterion": "acc", "require": "at_least", "value": 0.5}))
    assert comp.criteria["acc"].n == 4 and comp.criteria["acc"].n_unscored == 2
    assert comp.rules[0].n == 4


def test_rule_over_no_scored_items_is_inconclusive() -> None:
    base = make_run({"acc": [None, None, None]})
    cand = make_run({"acc": [1.0, 1.0, 1.0]})
    comp = compare_runs(base, cand, _policy({"criterion": "acc", "require": "no_new_failures", "max": 0},
                                            {"criterion": "acc", "require": "at_least", "value": 0.0}))
    assert [r.verdict for r in comp.rules] == ["inconclusive", "inconclusive"]
    assert comp.verdict == "inconclusive" and gate_result([comp]).exit_code == 3


def test_clear_regression_fails_and_exit_code_is_1() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.6, 1.0, 100)
    cand = base - rng.uniform(0.1, 0.3, 100)
    comp = compare_runs(make_run({"q": base}), make_run({"q": cand}),
                        _policy({"criterion": "q", "require": "no_regression", "margin": 0.02}))
    r = comp.rules[0]
    assert r.verdict == "fail" and r.ci[1] < -0.02
    assert gate_result([comp]).exit_code == 1


def test_clear_improvement_passes_every_rule_kind() -> None:
    n = 120
    base = np.r_[np.ones(40), np.zeros(80)]
    cand = np.r_[np.ones(40), np.ones(60), np.zeros(20)]
    comp = compare_runs(
        make_run({"acc": base}, rubric=binary_rubric("acc")),
        make_run({"acc": cand}, rubric=binary_rubric("acc")),
        _policy(
            {"criterion": "acc", "require": "improvement"},
            {"criterion": "acc", "require": "no_regression", "margin": 0.0},
            {"criterion": "acc", "require": "at_least", "value": 0.7},
            {"criterion": "acc", "require": "no_new_failures", "max": 0},
        ),
    )
    assert [r.verdict for r in comp.rules] == ["pass"] * 4, [r.reason for r in comp.rules]
    assert comp.rules[0].p_method == "mcnemar_exact" and comp.rules[2].p_method == "binomial_exact"
    assert comp.rules[3].p_value is None and comp.rules[3].estimate == 0
    assert comp.verdict == "pass" and comp.n_paired == n


def test_holm_adjusts_across_the_counted_rules_and_can_withhold_a_pass() -> None:
    base = np.zeros(60)
    cand = np.r_[np.ones(6), np.zeros(54)]  # 6 fixed, 0 broken: McNemar p = 2/64
    other = np.random.default_rng(0).uniform(0.4, 0.6, 60)
    pol = _policy(
        {"criterion": "acc", "require": "improvement"},
        {"criterion": "q", "require": "no_regression", "margin": 0.05},
        {"criterion": "q", "require": "at_least", "value": 0.5},
    )
    comp = compare_runs(make_run({"acc": base, "q": other}, rubric=binary_rubric("acc")),
                        make_run({"acc": cand, "q": other + 0.001}, rubric=binary_rubric("acc")), pol)
    raw = [r.p_value for r in comp.rules]
    np.testing.assert_allclose([r.p_value_holm for r in comp.rules], multipletests(raw, method="holm")[1])
    acc = comp.rules[0]
    assert acc.p_value == pytest.approx(2 / 64)
    assert acc.ci[0] > 0  # the interval alone would pass
    assert acc.verdict == "inconclusive" and "Holm" in acc.reason
    alone = compare_runs(make_run({"acc": base}, rubric=binary_rubric("acc")),
                         make_run({"acc": cand}, rubric=binary_rubric("acc")),
                         _policy({"criterion": "acc", "require": "improvement"}))
    assert alone.rules[0].verdict == "pass"  # one test: no correction, p = 0.031 < 0.05


def test_degenerate_bootstrap_gets_the_exact_interval_and_agrees_with_mcnemar() -> None:
    """3 of 3 items fixed: the bootstrap alone says Δ = 1 for sure; the exact interval and McNemar say p = 0.25."""
    base = np.zeros(3)
    cand = np.ones(3)
    comp = compare_runs(make_run({"acc": base}, rubric=binary_rubric("acc")),
                        make_run({"acc": cand}, rubric=binary_rubric("acc")),
                        _policy({"criterion": "acc", "require": "improvement"}))
    r = comp.rules[0]
    share = sps.binomtest(0, 3).proportion_ci(confidence_level=0.95, method="exact").high
    assert r.ci == pytest.approx([1.0 - 2.0 * share, 1.0])
    assert r.p_value == pytest.approx(mcnemar_exact(base, cand).p_value) == 0.25
    assert r.verdict == "inconclusive" and comp.criteria["acc"].degenerate


@pytest.mark.parametrize(("n", "verdict"), [(8, "inconclusive"), (40, "pass")])
def test_identical_runs_prove_no_regression_only_with_enough_items(n: int, verdict: str) -> None:
    """No item changed: Δ lies within ±(upper bound of the share of items that could change)."""
    vals = np.r_[np.ones(n // 2), np.zeros(n - n // 2)]
    comp = compare_runs(make_run({"acc": vals}, rubric=binary_rubric("acc")),
                        make_run({"acc": vals}, rubric=binary_rubric("acc")),
                        _policy({"criterion": "acc", "require": "no_regression", "margin": 0.1}))
    share = sps.binomtest(0, n).proportion_ci(confidence_level=0.95, method="exact").high
    assert comp.rules[0].ci == pytest.approx([-share, share])
    assert comp.rules[0].verdict == verdict


def test_overall_is_the_weighted_score_when_the_run_has_none() -> None:
    rubric = binary_rubric("a", "b")
    rubric["criteria"][1]["weight"] = 3.0
    base = make_run({"a": [1, 0, 1, 0], "b": [0, 0, 1, 1]}, rubric=rubric)
    cand = make_run({"a": [1, 1, 1, 0], "b": [1, 0, 1, 1]}, rubric=rubric)
    comp = compare_runs(base, cand, _policy({"criterion": "overall", "require": "no_regression", "margin": 0.1}))
    o = comp.criteria["overall"]
    assert o.base_mean == pytest.approx(np.mean([0.25, 0, 1, 0.75]))
    assert o.candidate_mean == pytest.approx(np.mean([1, 0.25, 1, 0.75]))


def test_unknown_criterion_names_policy_key_with_suggestion() -> None:
    run = make_run({"accuracy": [1, 0]})
    pol = policy_from_gate({"rules": [{"criterion": "acuracy", "require": "improvement"}]}, source="gate.yaml")
    with pytest.raises(ConfigError) as err:
        compare_runs(run, run, pol)
    assert err.value.field == "rules[0].criterion" and "Did you mean 'accuracy'" in str(err.value)
    assert err.value.file == "gate.yaml"


def test_runs_of_different_suites_are_refused() -> None:
    with pytest.raises(InputError, match="suite"):
        compare_runs(make_run({"a": [1, 0]}, suite="x"), make_run({"a": [1, 0]}, suite="y"))


def test_duplicate_item_ids_are_refused() -> None:
    with pytest.raises(InputError, match="appears twice"):
        compare_runs(make_run({"a": [1, 0]}, ids=["x", "x"]), make_run({"a": [1, 0]}, ids=["x", "y"]))


def test_policy_defaults_to_the_suite_gate_block_and_empty_policy_is_inconclusive() -> None:
    gate = [{"criterion": "a", "require": "no_new_failures"}]
    comp = compare_runs(make_run({"a": [1, 1]}), make_run({"a": [1, 1]}, gate=gate))
    assert [r.label for r in comp.rules] == ["a no_new_failures (max 0)"] and comp.verdict == "pass"
    empty = compare_runs(make_run({"a": [1, 1]}), make_run({"a": [1, 1]}))
    assert empty.rules == [] and empty.verdict == "inconclusive"


def test_leaked_items_are_excluded_shown_both_ways_and_fail_the_gate() -> None:
    n = 40
    base = np.zeros(n)
    cand = np.r_[np.ones(10), np.zeros(n - 10)]  # the first 10 are leaked: memorised, "fixed"
    ids = [f"i{k}" for k in range(n)]
    leak = LeakageInfo(checked=True, train_data=["train.jsonl"], leaked_ids=ids[:10])
    pol = _policy({"criterion": "acc", "require": "improvement"})
    runs = (make_run({"acc": base}, ids=ids, rubric=binary_rubric("acc")),
            make_run({"acc": cand}, ids=ids, rubric=binary_rubric("acc")))
    comp = compare_runs(*runs, pol, leakage=leak)
    assert comp.n_paired == 30 and sum(e.reason == "leaked" for e in comp.excluded) == 10
    assert comp.criteria["acc"].delta == 0.0  # without the leaked items nothing improved
    assert comp.with_leaked is not None and comp.with_leaked["criteria"]["acc"]["delta"] == pytest.approx(0.25)
    assert comp.with_leaked["rules"][0]["verdict"] == "pass"  # leaked items would have passed it
    leak_rule = comp.rules[-1]
    assert leak_rule.criterion == "leakage" and leak_rule.verdict == "fail" and comp.verdict == "fail"
    allowed = compare_runs(*runs, pol, leakage=leak.model_copy(update={"allowed": True}))
    assert allowed.rules[-1].verdict == "pass" and allowed.verdict != "fail"
    clean = compare_runs(*runs, pol, leakage=LeakageInfo(checked=True, train_data=["t.jsonl"]))
    assert clean.rules[-1].verdict == "pass" and clean.with_leaked is None


def test_changes_list_both_outputs() -> None:
    base = make_run({"acc": [0, 1, 1]}, outputs=["wrong", "right", "right"])
    cand = make_run({"acc": [1, 0, 1]}, outputs=["right", "wrong", "right"])
    comp = compare_runs(base, cand, _policy({"criterion": "acc", "require": "no_new_failures"}))
    by = {c.id: c for c in comp.changes}
    assert "acc" in by["item-000"].fixed and by["item-000"].base_output == "wrong"
    assert "acc" in by["item-001"].broken and by["item-001"].candidate_output == "wrong"
    assert "item-002" not in by
    assert comp.changes[0].id == "item-001"  # broken first


# ------------------------------------------------------------------------------------------ repeats
def _nested_frame(rows: list[tuple[str, str, float]]) -> tuple[float, float, float]:
    """Nested ANOVA from two OLS fits (statsmodels): items only, then output groups within items.

    Returns (MS between outputs within items, MS residual, df between outputs within items).
    """
    df = pd.DataFrame(rows, columns=["item", "output", "score"])
    df["group"] = df["item"] + "|" + df["output"]
    by_item = smf.ols("score ~ C(item)", data=df).fit()
    by_group = smf.ols("score ~ C(group)", data=df).fit()
    df_nest = by_item.df_resid - by_group.df_resid
    ms_nest = (by_item.ssr - by_group.ssr) / df_nest
    return float(ms_nest), float(by_group.ssr / by_group.df_resid), float(df_nest)


def test_variance_split_matches_nested_anova() -> None:
    rng = np.random.default_rng(3)
    attempts, rows = [], []
    for i in range(25):
        item_effect = rng.normal(0.5, 0.2)
        outs = []
        for o in range(rng.integers(1, 4)):
            gen_effect = rng.normal(0, 0.1)
            for _ in range(rng.integers(1, 4)):
                s = item_effect + gen_effect + rng.normal(0, 0.05)
                outs.append((f"out{o}", s))
                rows.append((f"i{i}", f"out{o}", s))
        attempts.append(outs)
    split = variance_split(attempts)
    ms_out, ms_res, df_out = _nested_frame(rows)
    assert split.grading == pytest.approx(ms_res, rel=1e-9)
    n_total = len(rows)
    frame = pd.DataFrame(rows, columns=["item", "output", "score"])
    k_io = frame.groupby(["item", "output"]).size()
    k_i = frame.groupby("item").size()
    c = (n_total - sum(k_io[(i, o)] ** 2 / k_i[i] for i, o in k_io.index)) / df_out
    assert split.generation == pytest.approx(max(0.0, (ms_out - ms_res) / c), rel=1e-9)
    means = frame.groupby("item")["score"].mean()
    assert split.between_items == pytest.approx(float(means.var(ddof=1)))
    assert split.grading_from == "duplicate outputs"


def test_variance_split_recovers_known_components() -> None:
    rng = np.random.default_rng(0)
    attempts = []
    for _ in range(400):
        mu = rng.normal(0.5, 0.2)
        outs = []
        for o in range(3):
            g = rng.normal(0, 0.15)  # generation sd 0.15
            outs += [(f"o{o}", mu + g + rng.normal(0, 0.08)) for _ in range(3)]  # grading sd 0.08
        attempts.append(outs)
    split = variance_split(attempts)
    assert split.grading == pytest.approx(0.08**2, rel=0.1)
    assert split.generation == pytest.approx(0.15**2, rel=0.15)


def test_variance_split_identification() -> None:
    distinct = [[("a", 1.0), ("b", 0.0), ("c", 1.0)], [("d", 0.0), ("e", 0.0), ("f", 1.0)]]
    judge = variance_split(distinct)
    assert judge.grading is None and judge.generation is None and "not identified" in judge.reason
    assert judge.within_item is not None
    exact = variance_split(distinct, deterministic=True)
    assert exact.grading == 0.0 and exact.generation == pytest.approx(exact.within_item)
    greedy = variance_split([[("a", 1.0), ("a", 0.0)], [("b", 1.0), ("b", 1.0)]])
    assert greedy.generation == 0.0 and greedy.grading == pytest.approx(0.25)
    single = variance_split([[("a", 1.0)], [("b", 0.0)]])
    assert single.within_item is None and "no repeats" in single.reason


def test_repeats_use_item_means_and_report_the_split() -> None:
    # Two attempts per item; the candidate's first attempt is always right, its second always wrong.
    n = 30
    base_att = {"acc": [[("x", 0.0), ("x", 0.0)] for _ in range(n)]}
    cand_att = {"acc": [[("good", 1.0), ("bad", 0.0)] for _ in range(n)]}
    base = make_run({}, attempts=base_att, rubric=binary_rubric("acc"))
    cand = make_run({}, attempts=cand_att, rubric=binary_rubric("acc"))
    comp = compare_runs(base, cand, _policy({"criterion": "acc", "require": "improvement"}))
    s = comp.criteria["acc"]
    assert s.candidate_mean == 0.5 and not s.binary  # per-item means are not 0/1: bootstrap, not McNemar
    assert s.p_method == "bootstrap_bca"
    split = comp.repeats["candidate"]["acc"]
    assert split.attempts_per_item == 2 and split.grading == 0.0 and split.grading_from == "deterministic scorer"
    assert split.generation == pytest.approx(0.5)


def test_scores_outside_the_unit_interval_are_refused() -> None:
    with pytest.raises(InputError) as err:
        compare_runs(make_run({"a": [0.5, 3.0]}), make_run({"a": [0.5, 0.5]}))
    assert "outside [0, 1]" in str(err.value) and err.value.field == "items[item-001].scores.a.value"


def test_extreme_skew_keeps_bca_finite() -> None:
    b = paired_bootstrap(np.zeros(3), np.array([0.0, 0.0, 1.0]), resamples=2000, seed=0)
    lo, hi = b.interval(0.99)
    assert np.isfinite(lo) and np.isfinite(hi) and lo <= b.estimate <= hi
