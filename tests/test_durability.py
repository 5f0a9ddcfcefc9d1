"""Per-item durability: a run killed with SIGKILL inside a batch keeps every generation it finished.

The model is an OpenAI-compatible server written here: its replies finish one by one, and after a
set number of answers it holds every further request, so the test can kill ``harness eval``
(a subprocess, default settings) at a known point: N items committed to the cache, the rest of the
suite's one ``generate`` call (up to ``concurrency`` requests) in flight. The rerun must ask the
server only for the missing items and produce the same run document as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fake_openai import JsonHandler

ROOT = Path(__file__).parent.parent
SUITE = ROOT / "suites" / "general"
N_ITEMS = len((SUITE / "items.jsonl").read_text().splitlines())


class HoldingServer:
    """Answers chat completions deterministically; after ``allow`` answers it holds new requests."""

    def __init__(self) -> None:
        self.allow: int | None = None
        self.received: list[str] = []  # the prompt of every request, in arrival order
        self.answered: list[str] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.since = 0.0  # connections accepted before this belong to an earlier (killed) run
        self.late: list[str] = []  # requests of such connections read after the rerun began
        server = self

        class Handler(JsonHandler):
            def setup(self) -> None:
                super().setup()
                self.accepted = time.monotonic()

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompt = body["messages"][-1]["content"]
                with server.lock:
                    if self.accepted < server.since:  # the killed client's request, read late
                        server.late.append(prompt)
                        return
                    server.received.append(prompt)
                    hold = server.allow is not None and len(server.answered) >= server.allow
                    if not hold:
                        server.answered.append(prompt)
                if hold:  # a request in flight when the client dies: never answered
                    server.release.wait(60)
                    return
                # deterministic, and right for some items: the digit sum of the prompt's hash
                digest = hashlib.sha256(prompt.encode()).hexdigest()
                text = f"{sum(int(c, 16) for c in digest[:2]) % 10}"
                message = {"role": "assistant", "content": text}
                with contextlib.suppress(OSError):  # the client may be gone
                    self._send(200, {"choices": [{"message": message}], "usage": {"completion_tokens": 1}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def eval_cmd(url: str, cache: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "harness", "--quiet", "eval", str(SUITE), "--model", "openai:fake", "--endpoint",
            url, "--cache", str(cache), "--out", str(out), "--no-store"]  # fmt: skip


def run_eval(url: str, cache: Path, out: Path) -> dict[str, Any]:
    r = subprocess.run(
        eval_cmd(url, cache, out), capture_output=True, text=True, cwd=ROOT, timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert r.returncode in (0, 1), r.stderr
    return json.loads((out / "run.json").read_text())


def committed(cache: Path) -> int:
    """Rows committed to the cache, read by another connection as a second process would."""
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{cache}?mode=ro", uri=True, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    except sqlite3.OperationalError:  # the file exists but the table does not yet
        return 0


def comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """The run document without what legitimately differs between two runs: times, cache hits, command,
    and the requests this run sent to the server (a cached item sends none)."""
    doc = json.loads(json.dumps(doc))
    for key in ("created", "command", "timing", "requests"):
        doc["manifest"].pop(key, None)
    for item in doc["items"]:
        for key in ("seconds", "cached", "requests"):
            item.pop(key, None)
        for att in item.get("attempts") or []:
            att.pop("seconds", None)
    return doc


@pytest.fixture
def server():
    s = HoldingServer()
    yield s
    s.close()


def test_sigkill_mid_batch_loses_only_the_items_in_flight(server, tmp_path):
    reference = run_eval(server.url, tmp_path / "ref.sqlite", tmp_path / "ref")
    assert len(server.received) == N_ITEMS

    # the killed run: 10 answers, then every request is held until the process is killed
    server.received.clear()
    server.answered.clear()
    server.allow = 10
    cache = tmp_path / "cache.sqlite"
    proc = subprocess.Popen(
        eval_cmd(server.url, cache, tmp_path / "out"), cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while committed(cache) < 10:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "the answered items never reached the cache"
            time.sleep(0.05)
        # the items of the batch still in flight: the server holds them (concurrency 8 by default)
        while len(server.received) < 11:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    assert committed(cache) == 10  # every answer was committed before the kill, none after
    assert not (tmp_path / "out" / "run.json").exists()
    done_before = list(server.answered)

    # the rerun: only what is missing is asked for, and the document is the uninterrupted one
    server.release.set()
    with server.lock:
        server.allow = None
        server.since = time.monotonic()
        server.received.clear()
        server.answered.clear()
    resumed = run_eval(server.url, cache, tmp_path / "out")
    assert len(server.received) == N_ITEMS - 10
    assert not set(server.received) & set(done_before)
    assert sorted(server.received + done_before) == sorted(set(server.received + done_before))
    assert sum(item["cached"] for item in resumed["items"]) == 10
    assert resumed["manifest"]["timing"]["generated"] == N_ITEMS - 10
    # the run records the requests it sent: only those of the missing items, one try each
    assert resumed["manifest"]["requests"]["items"] == resumed["manifest"]["requests"]["attempts"] == N_ITEMS - 10
    assert sum(1 for item in resumed["items"] if item.get("requests")) == N_ITEMS - 10
    assert comparable(resumed) == comparable(reference)




PROMPTS = ["The quick brown fox", "Extract the ticket fields as JSON.", "hi", "What is the capital of France?",
           "0 1 2 3", "one two three four five six"]  # fmt: skip


def early_end_token(gen: Any, settings: Any) -> int:
    """A token some outputs produce midway and others never: as an end token, those rows leave the batch early."""
    from harness.models.base import GenerationRequest

    full = [c for _, c in gen.generate([GenerationRequest(f"i{n}", p) for n, p in enumerate(PROMPTS)], settings)]
    toks = [gen.tokenizer(c.text, add_special_tokens=False)["input_ids"] for c in full]
    return next(t for t in sorted({t for o in toks for t in o[1:]}) if any(t not in o for o in toks))


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_hf_batch_commits_each_row_as_it_ends_while_the_batch_runs(
    lively_model_dir, tmp_path, monkeypatch, temperature
):
    """One batch on the local model: rows that end early are in the cache before the batch's last step."""
    import functools

    from harness.eval.cache import GenerationCache
    from harness.eval.evaluate import evaluate_suite
    from harness.eval.suite import load_suite
    from harness.models.base import GenerationSettings
    from harness.models.factory import make_generator

    folder = lively_model_dir
    prompts = PROMPTS
    suite_dir = tmp_path / "suite"
    suite_dir.mkdir()
    (suite_dir / "suite.yaml").write_text(
        f"name: rows\ngeneration: {{max_new_tokens: 10, chat_template: false, temperature: {temperature}}}\n"
        "rubric:\n  name: r\n  criteria:\n    - {id: brief, scorer: {type: chrf}}\n"
    )
    (suite_dir / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"i{n}", "prompt": p, "reference": "x"}) + "\n" for n, p in enumerate(prompts))
    )
    gen = make_generator(str(folder), batch_size=64)  # the whole suite is one batch
    settings = GenerationSettings(max_new_tokens=10, chat_template=False, temperature=temperature)
    monkeypatch.setattr(gen, "eos_ids", sorted({*gen.eos_ids, early_end_token(gen, settings)}))

    cache_path = tmp_path / "c.sqlite"
    seen: list[int] = []  # rows committed to the cache at each forward pass of the batch
    forward = gen.model.forward

    @functools.wraps(forward)  # the generator reads the forward's signature
    def counting_forward(*args: Any, **kwargs: Any) -> Any:
        seen.append(committed(cache_path))
        return forward(*args, **kwargs)

    monkeypatch.setattr(gen.model, "forward", counting_forward)
    with GenerationCache(cache_path) as cache:
        run = evaluate_suite(load_suite(suite_dir), gen, cache=cache)
    assert gen.last_batch_size == len(prompts)
    assert committed(cache_path) == len(prompts) == len(run.items)
    # some rows were committed while the batch still ran forward passes for the others
    assert any(0 < n < len(prompts) for n in seen), seen


