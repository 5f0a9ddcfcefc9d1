"""evaluate_suite with fake generators: scores, overall, repeats, summaries, run files, judge, human."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError, InputError
from harness.eval.evaluate import evaluate_suite, summarize
from harness.eval.run import load_run
from harness.eval.suite import load_suite
from harness.models.base import GenerationRequest
from harness.models.fake import FakeGenerator
from harness.report.run import write_run
from harness.stats.intervals import mean_interval, wilson_interval

RUBRIC = """name: r
criteria:
  - id: correct
    description: names the capital
    scale: binary
    scorer: {type: contains}
  - id: short
    weight: 0.5
    scale: binary
    scorer: {type: length, max: 4}
  - id: close
    weight: 0
    scorer: {type: chrf}
"""
CAPITALS = {"fr": "Paris", "es": "Madrid", "it": "Rome", "de": "Berlin", "pt": "Lisbon"}


def make_suite(root: Path, rubric: str = RUBRIC, extra: str = "", items: list[dict] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rubric.yaml").write_text(rubric)
    (root / "suite.yaml").write_text(
        "name: caps\nrubric: rubric.yaml\nprompt_template: 'Capital of {prompt}?'\n"
        "gate: [{criterion: overall, require: improvement}]\n" + extra
    )
    items = items or [{"id": k, "prompt": k, "reference": v} for k, v in CAPITALS.items()]
    (root / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return root


def answers(req: GenerationRequest) -> str:
    wrong = {"de": "I think it is Munich, a large city in the south."}
    return wrong.get(req.item_id, f"It is {CAPITALS[req.item_id]}.")


def test_scores_overall_summary_and_manifest(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s"))
    gen = FakeGenerator(answers)
    run = evaluate_suite(suite, gen)
    assert next(c.prompt for c in gen.calls) == "Capital of fr?"
    by = {r.id: r for r in run.items}
    assert by["fr"].scores["correct"].passed is True and by["de"].scores["correct"].value == 0.0
    assert by["de"].scores["short"].value == 0.0
    # overall = (1 * correct + 0.5 * short) / 1.5; chrf has weight 0
    assert by["fr"].scores["overall"].value == pytest.approx(1.0)
    assert by["de"].scores["overall"].value == pytest.approx(0.0)
    s = run.summary["correct"]
    assert (s.mean, s.n, s.method) == (0.8, 5, "wilson")
    assert s.ci == pytest.approx(list(wilson_interval(4, 5)))
    assert run.summary["close"].method == "bootstrap_bca" and run.summary["overall"].n == 5
    assert run.suite["gate"]["rules"][0] == {
        "criterion": "overall",
        "require": "improvement",
        "margin": None,
        "value": None,
        "max": None,
    }
    assert run.suite.rubric is not None and run.suite.rubric.criteria[0].scorer.type == "contains"
    assert run.manifest.hashes is not None and run.manifest.hashes.items == run.suite.items_hash
    assert run.manifest.scorers is not None and run.manifest.scorers["short"]["max"] == 4
    assert run.manifest.seed == 0 and run.manifest.versions["python"]
    assert run.manifest.git.commit is None or len(run.manifest.git.commit) == 40
    assert run.model.fingerprint == "fake"


def test_run_files_round_trip(tmp_path):
    run = evaluate_suite(load_suite(make_suite(tmp_path / "s")), FakeGenerator(answers))
    files = write_run(run, tmp_path / "out")
    doc = json.loads(files.json.read_text())
    assert doc["schema"] == "harness.run/v1" and next(iter(doc)) == "schema"
    again = load_run(tmp_path / "out")
    assert again.summary == run.summary and again.items == run.items
    md = files.markdown.read_text()
    assert "| correct | 0.800 |" in md and "Worst" in md and "| de |" in md


def test_limit_and_bad_arguments(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s"))
    run = evaluate_suite(suite, FakeGenerator(answers), limit=2)
    assert [r.id for r in run.items] == ["fr", "es"] and run.manifest["limit"] == 2
    assert run.suite["n_items"] == 2 and run.suite["items_hash"] != run.suite["all_items_hash"]
    with pytest.raises(InputError, match="repeats"):
        evaluate_suite(suite, FakeGenerator(answers), repeats=0)


def test_unscored_is_not_zero(tmp_path):
    items = [{"id": "fr", "prompt": "fr", "reference": "Paris"}, {"id": "xx", "prompt": "xx"}]
    suite = load_suite(make_suite(tmp_path / "s", items=items))
    run = evaluate_suite(suite, FakeGenerator(lambda r: "Paris"))
    xx = next(r for r in run.items if r.id == "xx")
    assert xx.scores["correct"].value is None and xx.scores["overall"].value is None
    assert "correct" in xx.scores["overall"].explanation
    assert run.summary["correct"].n == 1 and run.summary["correct"].n_unscored == 1


def test_repeats_sample_with_seeds_and_greedy_share_one_generation(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s"))
    gen = FakeGenerator(answers)
    run = evaluate_suite(suite, gen, repeats=3)
    assert len(gen.calls) == 5  # greedy: one generation per item, reused by the attempts
    assert [a.seed for a in run.items[0].attempts] == [0, 1, 2]

    sampled = load_suite(make_suite(tmp_path / "t", extra="generation: {temperature: 0.7, seed: 10}\n"))
    flaky = FakeGenerator(lambda r: "Paris" if r.seed % 2 == 0 else "no idea")
    run = evaluate_suite(sampled, flaky, repeats=2, limit=1)
    assert [c.seed for c in flaky.calls] == [10, 11]
    item = run.items[0]
    assert item.scores["correct"].value == 0.5 and item.scores["correct"].passed is None
    assert [a.scores["correct"].value for a in item.attempts] == [1.0, 0.0]
    # a binary criterion averaged over repeats is no longer 0/1, so not Wilson's interval; and one
    # scored item has no bootstrap interval (marked, not a point)
    summary = run.summary["correct"]
    assert (summary.method, summary.ci, summary.reason) == ("none", None, "one scored item: no interval")


def test_summarize_empty_and_wilson_against_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    empty = summarize([None, None], binary=True)
    assert empty.mean is None and empty.ci is None and empty.reason and empty.n_unscored == 2
    for k, n in [(0, 5), (3, 7), (10, 10), (17, 40)]:
        lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
        assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-12)
        lo, hi = proportion_confint(k, n, alpha=0.1, method="wilson")
        assert wilson_interval(k, n, confidence=0.9) == pytest.approx((lo, hi), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=5, max_size=60))
def test_bootstrap_interval_agrees_with_scipy(values):
    """Our percentile bounds sit at the 2.5% and 97.5% points of scipy's bootstrap distribution.

    Compared in probability, not in score units: with few distinct values the bootstrap means lie
    on a lattice and two Monte Carlo runs can put a quantile on neighbouring points. Each bound's
    position in scipy's distribution must be within Monte Carlo error (5 sd of two runs of 4,000
    resamples: 0.018) of its nominal level.
    """
    from scipy.stats import bootstrap

    x = np.asarray(values)
    ours = mean_interval(x, binary=False, method="percentile", resamples=4000, seed=1, bounds=None)
    assert ours.low <= x.mean() + 1e-12 and x.mean() - 1e-12 <= ours.high
    if np.ptp(x) == 0:
        assert (ours.low, ours.high) == (x[0], x[0])
        return
    ref = bootstrap((x,), np.mean, method="percentile", n_resamples=4000, random_state=2).bootstrap_distribution
    tol = 5 * np.sqrt(2 * 0.025 * 0.975 / 4000)
    for bound, level in ((ours.low, 0.025), (ours.high, 0.975)):
        below, at_or_below = np.mean(ref < bound - 1e-12), np.mean(ref <= bound + 1e-12)
        assert below <= level + tol and at_or_below >= level - tol, (bound, level, below, at_or_below)


def test_bootstrap_interval_on_a_lattice():
    """2 of 8 items pass: the bootstrap mean is exactly Binomial(8, 0.25) / 8 (an exact oracle).

    Its 97.5% point is 0.625, but P(mean <= 0.5) = 0.9727 is so close to 0.975 that a Monte Carlo
    quantile may land on 0.5; either is within Monte Carlo error, measured here in probability.
    """
    from scipy.stats import binom

    ours = mean_interval(
        [0, 0, 1, 1, 0, 0, 0, 0], binary=False, method="percentile", resamples=20_000, seed=3, bounds=None
    )
    tol = 5 * np.sqrt(0.025 * 0.975 / 20_000)
    for bound, level in ((ours.low, 0.025), (ours.high, 0.975)):
        k = bound * 8
        below, at_or_below = binom.cdf(np.ceil(k - 1e-9) - 1, 8, 0.25), binom.cdf(np.floor(k + 1e-9), 8, 0.25)
        assert below <= level + tol and at_or_below >= level - tol, (bound, level, below, at_or_below)


JUDGE_RUBRIC = """name: r
criteria:
  - id: helpful
    description: answers the question
    scale:
      levels:
        - {value: 1, anchor: wrong}
        - {value: 2, anchor: partly right}
        - {value: 3, anchor: right}
    scorer: {type: judge, model: fake-judge}
  - id: ok
    description: passes
    scale: binary
    scorer: {type: judge, model: fake-judge}
