"""The OpenAI-compatible generator against a local test server: concurrency, retries, timeouts, errors."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from harness.errors import ModelError, ServiceError
from harness.eval.cache import GenerationCache
from harness.eval.evaluate import evaluate_suite
from harness.eval.suite import load_suite
from harness.models.base import GenerationRequest, GenerationSettings
from harness.models.factory import make_generator
from harness.models.openai import OpenAIGenerator
from tests.fixtures.fake_openai import JsonHandler


class Server:
    """A tiny OpenAI-compatible server whose behaviour depends on the prompt text."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        self.bodies: list[dict] = []
        self.release = threading.Event()
        self.barrier = threading.Barrier(4, timeout=20)
        self.lock = threading.Lock()
        server = self

        class Handler(JsonHandler):

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.bodies.append({"path": self.path, **body})
                if self.path.endswith("/chat/completions"):
                    text = body["messages"][-1]["content"]
                elif self.path.endswith("/completions"):
                    text = body["prompt"]
                else:
                    return self._send(404, {"error": "no such route"})
                with server.lock:
                    server.seen[text] += 1
                    n = server.seen[text]
                if "flaky" in text and n <= 2:
                    return self._send(503 if n == 1 else 429, {"error": "busy"}, {"Retry-After": "0"})
                if "slow" in text and n == 1:
                    server.release.wait(30)  # longer than the client's timeout
                    return None
                if "bad" in text:
                    return self._send(400, {"error": {"message": "invalid request"}})
                if "garbled" in text:
                    return self._send(200, {"nothing": True})
                if "together" in text:
                    server.barrier.wait()  # returns only when 4 requests are in flight at once
                kind = "chat" if "messages" in body else "text"
                reply = f"{kind}:{text}" + (" \ud800 \U0001f600" if "surrogate" in text else "")
                if self.path.endswith("/chat/completions"):
                    choice = {"message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}
                else:
                    choice = {"text": reply, "finish_reason": "stop"}
                self._send(200, {"choices": [choice], "usage": {"completion_tokens": 3}})


        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def gen(server: Server, **kw: object) -> OpenAIGenerator:
    delays: list[float] = []
    g = OpenAIGenerator("test-model", endpoint=server.url, sleep=delays.append, **kw)  # type: ignore[arg-type]
    g.delays = delays  # type: ignore[attr-defined]
    return g


def run(g: OpenAIGenerator, prompts: list, settings: GenerationSettings | None = None) -> dict[int, str]:
    reqs = [GenerationRequest(f"i{n}", p) for n, p in enumerate(prompts)]
    return {i: c.text for i, c in g.generate(reqs, settings or GenerationSettings())}


def test_chat_and_completions_routes_and_body(server):
    g = gen(server)
    out = run(g, ["hello", [{"role": "user", "content": "hi there"}]], GenerationSettings(system="sys", stop=["zz"]))
    assert out == {0: "chat:hello", 1: "chat:hi there"}
    body = server.bodies[0]
    assert body["path"] == "/v1/chat/completions" and body["model"] == "test-model"
    assert body["messages"][0] == {"role": "system", "content": "sys"} and body["temperature"] == 0.0
    assert body["stop"] == ["zz"] and body["max_tokens"] == 96 and "top_p" not in body
    out = run(g, ["raw text"], GenerationSettings(chat_template=False))
    assert out == {0: "text:raw text"} and server.bodies[-1]["path"] == "/v1/completions"


def test_requests_run_concurrently(server):
    g = gen(server, concurrency=4)
    out = run(g, [f"together {i}" for i in range(8)])  # each waits until four are in flight
    assert sorted(out.values()) == sorted(f"chat:together {i}" for i in range(8))


def test_retries_with_backoff_then_success(server):
    g = gen(server, backoff=0.25)
    assert run(g, ["flaky one"]) == {0: "chat:flaky one"}
    assert server.seen["flaky one"] == 3 and g.retries_done == 2
    assert g.delays == [0.0, 0.0]  # Retry-After: 0 from the server wins over the backoff
    g2 = gen(server, backoff=0.25, max_retries=1)
    with pytest.raises(ServiceError, match="after 2 tries: HTTP 429"):
        run(g2, ["flaky two"])
    assert g2.delays == [0.0]


def test_backoff_doubles_without_retry_after(server):
    g = gen(server, backoff=0.5)
    assert g._retry_delay(0, None) == 0.5 and g._retry_delay(3, None) == 4.0 and g._retry_delay(10, None) == 30.0


def test_timeout_is_retried(server):
    g = gen(server, timeout=0.5)
    assert run(g, ["slow one"]) == {0: "chat:slow one"}
    assert server.seen["slow one"] == 2 and g.retries_done == 1


def test_client_errors_are_not_retried_and_garbage_is_an_error(server):
    g = gen(server)
    with pytest.raises(ModelError, match="HTTP 400"):
        run(g, ["bad request"])
    assert server.seen["bad request"] == 1
    with pytest.raises(ModelError, match="unexpected response"):
        run(g, ["garbled"])


def test_unreachable_server_fails_clearly():
    g = OpenAIGenerator("m", endpoint="http://127.0.0.1:9", max_retries=1, sleep=lambda s: None, timeout=2)
    with pytest.raises(ServiceError, match="connection failed") as caught:
        run(g, ["x"])
    assert caught.value.exit_code == 4  # infrastructure: CI may retry, unlike bad input (2)


def test_make_generator_needs_endpoint(server):
    with pytest.raises(ModelError, match="--endpoint"):
        make_generator("openai:test-model")
    with pytest.raises(ModelError, match="only for 'openai"):
        make_generator("smollm2-135m", endpoint=server.url)
    g = make_generator("openai:test-model", endpoint=server.url)
    assert g.describe()["kind"] == "openai" and g.fingerprint.endswith(server.url)


def test_evaluate_through_the_server_with_cache(server, tmp_path):
    root = tmp_path / "s"
    root.mkdir()
    (root / "suite.yaml").write_text(
        "name: echo\nrubric:\n  name: r\n  criteria:\n    - {id: ok, scale: binary, scorer: {type: contains}}\n"
    )
    (root / "items.jsonl").write_text(
        "".join(json.dumps({"id": f"e{i}", "prompt": f"word{i}", "reference": f"word{i}"}) + "\n" for i in range(12))
    )
    cache = GenerationCache(tmp_path / "c.sqlite")
    suite = load_suite(root)
    run1 = evaluate_suite(suite, make_generator("openai:test-model", endpoint=server.url), cache=cache)
    assert run1.summary["ok"].mean == 1.0 and len(server.bodies) == 12
    run2 = evaluate_suite(suite, make_generator("openai:test-model", endpoint=server.url), cache=cache)
    assert len(server.bodies) == 12 and all(r.cached for r in run2.items)


def test_a_lone_surrogate_in_a_reply_becomes_a_replacement_character_and_caches(server, tmp_path):
    """JSON may escape half a UTF-16 pair (``"\\ud800"``): the reply keeps U+FFFD there, so the cache and every
    document written from it stay valid UTF-8 (a well-formed pair, the emoji, is kept as it is)."""
    out = run(gen(server), ["surrogate"])
    assert out == {0: "chat:surrogate \ufffd \U0001f600"}
    cache = GenerationCache(tmp_path / "c.sqlite")
    cache.put("k", out[0], model="m")
    assert cache.get("k").text == out[0] and out[0].encode("utf-8")