def test_streamed_sampling_gives_the_outputs_of_one_model_generate_call(lively_model_dir):
    """Rows reported by the stopping criterion as they end equal those of a plain seeded ``model.generate``."""
    import torch
    from transformers import GenerationConfig

    from harness.models.factory import make_generator
    from harness.models.hf_sample import sample_rows

    gen = make_generator(str(lively_model_dir), batch_size=64)
    ids, mask = gen._pad(gen._encode(PROMPTS, templated=False))

    def config(eos: list[int]) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=10, do_sample=True, temperature=1.0, top_p=1.0, eos_token_id=eos,
                                pad_token_id=gen.tokenizer.pad_token_id)  # fmt: skip

    def reference(eos: list[int]) -> dict[int, list[int]]:
        torch.manual_seed(3)
        with torch.inference_mode():
            ref = gen.model.generate(input_ids=ids, attention_mask=mask, generation_config=config(eos))
        return {r: row[: next((n for n, t in enumerate(row) if t in eos), len(row))]
                for r, row in enumerate(ref[:, ids.shape[1] :].tolist())}  # fmt: skip

    toks = list(reference(gen.eos_ids).values())
    # a token some rows sample midway and others never: as an end token, those rows end early
    early = next(t for t in sorted({t for o in toks for t in o[1:]}) if any(t not in o for o in toks))
    eos = sorted({*gen.eos_ids, early})
    cfg = config(eos)
    steps = list(sample_rows(gen.model, ids, mask, cfg, eos, seed=3))
    expected = reference(eos)
    assert {r: toks for step in steps for r, toks in step} == expected
    assert sum(len(step) for step in steps) == len(PROMPTS) and len(steps) > 1  # rows came out step by step
    assert any(len(t) < 10 for t in expected.values()) and any(len(t) == 10 for t in expected.values())


