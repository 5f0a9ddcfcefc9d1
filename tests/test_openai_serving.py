"""The openai backend against a fault-injecting fake server: options, model check, hints, retries recorded, Ctrl-C.

No real OpenAI-compatible server is started here: :mod:`tests.fixtures.fake_openai` speaks the
same HTTP API and injects the faults; ``tests/test_openai_real_server.py`` runs the CLI against a
real one (``transformers serve``).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.cli import main
from harness.cli.serving import serving_options
from harness.errors import InputError, ModelError, ServiceError
from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite
from harness.eval.run import load_run
from harness.eval.suite import load_suite
from harness.models.base import GenerationRequest, GenerationSettings
from harness.models.factory import make_generator
from harness.models.openai import OpenAIGenerator
from harness.models.serving import ServingOptions
from harness.models.spec import parse_spec
from harness.report.run import write_run
from tests.fixtures.fake_openai import FakeOpenAI

ROOT = Path(__file__).parent.parent


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    s = FakeOpenAI(models=["qwen2.5-0.5b-instruct", "smollm2-135m-instruct"])
    yield s
    s.close()


def make_suite(root: Path, prompts: list[str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "suite.yaml").write_text(
        "name: srv\nrubric:\n  name: r\n  criteria:\n    - {id: ok, scale: binary, scorer: {type: contains}}\n"
    )
    rows = [{"id": f"e{i}", "prompt": p, "reference": p} for i, p in enumerate(prompts)]
    (root / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as caught:
        main(list(args))
    out, err = capsys.readouterr()
    return int(caught.value.code or 0), out, err


# ---------------------------------------------------------------------------------- options


def test_serving_options_from_the_command_line():
    got = serving_options(
        timeout=600, concurrency=1, retries=6, backoff=2,
        request_param=["repeat_penalty=1.0", "seed=7", 'stop=["END"]', "top_k=1", 'extra_body={"min_p": 0.1}'],
    )  # fmt: skip
    assert got == {
        "timeout": 600, "concurrency": 1, "max_retries": 6, "backoff": 2, "repeat_penalty": 1.0, "seed": 7,
        "stop": ["END"], "extra_body": {"top_k": 1, "min_p": 0.1},
    }  # fmt: skip
    with pytest.raises(InputError, match="Did you mean 'repeat_penalty'"):
        serving_options(request_param=["repeat_penality=1.0"])
    with pytest.raises(InputError, match="KEY=VALUE"):
        serving_options(request_param=["repeat_penalty"])


def test_serving_options_validate_and_merge():
    base = ServingOptions.build({"timeout": 300, "extra_body": {"top_k": 1}}, where="f")
    top = base.merged({"timeout": 5, "extra_body": {"min_p": 0.1}}, where="cli")
    assert top.timeout == 5 and top.concurrency == 8 and top.extra_body == {"top_k": 1, "min_p": 0.1}
    with pytest.raises(InputError, match="Did you mean 'concurrency'"):
        ServingOptions.build({"concurency": 2}, where="f")
    with pytest.raises(InputError, match="timeout"):
        ServingOptions.build({"timeout": 0}, where="f")


def test_model_file_sets_options_and_the_command_line_wins(fake, tmp_path):
    f = tmp_path / "server.yaml"
    f.write_text(
        f"model: openai:qwen2.5-0.5b-instruct\nendpoint: {fake.url}\ntimeout: 300\nconcurrency: 2\n"
        "repeat_penalty: 1.0\nextra_body: {top_k: 1}\n"
    )
    spec = parse_spec(str(f))
    assert spec.kind == "openai" and spec.name == "qwen2.5-0.5b-instruct" and spec.endpoint == fake.url
    g = make_generator(spec, serving={"timeout": 7})
    d = g.describe()
    assert d["serving"] == {"timeout": 7, "concurrency": 2, "max_retries": 4, "backoff": 0.5}
    assert d["request_params"] == {"repeat_penalty": 1.0, "top_k": 1}
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"model: openai:x\nendpoint: {fake.url}\ntimout: 3\n")
    with pytest.raises(InputError, match="Did you mean 'timeout'") as caught:
        parse_spec(str(bad))
    assert caught.value.file == str(bad)
    (tmp_path / "nourl.yaml").write_text("model: openai:x\n")
    with pytest.raises(InputError, match="no endpoint"):
        parse_spec(str(tmp_path / "nourl.yaml"))


def test_request_params_pass_through_and_change_the_fingerprint(fake):
    plain = OpenAIGenerator("m", endpoint=fake.url)
    opts = ServingOptions(repeat_penalty=1.0, seed=7, stop=["END"], presence_penalty=0.5, extra_body={"top_k": 1})
    g = OpenAIGenerator("m", endpoint=fake.url, options=opts)
    out = dict(g.generate([GenerationRequest("a", "hello", seed=3)], GenerationSettings(stop=["zz"])))
    assert out[0].text == "chat:hello"
    body = fake.bodies[-1]
    assert body["repeat_penalty"] == 1.0 and body["seed"] == 7 and body["top_k"] == 1
    assert body["presence_penalty"] == 0.5 and body["stop"] == ["zz", "END"]
    assert g.fingerprint.startswith(plain.fingerprint + "#") and plain.fingerprint == f"openai:m@{fake.url}"


# ------------------------------------------------------------------------------ model check


def test_model_name_is_checked_against_v1_models(fake):
    g = make_generator("openai:qwen2.5-0.5b-instruct", endpoint=fake.url)
    assert g.describe()["model_check"] == f"listed by {fake.url}/models"
    with pytest.raises(ModelError, match=r"qwen2\.5-0\.5b-instruct, smollm2-135m-instruct") as caught:
        make_generator("openai:qwen2.5-0.5b-instruc", endpoint=fake.url)
    assert "Did you mean 'qwen2.5-0.5b-instruct'" in str(caught.value) and caught.value.exit_code == 2
    assert fake.bodies == []  # nothing was generated under a wrong name


def test_a_server_without_v1_models_is_not_checked_and_the_run_says_so(tmp_path):
    fake = FakeOpenAI(models=None)
    try:
        suite = load_suite(make_suite(tmp_path / "s", ["alpha", "beta"]))
        run = evaluate_suite(suite, make_generator("openai:anything", endpoint=fake.url))
        assert run.model.model_check == f"not checked: {fake.url}/models answered HTTP 404"
        write_run(run, tmp_path / "out")
        assert load_run(tmp_path / "out").model.model_check == run.model.model_check
    finally:
        fake.close()


def test_wrong_model_name_on_the_cli_exits_2_with_the_names(fake, tmp_path, capsys):
    s = make_suite(tmp_path / "s", ["alpha"])
    rc, _, err = cli(capsys, "eval", str(s), "--model", "openai:smollm2", "--endpoint", fake.url, "--no-store",
                     "--no-cache")  # fmt: skip
    assert rc == 2 and "smollm2-135m-instruct" in err and "Traceback" not in err


# ---------------------------------------------------------------------------- endpoint hints


def test_base_url_without_v1_gets_a_hint(fake):
    with pytest.raises(ModelError, match=rf"Did you mean --endpoint {fake.root}/v1\?"):
        make_generator("openai:qwen2.5-0.5b-instruct", endpoint=fake.root)
    g = make_generator("openai:qwen2.5-0.5b-instruct", endpoint=fake.url + "/chat/completions")  # a full route
    with pytest.raises(ModelError, match=rf"HTTP 404.*Did you mean --endpoint {fake.url}\?"):
        list(g.generate([GenerationRequest("a", "hi")], GenerationSettings()))
    unlisted = FakeOpenAI(models=None)  # no /models anywhere: the 404 of the first request gets the hint
    try:
        g = make_generator("openai:m", endpoint=unlisted.root)
        with pytest.raises(ModelError, match=rf"HTTP 404.*Did you mean --endpoint {unlisted.root}/v1\?"):
            list(g.generate([GenerationRequest("a", "hi")], GenerationSettings()))
    finally:
        unlisted.close()


def test_connection_refused_names_the_url_and_exits_4(tmp_path, capsys):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    s = make_suite(tmp_path / "s", ["alpha"])
    rc, _, err = cli(capsys, "eval", str(s), "--model", "openai:m", "--endpoint", url, "--retries", "1",
                     "--backoff", "0", "--no-store", "--no-cache")  # fmt: skip
    assert rc == 4, err
    assert f"nothing answers at {url}/chat/completions" in err and "after 2 tries" in err


# ------------------------------------------------------------------ retries, timeouts, record


def test_retries_and_errors_are_recorded_per_item_and_summarised(fake, tmp_path, capsys):
    s = make_suite(tmp_path / "s", ["fail=503x2 a", "fail=429x1 b", "plain c"])
    out = tmp_path / "out"
    rc, stdout, _ = cli(capsys, "eval", str(s), "--model", "openai:qwen2.5-0.5b-instruct", "--endpoint", fake.url,
                        "--backoff", "0", "--out", str(out), "--no-store", "--no-cache")  # fmt: skip
    assert rc == 0
    run = load_run(out)
    by_id = {it.id: it.requests for it in run.items}
    assert by_id["e0"]["attempts"] == 3 and by_id["e0"]["retries"] == 2
    assert by_id["e0"]["last_error"].startswith("HTTP 503") and len(by_id["e0"]["errors"]) == 2
    assert by_id["e1"]["attempts"] == 2 and by_id["e1"]["last_error"].startswith("HTTP 429")
    assert by_id["e2"] == {"attempts": 1, "retries": 0}
    assert run.manifest.requests == {
        "items": 3, "attempts": 6, "retried_items": 2, "retries": 3, "errors": {"HTTP 429": 1, "HTTP 503": 2}
    }  # fmt: skip
    line = "requests: 3 items, 6 tries; 2 items retried (3 retries: HTTP 429 ×1, HTTP 503 ×2)"
    assert line in stdout and line in (out / "run.md").read_text()
    assert run.model.serving == {"timeout": 120.0, "concurrency": 8, "max_retries": 4, "backoff": 0.0}


def test_retries_exhausted_exit_4(fake, tmp_path, capsys):
    s = make_suite(tmp_path / "s", ["fail=500x9 a"])
    rc, _, err = cli(capsys, "eval", str(s), "--model", "openai:qwen2.5-0.5b-instruct", "--endpoint", fake.url,
                     "--retries", "2", "--backoff", "0", "--no-store", "--no-cache")  # fmt: skip
    assert rc == 4 and "after 3 tries: HTTP 500" in err and fake.seen["fail=500x9 a"] == 3


def test_seconds_and_timeout_count_from_sending_not_from_the_queue(fake):
    # one slot, three requests of ~0.4 s: the third is answered ~1.2 s after it was queued, yet with a
    # 1 s timeout nothing times out and each item's seconds is its own request's time
    g = OpenAIGenerator("m", endpoint=fake.url, options=ServingOptions(concurrency=1, timeout=1.0, max_retries=0))
    reqs = [GenerationRequest(f"i{n}", f"delay=0.4 n{n}") for n in range(3)]
    t0 = time.perf_counter()
    out = dict(g.generate(reqs, GenerationSettings()))
    assert time.perf_counter() - t0 >= 1.2
    assert all(0.4 <= c.seconds < 0.9 for c in out.values()), [c.seconds for c in out.values()]
    assert all(c.requests is not None and c.requests.attempts == 1 for c in out.values())
    assert fake.in_flight_max == 1


def test_a_hung_request_times_out_and_is_retried(fake):
    g = OpenAIGenerator("m", endpoint=fake.url, options=ServingOptions(timeout=0.5, max_retries=1, backoff=0))
    with pytest.raises(ServiceError, match=r"after 2 tries: timed out after 0\.5 s"):
        list(g.generate([GenerationRequest("a", "hang")], GenerationSettings()))


def test_concurrency_option_bounds_requests_in_flight(tmp_path):
    fake = FakeOpenAI(models=None, barrier_parties=3)
    try:
        g = make_generator("openai:m", endpoint=fake.url, serving={"concurrency": 3})
        out = dict(g.generate([GenerationRequest(f"i{n}", f"together {n}") for n in range(6)], GenerationSettings()))
        assert len(out) == 6 and fake.in_flight_max == 3
    finally:
        fake.close()


# --------------------------------------------------------------------------------- Ctrl-C


def _terminal_signals() -> None:
    """In the child before exec: SIGINT as a terminal's process gets it (default action, not blocked),
    whatever the test process inherited or changed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stuck(proc: subprocess.Popen) -> str:
    """Where a process that ignores SIGINT is: its signal masks, then every thread's traceback
    (faulthandler prints them on SIGABRT)."""
    try:
        status = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
        masks = "; ".join(line for line in status if line.startswith(("State", "Sig", "Threads")))
    except OSError as exc:
        masks = f"no /proc status ({exc})"
    proc.send_signal(signal.SIGABRT)
    try:
        _, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return f"{masks}\nstderr after SIGABRT:\n{err[-6000:]}"