"""


def test_local_judge_probability_weighted_levels_and_cache(tmp_path):
    from harness.eval.cache import GenerationCache

    suite = load_suite(make_suite(tmp_path / "s", rubric=JUDGE_RUBRIC))

    def levels(prompt, labels):
        if labels == ["0", "1"]:
            return {"0": 0.3, "1": 0.5, "x": 0.2}
        return {"1": 0.1, "2": 0.2, "3": 0.5, "other": 0.2}

    judge = FakeGenerator({}, fingerprint="judge-1", levels=levels)
    made = []

    def factory(spec, endpoint):
        made.append(spec)
        return judge

    cache = GenerationCache(tmp_path / "c.sqlite")
    run = evaluate_suite(suite, FakeGenerator(answers), judge_factory=factory, cache=cache)
    assert made == ["fake-judge"]  # one judge model shared by both criteria
    sc = run.items[0].scores["helpful"]
    # renormalised over labels: 0.125, 0.25, 0.625 → 0.125*0 + 0.25*0.5 + 0.625*1
    assert sc.value == pytest.approx(0.75) and sc.level == "3" and "label mass 0.80" in sc.explanation
    assert run.items[0].scores["ok"].passed is True
    assert "Capital of fr?" in judge.level_calls[0] and "It is Paris." in judge.level_calls[0]
    assert "1: wrong" in judge.level_calls[0]
    assert run.manifest["hashes"]["judges"] == {"helpful": "judge-1", "ok": "judge-1"}
    assert run.suite.rubric is not None and run.suite.rubric.criteria[0].calibration_floor == 0.667
    n = len(judge.level_calls)
    evaluate_suite(suite, FakeGenerator(answers), judge_factory=factory, cache=cache)
    assert len(judge.level_calls) == n  # verdicts come from the cache


def test_judge_without_model_is_a_config_error(tmp_path):
    rubric = JUDGE_RUBRIC.replace(", model: fake-judge", "")
    suite = load_suite(make_suite(tmp_path / "s", rubric=rubric))
    with pytest.raises(ConfigError, match="--judge"):
        evaluate_suite(suite, FakeGenerator(answers))
    judge = FakeGenerator({}, levels=lambda p, labels: {labels[-1]: 1.0})
    run = evaluate_suite(suite, FakeGenerator(answers), judge=judge)
    assert run.summary["helpful"].mean == 1.0


def test_api_judge_strict_format_with_retries(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s", rubric=JUDGE_RUBRIC))
    replies = {}

    def reply(req):
        # first answer chatty, then compliant after the reminder; item "de" never complies
        turns = len(req.prompt)
        key = req.prompt[0]["content"]
        replies.setdefault(key, 0)
        replies[key] += 1
        if "Munich" in key:
            return "It is pretty good overall"
        return "I would say 3 because" if turns == 1 else "3"

    class ApiJudge(FakeGenerator):
        level_probabilities = None  # type: ignore[assignment]  # an API model has no logprobs

    judge = ApiJudge(reply, fingerprint="api")
    rubric_only_levels = JUDGE_RUBRIC.split("  - id: ok")[0]
    suite = load_suite(make_suite(tmp_path / "t", rubric=rubric_only_levels))
    run = evaluate_suite(suite, FakeGenerator(answers), judge=judge)
    by = {r.id: r.scores["helpful"] for r in run.items}
    assert by["fr"].value == 1.0 and "after 2 tries" in by["fr"].explanation
    assert by["de"].value is None and "3 tries" in by["de"].explanation
    assert run.summary["helpful"].n == 4 and run.summary["helpful"].n_unscored == 1


def test_human_scorer_consensus(tmp_path):
    rubric = """name: r
