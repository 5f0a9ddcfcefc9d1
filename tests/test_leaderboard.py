"""Leaderboard of N runs, checked against an independent computation (numpy, scipy, statsmodels),
on runs produced by harness eval from replayed outputs (``outputs:`` specs)."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations
from pathlib import Path

import jsonschema
import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from harness.compare.leaderboard import leaderboard, leaderboard_schema
from harness.eval.run import load_run

ROOT = Path(__file__).parent.parent
N_ITEMS = 60
# Per model, the probability an answer is right (one fixed draw each, seeded): two close, one far.
MODELS = {"alpha": 0.85, "beta": 0.80, "gamma": 0.45, "delta": 0.83}


def harness(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=600)  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """harness eval of four replayed models on one suite (binary 'correct', continuous 'overlap')."""
    root = tmp_path_factory.mktemp("board")
    suite = root / "suite"
    suite.mkdir()
    (suite / "rubric.yaml").write_text(
        "name: r\ncriteria:\n  - id: correct\n    description: right code\n    scale: binary\n"
        "    scorer: {type: contains}\n"
    )
    (suite / "suite.yaml").write_text("name: codes\nrubric: rubric.yaml\n")
    items = [{"id": f"q{i:02d}", "prompt": f"What is the code of entry {i}?", "reference": f"C{i:03d}"}
             for i in range(N_ITEMS)]  # fmt: skip
    (suite / "items.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    rng = np.random.default_rng(7)
    out = {}
    for name, p in MODELS.items():
        right = rng.random(N_ITEMS) < p
        rows = [{"id": it["id"], "output": f"It is {it['reference']}." if ok else "No idea."}
                for it, ok in zip(items, right, strict=True)]  # fmt: skip
        f = root / f"{name}.jsonl"
        f.write_text("".join(json.dumps(r) + "\n" for r in rows))
        r = harness("eval", str(suite), "--model", f"outputs:{f}", "--out", str(root / name), "--no-store",
                    "--no-cache")  # fmt: skip
        assert r.returncode == 0, r.stderr
        out[name] = root / name / "run.json"
    return out


def test_leaderboard_matches_an_independent_computation(runs: dict[str, Path]) -> None:
    loaded = [load_run(p) for p in runs.values()]
    names = list(runs)
    board = leaderboard(loaded, labels=names, resamples=4000, seed=3)
    b = board.criteria["correct"]
    assert b.binary and b.n == N_ITEMS and board.n_items == N_ITEMS
    x = {n: np.array([it.scores["correct"].value for it in r.items]) for n, r in zip(names, loaded, strict=True)}
    means = {n: float(v.mean()) for n, v in x.items()}
    # ranks: order of the means (numpy), best first
    assert [s.label for s in b.standings] == sorted(names, key=lambda n: -means[n])
    assert all(s.mean == pytest.approx(means[s.label]) for s in b.standings)
    # every pair once; p-values = statsmodels' exact McNemar; Holm = statsmodels' multipletests
    assert len(b.pairs) == len(list(combinations(names, 2)))
    ours, theirs = [], []
    for pr in b.pairs:
        xa, xb = x[pr.a], x[pr.b]
        table = [[int(np.sum((xa == 1) & (xb == 1))), int(np.sum((xa == 1) & (xb == 0)))],
                 [int(np.sum((xa == 0) & (xb == 1))), int(np.sum((xa == 0) & (xb == 0)))]]  # fmt: skip
        p = mcnemar(table, exact=True).pvalue
        assert pr.p_value == pytest.approx(p, rel=1e-9)
        assert pr.delta == pytest.approx(means[pr.a] - means[pr.b])
        ours.append(pr.p_value_holm)
        theirs.append(p)
    reject, adjusted, *_ = multipletests(theirs, alpha=0.05, method="holm")
    assert ours == pytest.approx(list(adjusted), rel=1e-9)
    assert [pr.significant for pr in b.pairs] == list(reject)
    # the set indistinguishable from the best: the best and those its Holm test does not separate
    best = b.standings[0].label
    expected = {best} | {pr.b for pr, rej in zip(b.pairs, reject, strict=True) if pr.a == best and not rej}
    assert set(b.indistinguishable) == expected and "gamma" not in expected and len(expected) >= 2
    # each pair's paired BCa interval agrees with scipy.stats.bootstrap (paired, BCa) to Monte Carlo error
    pr = next(p for p in b.pairs if {p.a, p.b} == {"alpha", "gamma"})
    d = x[pr.a] - x[pr.b]
    ref = sps.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=20000, method="BCa",
                        random_state=np.random.default_rng(0)).confidence_interval  # fmt: skip
    assert pr.ci[0] == pytest.approx(ref.low, abs=0.03) and pr.ci[1] == pytest.approx(ref.high, abs=0.03)
    # the overall (rubric-weighted) ranking equals the single criterion's here
    assert board.overall == "overall" and [s.label for s in board.criteria["overall"].standings] == [
        s.label for s in b.standings
    ]
    jsonschema.validate(board.to_document(), leaderboard_schema())


def test_compare_with_four_runs_writes_the_leaderboard(runs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    store = f"sqlite:///{tmp_path / 'store.sqlite'}"
    r = harness("compare", *map(str, runs.values()), "--out", str(out), "--json", "--store", store)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["schema"] == "harness.leaderboard/v1" and len(doc["models"]) == 4
    names = {p.name for p in out.iterdir()}
    assert names == {"leaderboard.json", "leaderboard.md", "leaderboard.html", ".harness-out.json"}
    html = (out / "leaderboard.html").read_text()
    assert html.count("row − column") == 2 and "<script" not in html  # a matrix per criterion
    assert "| a | b | a − b |" in (out / "leaderboard.md").read_text()
    from harness.store import Store

    with Store.open(store) as st:
        assert [rec.kind for rec in st.records(top_level=True)] == ["leaderboard"] and st.count() == 5


def test_runs_of_different_suites_are_refused(runs: dict[str, Path], tmp_path: Path) -> None:
    other = json.loads(runs["beta"].read_text())
    other["suite"]["name"] = "another"
    p = tmp_path / "other.json"
    p.write_text(json.dumps(other))
    store = tmp_path / "store.sqlite"
    r = harness("compare", str(runs["alpha"]), str(p), str(runs["gamma"]), "--store", str(store))
    assert r.returncode == 2 and "different suites" in r.stderr and "Traceback" not in r.stderr
    from harness.store import Store

    with Store.open(str(store)) as st:
        assert st.count() == 0  # nothing recorded


@pytest.mark.parametrize(
    "name", ["harness.compare.leaderboard", "harness.store.engine", "harness.store.documents", "harness.store.baseline"]
)
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_continuous_scores_pairs_agree_with_scipy_bootstrap() -> None:
    """Continuous scores (three models, n = 80): each pair's paired BCa interval against scipy's."""
    from fixtures.runs import make_run

    rng = np.random.default_rng(11)
    truth = rng.beta(4, 3, size=80)
    scores = {"a": np.clip(truth + 0.08, 0, 1), "b": np.clip(truth + rng.normal(0, 0.1, 80), 0, 1), "c": truth}
    runs = [make_run({"quality": v}, model=m) for m, v in scores.items()]
    board = leaderboard(runs, resamples=8000, seed=5)
    b = board.criteria["quality"]
    assert not b.binary and b.n == 80
    for pr in b.pairs:
        d = scores[pr.a] - scores[pr.b]
        ref = sps.bootstrap((d,), np.mean, confidence_level=0.95, n_resamples=20000, method="BCa",
                            random_state=np.random.default_rng(1)).confidence_interval  # fmt: skip
        width = ref.high - ref.low
        tol = 0.1 * width  # Monte Carlo error of two bootstraps
        assert pr.ci[0] == pytest.approx(ref.low, abs=tol) and pr.ci[1] == pytest.approx(ref.high, abs=tol)
        assert pr.p_method == "bootstrap_bca" and (pr.p_value < 0.05) == (pr.ci[0] > 0 or pr.ci[1] < 0)
    assert b.standings[0].label == "a" and "c" not in b.indistinguishable