def test_ctrl_c_stops_at_once_against_a_hanging_server_and_keeps_the_cache(fake, tmp_path):
    prompts = [f"quick {i}" for i in range(3)] + [f"hang {i}" for i in range(3)]
    s = make_suite(tmp_path / "s", prompts)
    cache = tmp_path / "c.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_NO_PROGRESS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "harness", "eval", str(s), "--model",
         "openai:qwen2.5-0.5b-instruct", "--endpoint", fake.url, "--cache", str(cache), "--no-store",
         "--timeout", "600"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_terminal_signals,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until the three quick items are cached and the rest hang
            if cache.exists() and fake.in_flight == 3:
                with sqlite3.connect(cache) as db:
                    if db.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 3:
                        break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.1)
        else:
            pytest.fail("the quick items were never cached")
        t0 = time.monotonic()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit 15 s after SIGINT; {_stuck(proc)}")
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print(f"stopped {took:.2f} s after SIGINT")
    assert took < 5, f"took {took:.1f} s to stop"
    assert proc.returncode == 130 and "Traceback" not in err
    db = GenerationCache(cache)
    try:
        with sqlite3.connect(cache) as conn:
            items = sorted(json.loads(m)["item"] for (m,) in conn.execute("SELECT meta FROM generations"))
        assert items == ["e0", "e1", "e2"]
    finally:
        db.close()


