"""Ranking records, the ranking audit (position bias by an exact test), and the named conversion to pairs."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from harness.errors import InputError
from harness.rankings import load_rankings, ranking_pairs, ranking_ratings
from harness.records import RankingRecord
from harness.validate import validate_file
from harness.validate.ranking import poisson_binomial_sf

ROOT = Path(__file__).parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    p = tmp_path / "r.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _rec(ranks: list[int | None], rid: str = "a", rater: str | None = None, responses: list[str] | None = None):
    responses = responses or [f"resp {i}" for i in range(len(ranks))]
    return RankingRecord(id=rid, line=1, prompt="p", responses=responses, ranks=ranks, rater_id=rater)


# ---------------------------------------------------------------------------- bad input: exit 2, file/line/field
@pytest.mark.parametrize(
    ("row", "field", "text"),
    [
        ({"prompt": "p", "responses": ["a"], "ranks": [1]}, "responses", "k >= 2"),
        ({"prompt": "p", "responses": ["a", "b"], "ranks": [1, 3]}, "ranks", "outside 1..2"),
        ({"prompt": "p", "responses": ["a", "b"], "ranks": [0, 1]}, "ranks", "outside 1..2"),
        ({"prompt": "p", "responses": ["a", "a"], "ranks": [1, 2]}, "responses", "ranked twice"),
        ({"prompt": "p", "responses": ["a", "b", "c"], "ranks": [1, 2]}, "ranks", "2 ranks for 3 responses"),
    ],
)
def test_bad_rankings_are_errors_naming_file_line_field(tmp_path, row, field, text):
    good = {"prompt": "q", "responses": ["x", "y"], "ranks": [1, 2]}
    p = _write(tmp_path, [good, row])
    with pytest.raises(InputError) as exc:
        load_rankings(p)
    assert (exc.value.line, exc.value.field) == (2, field) and text in exc.value.message
    r = run("rankings", str(p), "--out", str(tmp_path / "out"))
    assert r.returncode == 2, r.stderr
    assert f"{p}:2" in r.stderr and f"field '{field}'" in r.stderr and text in r.stderr
    assert "Traceback" not in r.stderr


def test_no_pair_left_after_ties_dropped_is_exit_2(tmp_path):
    p = _write(tmp_path, [{"prompt": "p", "responses": ["a", "b"], "ranks": [1, 1]}])
    with pytest.raises(InputError, match=r"no preference pair left .* after ties are dropped"):
        ranking_pairs(load_rankings(p), ties="drop", file=p)
    r = run("rankings", str(p), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "no preference pair left" in r.stderr and "field 'ranks'" in r.stderr
    kept = ranking_pairs(load_rankings(p), ties="margin0")
    assert [(q["chosen"], q["rejected"], q["margin"], q["tie"]) for q in kept.pairs] == [("a", "b", 0, True)]


# ---------------------------------------------------------------------------- conversion
@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 6)), min_size=2, max_size=6))
def test_pair_counts_follow_the_scheme(raw):
    k = len(raw)
    ranks = [None if r is None else min(r, k) for r in raw]
    rec = _rec(ranks)
    ranked = [(i, r) for i, r in enumerate(ranks) if r is not None]
    ordered = [(a, b) for (a, ra), (b, rb) in itertools.combinations(ranked, 2) if ra != rb]
    tied = [(a, b) for (a, ra), (b, rb) in itertools.combinations(ranked, 2) if ra == rb]
    if not ordered:
        with pytest.raises(InputError):
            ranking_pairs([rec], scheme="all", ties="drop")
        return
    conv = ranking_pairs([rec], scheme="all", ties="drop")
    assert conv.summary["n_pairs"] == len(ordered) and conv.summary["tied_pairs_dropped"] == len(tied)
    for q in conv.pairs:  # chosen is always the better-ranked response, margin the rank gap
        c, r = int(q["chosen"].split()[1]), int(q["rejected"].split()[1])
        assert ranks[c] < ranks[r] and q["margin"] == ranks[r] - ranks[c]
    levels = sorted({r for _, r in ranked})
    adjacent = sum(ranks.count(lo) * ranks.count(hi) for lo, hi in itertools.pairwise(levels))
    adj = ranking_pairs([rec], scheme="adjacent", ties="margin0")
    assert adj.summary["ordered_pairs"] == adjacent and adj.summary["tied_pairs_kept"] == len(tied)


def test_full_ranking_gives_k_choose_2_or_k_minus_1_pairs():
    rec = _rec([3, 1, 4, 2])
    assert ranking_pairs([rec], scheme="all").summary["n_pairs"] == 6
    adj = ranking_pairs([rec], scheme="adjacent")
    assert [(q["chosen"], q["rejected"]) for q in adj.pairs] == [
        ("resp 1", "resp 3"),
        ("resp 3", "resp 0"),
        ("resp 0", "resp 2"),
    ]
    assert adj.summary["scheme"] == "adjacent" and adj.summary["ties"] == "drop"


def test_ratings_export_keeps_a_raters_first_rating_of_an_item():
    a = _rec([1, 2], rid="a", rater="r1", responses=["x", "y"])
    again = _rec([2, 1], rid="b", rater="r1", responses=["y", "x"])  # same items, reversed: a repeat
    other = _rec([2, 1], rid="c", rater="r2", responses=["x", "y"])
    rows = ranking_ratings([a, again, other])
    assert [(r["rater_id"], r["score"]) for r in rows] == [("r1", 1), ("r1", 2), ("r2", 2), ("r2", 1)]
    assert rows[0]["item_id"] == rows[2]["item_id"]


# ---------------------------------------------------------------------------- the audit
def test_poisson_binomial_equals_binomial_and_brute_force():
    for n, k, x in ((10, 4, 5), (30, 4, 26), (7, 3, 0), (12, 2, 12)):
        ref = stats.binomtest(x, n, 1 / k, alternative="greater").pvalue
        assert poisson_binomial_sf(x, [1 / k] * n) == pytest.approx(ref, rel=1e-9)
    probs = [0.25, 0.5, 1 / 3, 0.2, 0.25]
    for x in range(len(probs) + 1):
        brute = sum(
            __import__("math").prod(p if h else 1 - p for p, h in zip(probs, hits, strict=True))
            for hits in itertools.product([0, 1], repeat=len(probs))
            if sum(hits) >= x
        )
        assert poisson_binomial_sf(x, probs) == pytest.approx(brute, abs=1e-12)


def _ranking_rows(n: int, rater: str, first_wins: int) -> list[dict]:
    rows = []
    for i in range(n):
        ranks = [1, 2, 3, 4] if i < first_wins else [2, 1, 3, 4]
        rows.append(
            {"prompt": f"p{i}", "responses": [f"a{i}", f"b{i}", f"c{i}", f"d{i}"], "ranks": ranks, "rater_id": rater}
        )
    return rows


def test_position_bias_flags_only_the_biased_rater(tmp_path):
    rows = _ranking_rows(20, "fair", 5) + _ranking_rows(20, "biased", 15)
    report = validate_file(_write(tmp_path, rows))
    flagged = [f for f in report.findings if f.check == "ranking.position_bias"]
    assert [f.data["rater_id"] for f in flagged] == ["biased"]
    d = flagged[0].data
    assert d["p_value"] == pytest.approx(stats.binomtest(15, 20, 0.25, alternative="greater").pvalue, rel=1e-9)
    lo, hi = proportion_confint(15, 20, alpha=0.05, method="wilson")
    assert d["rate"] == 0.75 and d["rate_ci"] == pytest.approx([lo, hi], abs=1e-12) and d["n"] == 20
    summary = next(f for f in report.findings if f.check == "ranking.position_summary")
    assert summary.data["raters"]["fair"]["p_value"] > 0.05


def test_incomplete_ties_duplicates_and_contradictions(tmp_path):
    rows = [
        {"prompt": "p", "responses": ["a", "b", "c"], "ranks": [1, 2, None], "rater_id": "r"},
        {"prompt": "p", "responses": ["a", "b", "c"], "ranks": [1, 1, 2], "rater_id": "s"},
        {"prompt": "q", "responses": ["Same text", "same  TEXT", "c"], "ranks": [1, 2, 3], "rater_id": "r"},
        {"prompt": "P", "responses": ["b", "a", "c"], "ranks": [1, 2, 3], "rater_id": "r"},  # r flips a/b of line 1
        {"prompt": "p", "responses": ["b", "a", "c"], "ranks": [1, 2, 3], "rater_id": "s"},  # s tied them: no flip
    ]
    report = validate_file(_write(tmp_path, rows))
    by = {}
    for f in report.findings:
        by.setdefault(f.check, []).append(f)
    assert [f.lines for f in by["ranking.incomplete"]] == [[1]]
    assert by["ranking.ties"][0].data["n_tied"] == 1
    assert [f.lines for f in by["ranking.near_duplicate_responses"]] == [[3]]
    assert [f.lines for f in by["ranking.contradiction"]] == [[1, 4]]
    assert by["ranking.contradiction"][0].data["pairs"] == [[0, 1]]
    assert not [f for f in report.findings if f.check.startswith(("duplicates.", "schema."))]


def test_bundled_example_shows_the_planted_problems():
    report = validate_file(ROOT / "examples" / "rankings.jsonl")
    checks = {f.check for f in report.findings}
    assert {"ranking.incomplete", "ranking.contradiction", "ranking.near_duplicate_responses"} <= checks
    assert [f.data["rater_id"] for f in report.findings if f.check == "ranking.position_bias"] == ["dev"]
    assert report.counts()["error"] == 0


def test_cli_writes_pairs_ratings_and_the_conversion_record(tmp_path):
    out = tmp_path / "out"
    r = run(
        "rankings", "examples/rankings.jsonl", "--out", str(out), "--pairs", "adjacent", "--ties", "margin0", "--json"
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.pairs/v1" and (doc["scheme"], doc["ties"]) == ("adjacent", "margin0")
    pairs = [json.loads(line) for line in (out / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == doc["n_pairs"] == doc["ordered_pairs"] + doc["tied_pairs_kept"]
    assert json.loads((out / "conversion.json").read_text())["file_hash"] == doc["file_hash"]
    assert (out / "ratings.csv").read_text().startswith("item_id,rater_id,score")


def test_several_raters_of_the_same_responses_are_not_near_duplicates_with_a_holdout(tmp_path):
    # Each rater sees the responses in another order: the records' texts are near, not exact, duplicates.
    orders = {"a": [0, 1, 2], "b": [2, 0, 1], "c": [1, 2, 0]}
    rows = []
    for i in range(3):
        resp = [f"the lamp {i} sparks so unplug it now", f"lamp {i} is fine, keep using it", f"call support about {i}"]
        for r, order in orders.items():
            rows.append(
                {
                    "prompt": f"Ticket {i}: my lamp {i} is broken and sparks at night, what should I do?",
                    "responses": [resp[j] for j in order],
                    "ranks": [order.index(j) + 1 for j in range(3)],
                    "rater_id": r,
                }
            )
    holdout = tmp_path / "holdout.jsonl"
    holdout.write_text(json.dumps({"id": "h1", "prompt": "Completely unrelated words about gardening"}) + "\n")
    for kwargs in ({}, {"holdouts": [holdout], "paraphrase": False}):
        report = validate_file(_write(tmp_path, rows), **kwargs)
        assert not [f for f in report.findings if f.check.startswith("duplicates.")], kwargs
