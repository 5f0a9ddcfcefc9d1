"""End to end on the bundled model: a few items of each bundled suite, through the cache."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite
from harness.eval.run import load_run
from harness.eval.suite import load_suite
from harness.models.factory import make_generator
from harness.report.run import write_run

ROOT = Path(__file__).parent.parent
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def smollm():
    return make_generator("smollm2-135m", batch_size=4)


@pytest.mark.parametrize("name", ["tickets", "general", "safety"])
def test_bundled_model_on_each_suite(smollm, tmp_path, name):
    suite = load_suite(ROOT / "suites" / name)
    suite.generation.max_new_tokens = 24  # a few items, short outputs: the real runs use the suite's settings
    cache = GenerationCache(tmp_path / "c.sqlite")
    run = evaluate_suite(suite, smollm, cache=cache, limit=3)
    assert len(run.items) == 3 and all(r.output.strip() for r in run.items)
    for r in run.items:
        for cid, s in r.scores.items():
            assert s.value is None or 0.0 <= s.value <= 1.0, (cid, s)
    assert run.summary["overall"].n + run.summary["overall"].n_unscored == 3
    assert run.model["kind"] == "gguf" and run.model["chat_template"] is True
    assert run.manifest["hashes"]["model"] == smollm.fingerprint
    if name == "tickets":
        sys.path.insert(0, str(ROOT / "examples"))
        from make_examples import INSTRUCTION

        assert all(str(r.prompt).startswith(INSTRUCTION) for r in run.items)
    write_run(run, tmp_path / "out")
    assert load_run(tmp_path / "out").summary == run.summary
    again = evaluate_suite(suite, smollm, cache=cache, limit=3)
    assert all(r.cached for r in again.items) and [r.output for r in again.items] == [r.output for r in run.items]


def test_bundled_model_as_a_local_judge(smollm, tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    (root / "suite.yaml").write_text(
        "name: judged\nrubric:\n  name: r\n  criteria:\n    - id: helpful\n      description: answers the question\n"
        "      scale: {levels: {1: ignores the question, 2: partly answers, 3: fully answers}}\n"
        "      scorer: {type: judge}\n"
    )
    (root / "items.jsonl").write_text('{"id": "a", "prompt": "What is the capital of France?"}\n')
    from harness.models.outputs import OutputsGenerator

    outs = tmp_path / "o.jsonl"
    outs.write_text('{"id": "a", "output": "The capital of France is Paris."}\n')
    run = evaluate_suite(load_suite(root), OutputsGenerator(outs), judge=smollm)
    s = run.items[0].scores["helpful"]
    assert s.value is not None and 0.0 <= s.value <= 1.0 and "label mass" in s.explanation
    assert run.manifest["hashes"]["judges"] == {"helpful": smollm.fingerprint}