def test_judge_verdicts_are_committed_one_by_one(tmp_path):
    """An API judge stopped after 5 replies keeps those 5 verdicts; the rerun asks only for the rest."""
    from harness.eval.cache import GenerationCache
    from harness.eval.evaluate import evaluate_suite
    from harness.eval.suite import load_suite
    from harness.models.fake import FakeGenerator

    suite_dir = tmp_path / "s"
    suite_dir.mkdir()
    (suite_dir / "suite.yaml").write_text(
        "name: judged\nrubric:\n  name: r\n  criteria:\n    - id: good\n      description: answers well\n"
        "      scale: {levels: [{value: 1, anchor: bad}, {value: 2, anchor: good}]}\n"
        "      scorer: {type: judge, model: api-judge}\n"
    )
    (suite_dir / "items.jsonl").write_text("".join(json.dumps({"id": f"q{i}", "prompt": f"Say {i}."}) + "\n"
                                                   for i in range(12)))  # fmt: skip

    class Stop(Exception):
        pass

    class ApiJudge(FakeGenerator):
        level_probabilities = None  # type: ignore[assignment]  # an API judge answers in text

    def stop_after(n: int):
        def check(req: Any) -> None:
            if len(judge.calls) >= n:
                raise Stop

        return check

    def grade(req: Any) -> str:
        return "2" if int(req.prompt[0]["content"].split("Say ")[1].split(".")[0]) % 2 else "1"

    judge = ApiJudge(grade, fingerprint="judge", on_output=stop_after(5))
    cache = GenerationCache(tmp_path / "c.sqlite")
    with pytest.raises(Stop):
        evaluate_suite(load_suite(suite_dir), FakeGenerator(lambda r: f"{r.item_id} done"), judge=judge, cache=cache)
    kinds = [e.meta.get("kind") for e in cache.get_many(_all_keys(cache)).values()]
    assert kinds.count("judge") == 5 and len(kinds) == 12 + 5  # all 12 generations, 5 verdicts

    judge = ApiJudge(grade, fingerprint="judge")
    run = evaluate_suite(load_suite(suite_dir), FakeGenerator(lambda r: f"{r.item_id} done"), judge=judge, cache=cache)
    assert len(judge.calls) == 12 - 5
    straight = evaluate_suite(load_suite(suite_dir), FakeGenerator(lambda r: f"{r.item_id} done"),
                              judge=ApiJudge(grade, fingerprint="judge"))  # fmt: skip
    assert [r.scores["good"].value for r in run.items] == [r.scores["good"].value for r in straight.items]


def _all_keys(cache: Any) -> list[str]:
    return [k for (k,) in cache._db.execute("SELECT key FROM generations").fetchall()]
