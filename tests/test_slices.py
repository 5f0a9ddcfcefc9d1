"""Slices and bias amplification: per-slice results, rules by slice, max_gap, Holm across a gate run.

Oracles: scipy.stats.bootstrap (paired BCa) for each slice's Δ interval, statsmodels' multipletests
for Holm across every counted test of a gate run, and a stratified bootstrap written out with
numpy for the gap between slices.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps
from fixtures.runs import make_run
from statsmodels.stats.multitest import multipletests

from harness.compare.slices import MISSING, item_slices
from harness.errors import ConfigError, InputError
from harness.eval.run import Run
from harness.gate import compare_runs, gate_result, policy_from_gate
from harness.report.comparison import render_markdown
from harness.report.html import render_html
from harness.stats.bootstrap import slice_gap

GROUPS = ["a", "b", "c", "d"]


def _planted(n_per: int = 30, seed: int = 0, bad: str = "d") -> tuple[Run, Run]:
    """Candidate better by ~0.25 on three groups, worse by ~0.35 on ``bad``: the mean still rises."""
    rng = np.random.default_rng(seed)
    base, cand, groups = [], [], []
    for g in GROUPS:
        b = rng.uniform(0.3, 0.7, n_per)
        shift = -0.35 if g == bad else 0.25
        c = np.clip(b + shift + rng.normal(0, 0.05, n_per), 0, 1)
        base += list(b)
        cand += list(c)
        groups += [g] * n_per
    runs = make_run({"score": base}, model="base"), make_run({"score": cand}, model="cand")
    for run in runs:
        for it, g in zip(run.items, groups, strict=True):
            it.fields = {"group": g}
    return runs


def _rule(**kw) -> dict:
    return {"criterion": "score", **kw}


def test_a_candidate_that_regresses_one_slice_passes_the_suite_rule_and_fails_the_slice_rule() -> None:
    base, cand = _planted()
    policy = policy_from_gate([
        _rule(require="no_regression", margin=0.05),
        _rule(require="no_regression", margin=0.05, by="group"),
    ])
    comp = compare_runs(base, cand, policy)
    whole, sliced = comp.rules
    assert comp.criteria["score"].delta > 0.1
    assert whole.verdict == "pass"
    assert sliced.verdict == "fail" and comp.verdict == "fail"
    by = {t.value: t for t in sliced.slices}
    assert by["d"].verdict == "fail" and all(by[g].verdict == "pass" for g in "abc")
    assert "d" in sliced.reason and sliced.estimate == pytest.approx(by["d"].estimate)


def test_per_slice_delta_interval_matches_scipy() -> None:
    base, cand = _planted(n_per=25, seed=3)
    comp = compare_runs(base, cand, policy_from_gate({"rules": [_rule(require="improvement")], "slices": ["group"],
                                                      "resamples": 20_000}))
    table = next(t for t in comp.slices if t.criterion == "score" and t.field == "group")
    x = np.array([it.scores["score"].value for it in base.items])
    y = np.array([it.scores["score"].value for it in cand.items])
    groups = np.array([it.fields["group"] for it in base.items])
    for s in table.slices:
        m = groups == s.value
        ref = sps.bootstrap((x[m], y[m]), lambda a, b, axis: b.mean(axis=axis) - a.mean(axis=axis), paired=True,
                            vectorized=True, n_resamples=20_000, method="BCa", rng=np.random.default_rng(7))
        se = float(np.std(y[m] - x[m], ddof=1) / np.sqrt(m.sum()))
        assert s.n == 25 and s.delta == pytest.approx(float((y[m] - x[m]).mean()), abs=1e-12)
        assert s.ci[0] == pytest.approx(float(ref.confidence_interval.low), abs=0.15 * se)
        assert s.ci[1] == pytest.approx(float(ref.confidence_interval.high), abs=0.15 * se)
        assert s.base_mean == pytest.approx(float(x[m].mean())) and not s.too_small


def test_holm_runs_across_all_rules_and_slices_of_a_gate_run() -> None:
    b1, c1 = _planted(seed=1)
    b2, c2 = _planted(seed=2, bad="b")
    for r in (b2, c2):
        r.suite.name = "other"
    p1 = policy_from_gate([_rule(require="no_regression", margin=0.05, by="group"), _rule(require="improvement")])
    p2 = policy_from_gate([_rule(require="improvement", by="group")])
    result = gate_result([compare_runs(b1, c1, p1), compare_runs(b2, c2, p2)])
    tests = [t for r in result.rules for t in (r.slices or [r]) if t.p_value is not None]
    assert len(tests) == 4 + 1 + 4
    expected = multipletests([t.p_value for t in tests], method="holm")[1]
    np.testing.assert_allclose([t.p_value_holm for t in tests], expected, rtol=1e-12)
    assert result.multiplicity["family"] == 9 and result.multiplicity["method"] == "holm"
    assert "9 counted tests of the gate run" in render_markdown(result)


def test_holm_across_the_gate_can_withhold_what_one_suite_alone_would_pass() -> None:
    """p = 0.03 passes alone (Holm over 1 test) and is inconclusive among 3 suites' tests."""
    rng = np.random.default_rng(5)
    comps = []
    for k in range(3):
        base = rng.uniform(0.2, 0.8, 40)
        cand = np.clip(base + 0.045 + rng.normal(0, 0.12, 40), 0, 1)
        b, c = make_run({"score": list(base)}, suite=f"s{k}"), make_run({"score": list(cand)}, suite=f"s{k}")
        comps.append(compare_runs(b, c, policy_from_gate([_rule(require="improvement")])))
    alone = [c.rules[0] for c in comps]
    together = gate_result(comps)
    passed_alone = [r for r in alone if r.decision == "pass"]
    assert passed_alone, [r.p_value for r in alone]
    adjusted = multipletests([r.p_value for r in together.rules], method="holm")[1]
    for r, padj in zip(together.rules, adjusted, strict=True):
        assert r.p_value_holm == pytest.approx(padj)
        assert r.verdict == (r.decision if padj < 0.05 else "inconclusive")


