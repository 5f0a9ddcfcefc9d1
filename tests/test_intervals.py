"""One interval for a mean in every report, one bootstrap, one message shape for bad parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import scipy.stats as sps

from harness.agreement.analytic import cohen_kappa_se, fleiss_kappa_se
from harness.agreement.bootstrap import bootstrap_ci
from harness.agreement.coefficients import percent_agreement_stat
from harness.agreement.document import agreement_report
from harness.errors import InputError
from harness.eval.evaluate import evaluate_suite
from harness.eval.suite import load_suite
from harness.gate import compare_runs, gate_result
from harness.models.base import GenerationRequest
from harness.models.fake import FakeGenerator
from harness.report.comparison import render_markdown
from harness.report.html import render_html
from harness.report.run import render_run_markdown
from harness.stats.bootstrap import bootstrap_mean, paired_bootstrap
from harness.stats.intervals import mean_interval, mean_seed, wilson_interval
from harness.stats.paired import binomial_test

RUBRIC = """name: r
criteria:
  - id: correct
    description: names the word
    scale: binary
    scorer: {type: contains}
  - id: close
    description: character overlap with the reference
    weight: 1
    scorer: {type: chrf}
"""
WORDS = ["amber", "basalt", "cobalt", "dune", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
         "kelp", "lagoon", "marble", "nectar", "obsidian", "prairie", "quartz", "raven", "sierra", "tundra",
         "umber", "velvet", "willow", "xylem", "yarrow", "zephyr", "alder", "birch", "cedar", "delta"]


def _suite(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "rubric.yaml").write_text(RUBRIC)
    gate = "gate: [{criterion: correct, require: improvement}]\n"
    (root / "suite.yaml").write_text("name: words\nrubric: rubric.yaml\n" + gate)
    items = [{"id": f"w{i:02d}", "prompt": f"Say {w}.", "reference": w} for i, w in enumerate(WORDS)]
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return root


def _answers(skill: int):
    def answer(req: GenerationRequest) -> str:
        k = int(req.item_id[1:])
        word = WORDS[k]
        return word if (k * 7 + skill) % 10 < skill else word[: len(word) // 2] + "xx"

    return answer


def test_run_report_and_comparison_report_give_a_mean_the_same_interval(tmp_path: Path) -> None:
    suite = load_suite(_suite(tmp_path / "s"))
    base = evaluate_suite(suite, FakeGenerator(_answers(5), fingerprint="b"))
    cand = evaluate_suite(suite, FakeGenerator(_answers(8), fingerprint="c"))
    comp = compare_runs(base, cand)
    assert comp.n_paired == len(WORDS)
    for crit in ("correct", "close", "overall"):
        s = comp.criteria[crit]
        assert base.summary[crit].mean == pytest.approx(s.base_mean, abs=1e-12)
        assert base.summary[crit].ci == s.base_ci, crit
        assert cand.summary[crit].ci == s.candidate_ci, crit
        assert s.base_ci is not None and s.base_ci[0] < s.base_mean < s.base_ci[1]
    assert base.summary["correct"].method == "wilson" and base.summary["close"].method == "bootstrap_bca"
    # The rendered reports carry the same figures: run.md's CI cell and the HTML's interval title.
    run_md = render_run_markdown(base)
    html = render_html(gate_result([comp]))
    for crit in ("correct", "close"):
        lo, hi = base.summary[crit].ci
        assert f"[{lo:.3f}, {hi:.3f}]" in run_md
        assert re.search(rf"base {base.summary[crit].mean:.3f} \[{lo:.3f}, {hi:.3f}\]", html), crit
    assert "Δ" in render_markdown(gate_result([comp]))


def test_an_at_least_rule_reads_the_same_interval_as_the_mean(tmp_path: Path) -> None:
    from harness.gate import policy_from_gate

    suite = load_suite(_suite(tmp_path / "s"))
    base = evaluate_suite(suite, FakeGenerator(_answers(5), fingerprint="b"))
    cand = evaluate_suite(suite, FakeGenerator(_answers(8), fingerprint="c"))
    policy = policy_from_gate([{"criterion": "correct", "require": "at_least", "value": 0.5},
                               {"criterion": "close", "require": "at_least", "value": 0.5}])
    comp = compare_runs(base, cand, policy)
    by = {r.criterion: r for r in comp.rules}
    assert by["correct"].ci == comp.criteria["correct"].candidate_ci == cand.summary["correct"].ci
    assert by["close"].ci == comp.criteria["close"].candidate_ci == cand.summary["close"].ci
    k = round(comp.criteria["correct"].candidate_mean * comp.n_paired)
    assert by["correct"].p_value == pytest.approx(sps.binomtest(k, comp.n_paired, 0.5).pvalue)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mean_interval_bca_matches_scipy(seed: int) -> None:
    """The non-binary interval of a mean is BCa; scipy.stats.bootstrap (BCa, 20,000) is the oracle."""
    rng = np.random.default_rng(seed)
    x = np.clip(rng.beta(2, 5, 60) + rng.exponential(0.05, 60), 0, 1)
    ours = mean_interval(x, binary=False, resamples=20_000, seed=seed)
    ref = sps.bootstrap((x,), np.mean, method="BCa", n_resamples=20_000, rng=np.random.default_rng(99))
    se = float(x.std(ddof=1) / np.sqrt(x.size))
    # Two independent Monte Carlo runs: the endpoints agree to a small share of the standard error.
    assert ours.method == "bootstrap_bca"
    assert ours.low == pytest.approx(float(ref.confidence_interval.low), abs=0.12 * se)
    assert ours.high == pytest.approx(float(ref.confidence_interval.high), abs=0.12 * se)


def test_mean_interval_binary_is_wilson_and_small_samples_are_marked() -> None:
    from statsmodels.stats.proportion import proportion_confint

    m = mean_interval([1, 0, 1, 1, 1, 0, 1], binary=True, confidence=0.9)
    assert (m.low, m.high) == pytest.approx(proportion_confint(5, 7, alpha=0.1, method="wilson"), abs=1e-12)
    assert m.method == "wilson" and m.bootstrap is None
    one = mean_interval([0.4], binary=False)
    assert one.ci is None and one.method == "none"
    # A binary criterion whose values are not all 0/1 (means over repeats) gets the bootstrap.
    assert mean_interval([0.5, 1, 0, 1], binary=True).method == "bootstrap_bca"
    # Equal values in [0, 1]: the exact interval from the score range, not a point.
    eq = mean_interval([1.0] * 10, binary=False)
    assert eq.low < 1.0 == eq.high


def test_mean_seed_is_shared_and_distinct_per_criterion() -> None:
    x = np.linspace(0, 1, 40) ** 2
    a = mean_interval(x, binary=False, seed=mean_seed(0, "s", "c"))
    b = mean_interval(x, binary=False, seed=mean_seed(0, "s", "c"))
    c = mean_interval(x, binary=False, seed=mean_seed(0, "s", "d"))
    assert a.ci == b.ci
    assert not np.array_equal(a.bootstrap.replicates, c.bootstrap.replicates)


CONFIDENCE_SITES = [
    ("wilson_interval", lambda c: wilson_interval(3, 5, confidence=c)),
    ("mean_interval", lambda c: mean_interval([0.1, 0.5], binary=False, confidence=c)),
    ("Bootstrap.interval", lambda c: bootstrap_mean([0.1, 0.5, 0.7]).interval(c)),
    ("Bootstrap.interval", lambda c: paired_bootstrap([0.1, 0.5], [0.2, 0.9]).interval(c)),
    ("bootstrap_ci", lambda c: bootstrap_ci(percent_agreement_stat(np.array([[1, 1], [1, 2]])), confidence=c)),
    ("agreement_report", lambda c: agreement_report([], level="nominal", confidence=c)),
    ("cohen_kappa_se", lambda c: cohen_kappa_se([1, 2, 1], [1, 2, 2], confidence=c)),
    ("fleiss_kappa_se", lambda c: fleiss_kappa_se(np.array([[1, 1], [1, 2], [2, 2]]), confidence=c)),
]


@pytest.mark.parametrize(("func", "call"), CONFIDENCE_SITES)
@pytest.mark.parametrize("bad", [1.5, 0.0, 1.0, float("nan"), "0.9", True])
def test_every_confidence_check_has_one_message(func, call, bad) -> None:
    expected = f"The 'confidence' parameter of {func} must be a float in the range (0, 1); got {bad!r}."
    with pytest.raises(InputError) as info:
        call(bad)
    assert str(info.value) == expected


def test_resample_and_range_checks_share_the_shape() -> None:
    with pytest.raises(InputError, match=re.escape(
        "The 'resamples' parameter of bootstrap_mean must be an int in the range [1, inf); got 0."
    )):
        bootstrap_mean([0.1, 0.2], resamples=0)
    with pytest.raises(InputError, match=re.escape(
        "The 'n_resamples' parameter of bootstrap_values must be an int in the range [1, inf); got 0."
    )):
        bootstrap_ci(percent_agreement_stat(np.array([[1, 1], [1, 2]])), n_resamples=0)
    with pytest.raises(InputError, match=re.escape(
        "The 'value' parameter of binomial_test must be a float in the range [0, 1]; got 1.2."
    )):
        binomial_test(3, 5, 1.2)
    with pytest.raises(InputError, match=re.escape(
        "The 'successes' parameter of wilson_interval must be an int in the range [0, 5]; got 6."
    )):
        wilson_interval(6, 5)