criteria:
  - id: quality
    scale: {levels: {1: bad, 3: ok, 5: good}}
    scorer: {type: human}
  - id: correct
    scale: binary
    scorer: {type: human}
"""
    root = make_suite(tmp_path / "s", rubric=rubric, extra="human_ratings: ratings.csv\n")
    (root / "ratings.csv").write_text(
        "item_id,rater_id,score,criterion\n"
        "fr,a,5,quality\nfr,b,4,quality\nfr,c,5,quality\n"
        "es,a,1,quality\nes,b,2,quality\n"
        "fr,a,yes,correct\nfr,b,no,correct\nfr,c,yes,correct\n"
        "es,a,1,correct\nes,b,0,correct\n"
    )
    run = evaluate_suite(load_suite(root), FakeGenerator(answers))
    by = {r.id: r.scores for r in run.items}
    assert by["fr"]["quality"].value == 1.0 and by["fr"]["quality"].level == "5"
    assert by["es"]["quality"].value == pytest.approx((1.5 - 1) / 4)
    assert by["fr"]["correct"].passed is True
    assert by["es"]["correct"].value is None and "tied" in by["es"]["correct"].explanation
    assert by["it"]["quality"].value is None
    assert run.manifest["hashes"]["human_ratings"]


def test_human_scorer_without_ratings_file_is_an_error(tmp_path):
    rubric = "name: r\ncriteria:\n  - {id: q, scale: binary, scorer: {type: human}}\n"
    with pytest.raises(InputError, match="human_ratings"):
        evaluate_suite(load_suite(make_suite(tmp_path / "s", rubric=rubric)), FakeGenerator(answers))


def test_outputs_replay(tmp_path):
    from harness.models.factory import make_generator

    suite = load_suite(make_suite(tmp_path / "s"))
    rows = [{"id": k, "output": v} for k, v in CAPITALS.items()]
    p = tmp_path / "o.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    gen = make_generator(f"outputs:{p}")
    run = evaluate_suite(suite, gen)
    assert run.summary["correct"].mean == 1.0 and run.model["kind"] == "outputs"
    p.write_text('{"id": "fr", "output": "Paris"}\n')
    with pytest.raises(Exception, match="no output for item 'es'"):
        evaluate_suite(suite, make_generator(f"outputs:{p}"))
    p.write_text('{"id": "fr"}\n')
    with pytest.raises(InputError, match="output") as exc:
        make_generator(f"outputs:{p}")
    assert exc.value.line == 1