def test_items_without_the_field_form_a_missing_slice_and_the_report_says_how_many() -> None:
    base, cand = _planted()
    for run in (base, cand):
        for it in run.items[:3]:
            it.fields = {}
    comp = compare_runs(base, cand, policy_from_gate({"rules": [_rule(require="improvement")], "slices": ["group"]}))
    table = next(t for t in comp.slices if t.criterion == "score")
    assert table.n_missing == 3
    missing = next(s for s in table.slices if s.value == MISSING)
    assert missing.n == 3
    md = render_markdown(gate_result([comp]))
    assert "3 items without `group` form the slice `(missing)`" in md


def test_a_field_with_a_value_per_item_is_a_clear_error() -> None:
    base, cand = _planted(n_per=5)
    for run in (base, cand):
        for k, it in enumerate(run.items):
            it.fields = {"ticket_no": f"T{k}", "group": it.fields["group"]}
    with pytest.raises(ConfigError, match=r"20 slices of one item each.*e\.g\. \['group'\]") as info:
        compare_runs(base, cand, policy_from_gate([_rule(require="improvement", by="ticket_no")]))
    assert info.value.field == "rules[0].by"
    with pytest.raises(ConfigError, match=r"no item has the field 'grup'.*Did you mean 'group'"):
        compare_runs(base, cand, policy_from_gate({"rules": [_rule(require="improvement")], "slices": ["grup"]}))


def test_a_slice_too_small_for_an_interval_is_shown_and_keeps_a_rule_from_passing() -> None:
    base, cand = _planted()
    for run in (base, cand):
        run.items[0].fields = {"group": "tiny"}
    policy = policy_from_gate([_rule(require="no_regression", margin=0.5, by="group")])
    comp = compare_runs(base, cand, policy)
    tiny = next(s for s in comp.slices[0].slices if s.value == "tiny")
    assert tiny.n == 1 and tiny.too_small and tiny.ci is None
    rule = comp.rules[0]
    assert {t.value: t.verdict for t in rule.slices}["tiny"] == "inconclusive"
    assert rule.verdict == "inconclusive" and "tiny" in rule.reason
    assert "too small for an interval" in render_markdown(gate_result([comp]))


def test_max_gap_bounds_the_spread_between_slices() -> None:
    base, cand = _planted()
    wide = compare_runs(base, cand, policy_from_gate([_rule(require="max_gap", max_gap=0.2, by="group")]))
    rule = wide.rules[0]
    x = np.array([it.scores["score"].value for it in base.items])
    y = np.array([it.scores["score"].value for it in cand.items])
    groups = np.array([it.fields["group"] for it in base.items])
    deltas = {g: float((y - x)[groups == g].mean()) for g in GROUPS}
    assert rule.statistic == "slice_gap"
    assert rule.estimate == pytest.approx(max(deltas.values()) - min(deltas.values()))
    assert rule.verdict == "fail" and "worst d" in rule.reason
    narrow = _planted(bad="none")
    ok = compare_runs(*narrow, policy_from_gate([_rule(require="max_gap", max_gap=0.2, by="group")]))
    assert ok.rules[0].verdict == "pass"


def test_slice_gap_matches_a_stratified_bootstrap_written_out() -> None:
    """Percentiles of max − min of per-slice resampled means: ours vs a direct numpy loop (independent draws)."""
    rng = np.random.default_rng(11)
    diffs = [rng.normal(mu, 0.2, n) for mu, n in ((0.0, 30), (0.1, 25), (0.25, 40))]
    ours = slice_gap(diffs, resamples=20_000, seed=1)
    ref_rng = np.random.default_rng(2)
    means = np.stack([
        np.array([d[ref_rng.integers(0, d.size, d.size)].mean() for _ in range(20_000)]) for d in diffs
    ])
    ref = np.quantile(means.max(axis=0) - means.min(axis=0), [0.025, 0.975])
    lo, hi = ours.interval(0.95)
    sd = float(np.std(means.max(axis=0) - means.min(axis=0)))
    assert ours.estimate == pytest.approx(max(d.mean() for d in diffs) - min(d.mean() for d in diffs))
    assert lo == pytest.approx(ref[0], abs=0.05 * sd) and hi == pytest.approx(ref[1], abs=0.05 * sd)