def test_loglik_module_sits_below_the_generator():
    """No import cycle: openai_loglik imports the client module, never the generator (not even for types)."""
    import ast

    def imports(module: str) -> set[str]:
        tree = ast.parse((ROOT / (module.replace(".", "/") + ".py")).read_text())
        return {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}

    assert "harness.models.openai" not in imports("harness.models.openai_loglik")
    assert "harness.models.openai" not in imports("harness.models.openai_client")
    assert "harness.models.openai_loglik" in imports("harness.models.openai")


# ----------------------------------------------------------------------- every verb with specs


@pytest.mark.parametrize("verb", ["eval", "gate", "redteam"])
def test_every_verb_that_takes_a_model_has_the_serving_options(verb, capsys):
    rc, out, _ = cli(capsys, verb, "--help")
    assert rc == 0
    for opt in ("--timeout", "--concurrency", "--retries", "--backoff", "--request-param"):
        assert opt in out, (verb, opt)


def test_gate_passes_serving_options_to_base_and_candidate(fake, tmp_path, capsys):
    s = make_suite(tmp_path / "s", [f"word{i}" for i in range(6)])
    files = []
    for side, name in (("base", "qwen2.5-0.5b-instruct"), ("cand", "smollm2-135m-instruct")):
        f = tmp_path / f"{side}.yaml"
        f.write_text(f"model: openai:{name}\nendpoint: {fake.url}\nextra_body: {{top_k: 1}}\n")
        files.append(str(f))
    rc, _, err = cli(capsys, "gate", str(s), "--base", files[0], "--candidate", files[1], "--no-store", "--no-cache",
                     "--no-paraphrase", "--concurrency", "2", "--request-param", "repeat_penalty=1.0")  # fmt: skip
    assert rc in (0, 1, 3), err
    assert {b["model"] for b in fake.bodies} == {"qwen2.5-0.5b-instruct", "smollm2-135m-instruct"}
    assert len(fake.bodies) == 12 and fake.in_flight_max <= 2
    assert all(b["repeat_penalty"] == 1.0 and b["top_k"] == 1 for b in fake.bodies)


def test_fewer_server_slots_than_concurrency_is_warned(capsys):
    fake = FakeOpenAI(models=["m"], props={"total_slots": 1})
    try:
        g = make_generator("openai:m", endpoint=fake.url, serving={"concurrency": 4})
        err = capsys.readouterr().err
        assert "runs 1 request(s) at a time" in err and "--concurrency 1" in err
        assert g.describe()["server_slots"] == 1
        make_generator("openai:m", endpoint=fake.url, serving={"concurrency": 1})
        assert "warning" not in capsys.readouterr().err
    finally:
        fake.close()
