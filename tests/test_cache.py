"""The generation cache: keys, reuse, resume after SIGKILL, two processes sharing one file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from harness.eval.cache import GenerationCache, cache_key
from harness.eval.evaluate import evaluate_suite
from harness.eval.suite import load_suite
from harness.models.fake import FakeGenerator

ROOT = Path(__file__).parent.parent
N_ITEMS = 30


def make_suite(root: Path, n: int = N_ITEMS) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "suite.yaml").write_text(
        "name: nums\nrubric:\n  name: r\n  criteria:\n"
        "    - {id: right, scale: binary, scorer: {type: numeric}}\n"
        "    - {id: brief, scorer: {type: chrf}}\n"
    )
    (root / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": f"{i} + {i}?", "reference": 2 * i}) + "\n" for i in range(n))
    )
    return root


def answer(req) -> str:
    i = int(req.item_id[1:])
    return f"The sum is {2 * i if i % 3 else 2 * i + 1}."


def comparable(run) -> dict:
    """A run without what legitimately differs between runs: timing, cache flags, creation time."""
    items = [r.model_dump(exclude={"seconds", "cached", "attempts"}) for r in run.items]
    return {"items": items, "summary": {k: v.model_dump() for k, v in run.summary.items()}, "suite": run.suite}


def test_keys_depend_on_model_prompt_and_settings(tmp_path):
    k = cache_key("m", "p", {"max_new_tokens": 8})
    assert k != cache_key("m2", "p", {"max_new_tokens": 8})
    assert k != cache_key("m", "p2", {"max_new_tokens": 8})
    assert k != cache_key("m", "p", {"max_new_tokens": 9})
    with GenerationCache(tmp_path / "c.sqlite") as c:
        c.put(k, "out", model="m", seconds=0.5, tokens=3, meta={"item": "a"})
        e = c.get(k)
        assert e is not None and (e.text, e.seconds, e.tokens, e.meta) == ("out", 0.5, 3, {"item": "a"})
        assert c.get("missing") is None and len(c) == 1
        mode = c._db.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"


def test_second_run_generates_nothing_and_changed_settings_miss(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s"))
    cache = GenerationCache(tmp_path / "c.sqlite")
    first_gen = FakeGenerator(answer)
    first = evaluate_suite(suite, first_gen, cache=cache)
    assert len(first_gen.calls) == N_ITEMS and not any(r.cached for r in first.items)
    again_gen = FakeGenerator(answer)
    again = evaluate_suite(suite, again_gen, cache=cache)
    assert again_gen.calls == [] and all(r.cached for r in again.items)
    assert comparable(again) == comparable(first)
    assert again.manifest["timing"]["cached"] == N_ITEMS and again.manifest["timing"]["generated"] == 0
    # another model, or other generation settings, are other keys
    other = FakeGenerator(answer, fingerprint="other-model")
    evaluate_suite(suite, other, cache=cache)
    assert len(other.calls) == N_ITEMS
    suite.generation.max_new_tokens = 7
    changed = FakeGenerator(answer)
    evaluate_suite(suite, changed, cache=cache)
    assert len(changed.calls) == N_ITEMS


CHILD = textwrap.dedent(
    """
    import sys
    from harness.eval.cache import GenerationCache
    from harness.eval.evaluate import evaluate_suite
    from harness.models.fake import FakeGenerator
    from harness.eval.suite import load_suite
    sys.path.insert(0, {tests!r})
    from test_cache import answer

    suite_dir, cache_path, stop_after, fingerprint = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    seen = []

    def on_output(req):
        seen.append(req.item_id)
        if len(seen) == stop_after:
            print("ready", flush=True)
            sys.stdin.readline()  # block here until killed

    gen = FakeGenerator(answer, fingerprint=fingerprint, on_output=on_output)
    run = evaluate_suite(load_suite(suite_dir), gen, cache=GenerationCache(cache_path))
    print("done", run.summary["right"].mean, flush=True)
    """
)


def child(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(tests=str(Path(__file__).parent)))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_resume_after_sigkill_generates_only_missing_items_and_matches(tmp_path):
    suite_dir = make_suite(tmp_path / "s")
    cache_path = tmp_path / "c.sqlite"
    proc = child(tmp_path, str(suite_dir), str(cache_path), "12", "fake")
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    cache = GenerationCache(cache_path)
    assert len(cache) == 12  # each output was committed as it finished
    resumed_gen = FakeGenerator(answer)
    resumed = evaluate_suite(load_suite(suite_dir), resumed_gen, cache=cache)
    assert len(resumed_gen.calls) == N_ITEMS - 12
    assert {c.item_id for c in resumed_gen.calls} == {f"q{i}" for i in range(12, N_ITEMS)}
    assert sum(r.cached for r in resumed.items) == 12

    straight = evaluate_suite(load_suite(suite_dir), FakeGenerator(answer), cache=None)
    assert comparable(resumed) == comparable(straight)


@pytest.mark.parametrize("same_model", [True, False])
def test_two_processes_share_one_cache(tmp_path, same_model):
    suite_dir = make_suite(tmp_path / "s", n=200)
    cache_path = tmp_path / "c.sqlite"
    fps = ["fake", "fake"] if same_model else ["fake-a", "fake-b"]
    procs = [child(tmp_path, str(suite_dir), str(cache_path), "-1", fp) for fp in fps]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert out.startswith("done")
    cache = GenerationCache(cache_path)
    assert len(cache) == (200 if same_model else 400)
    gen = FakeGenerator(answer, fingerprint=fps[1])
    run = evaluate_suite(load_suite(suite_dir), gen, cache=cache)
    assert gen.calls == [] and run.summary["right"].n == 200