def test_tags_put_an_item_in_several_slices() -> None:
    assert item_slices({"tags": ["en", "vip"]}, "tags") == ["en", "vip"]
    assert item_slices({"tags": []}, "tags") == [MISSING]
    assert item_slices({"lang": None}, "lang") == [MISSING]


def test_html_draws_small_multiples_of_delta_per_slice() -> None:
    base, cand = _planted()
    comp = compare_runs(base, cand, policy_from_gate([_rule(require="no_regression", margin=0.05, by="group")]))
    html = render_html(gate_result([comp]))
    assert html.count('class="plots slice-panel"') == 1 and "<h3>Slices</h3>" in html
    for g in GROUPS:
        assert html.count(f"<title>{g}: Δ") == 1
    assert "Multiplicity: Holm" in html


def test_bundled_suites_carry_slice_fields(tmp_path: Path) -> None:
    from harness.eval.suite import load_suite

    root = Path(__file__).resolve().parent.parent / "suites"
    for name, field in (("tickets", "category"), ("general", "answer_type"), ("safety", "harm_category")):
        suite = load_suite(root / name)
        assert suite.gate.slices == [field]
        values = [it.model_extra.get(field) for it in suite.items]
        assert all(values) and 1 < len(set(values)) < len(values), name
    tickets = [json.loads(line) for line in (root / "tickets" / "items.jsonl").read_text().splitlines()]
    assert all(t["category"] == t["reference"]["category"] for t in tickets)


def test_slice_rules_are_checked_at_load_time() -> None:
    with pytest.raises(ConfigError, match="needs 'max_gap'") as info:
        policy_from_gate([_rule(require="max_gap", by="group")])
    assert info.value.field == "gate[0]"
    with pytest.raises(ConfigError, match="'max_gap' applies to require: max_gap only"):
        policy_from_gate([_rule(require="improvement", max_gap=0.1)])
    with pytest.raises(ConfigError, match=r"unknown key 'bye'.*Did you mean 'by'"):
        policy_from_gate([_rule(require="improvement", bye="group")])
    rule = policy_from_gate([_rule(require="no_regression", margin=0.02, by="group")]).rules[0]
    assert rule.label == "score no_regression (margin 0.02) by group"


def test_cli_compare_with_a_field_per_item_exits_2_naming_the_policy(tmp_path: Path) -> None:
    import subprocess
    import sys

    from harness.files import write_json

    base, cand = _planted(n_per=8)  # 24 items: enough that a value per item means an id-like field
    assert len(base.items) >= 20
    for run, name in ((base, "base.json"), (cand, "cand.json")):
        for k, it in enumerate(run.items):
            it.fields = {"serial": k}
        write_json(tmp_path / name, run.to_document())
    policy = tmp_path / "policy.yaml"
    policy.write_text("rules:\n  - {criterion: score, require: improvement, by: serial}\n")
    res = subprocess.run(
        [sys.executable, "-m", "harness", "compare", str(tmp_path / "base.json"), str(tmp_path / "cand.json"),
         "--policy", str(policy)], capture_output=True, text=True, timeout=300, cwd=Path(__file__).parent.parent,
    )
    assert res.returncode == 2, res.stderr
    assert "policy.yaml" in res.stderr and "rules[0].by" in res.stderr and "one item each" in res.stderr
    assert "Traceback" not in res.stderr


def test_console_summary_prints_delta_per_slice_and_the_multiplicity() -> None:
    import io

    from rich.console import Console

    from harness.report.comparison import print_summary

    base, cand = _planted()
    comp = compare_runs(base, cand, policy_from_gate([_rule(require="no_regression", margin=0.05, by="group")]))
    buf = io.StringIO()
    print_summary(gate_result([comp]), Console(file=buf, width=140))
    text = buf.getvalue()
    assert "score by group" in text and "Holm's step-down adjustment over the 4 counted tests" in text
    for g in GROUPS:
        assert f"│ {g} " in text


def test_a_small_sample_with_one_item_per_slice_is_not_an_id_like_field() -> None:
    from harness.compare.slices import ID_LIKE_MIN, slice_groups

    few = [{"harm": f"h{k}"} for k in range(6)]  # e.g. a --limit 6 run over six harm categories
    assert slice_groups(few, "harm") == {f"h{k}": [k] for k in range(6)}
    many = [{"serial": k} for k in range(ID_LIKE_MIN)]
    with pytest.raises(InputError, match="one item each"):
        slice_groups(many, "serial")
