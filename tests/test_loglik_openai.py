"""Log-likelihoods from an OpenAI-compatible server (completions with echo + logprobs), against a local test server."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

import pytest

from harness.errors import ModelError
from harness.eval.evaluate import evaluate_suite
from harness.eval.suite import load_suite
from harness.models.loglik import LoglikRequest
from harness.models.openai import OpenAIGenerator
from tests.fixtures.fake_openai import JsonHandler


def tokens(text: str) -> list[str]:
    """The test server's tokenizer: words with their leading spaces."""
    return re.findall(r"\s*\S+|\s+$", text)


def token_logprob(tok: str) -> float:
    return -float(len(tok))


class Server:
    """Echoes prompt log-probabilities like vLLM's /v1/completions; 'chat-only' mode omits them."""

    def __init__(self, mode: str = "echo") -> None:
        self.mode = mode
        self.bodies: list[dict] = []
        server = self

        class Handler(JsonHandler):

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.bodies.append(body)
                if server.mode == "reject":
                    return self._send(400, {"error": {"message": "echo is not supported"}})
                prompt = body["prompt"]
                choice: dict = {"text": prompt + " next" if body.get("echo") else " next", "finish_reason": "length"}
                if server.mode == "echo":
                    toks, offs, off = [*tokens(prompt), " next"], [], 0
                    for t in toks:
                        offs.append(off)
                        off += len(t)
                    lps = [None, *(token_logprob(t) for t in toks[1:])]
                    # the greedy token at each position is a one-character one: only those are argmax
                    top = [
                        None,
                        *(
                            {t: lp} if len(t.strip()) == 1 else {"x": -0.5, t: lp}
                            for t, lp in zip(toks[1:], lps[1:], strict=True)
                        ),
                    ]
                    choice["logprobs"] = {
                        "tokens": toks,
                        "token_logprobs": lps,
                        "text_offset": offs,
                        "top_logprobs": top,
                    }
                self._send(200, {"choices": [choice]})


        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.close()


def test_continuation_logprobs_from_echo(server):
    g = OpenAIGenerator("m", endpoint=server.url, max_retries=0)
    out = g.loglikelihood([
        LoglikRequest("Question: sky?\nAnswer:", " blue sky"),
        LoglikRequest("Question: sky? ", "b"),  # the trailing space moves to the continuation, as in lm-eval
    ])  # fmt: skip
    assert out[0].logprob == -(len(" blue") + len(" sky")) and out[0].tokens == 2 and not out[0].is_greedy
    assert out[1].logprob == -2.0 and out[1].tokens == 1 and out[1].is_greedy
    body = server.bodies[0]
    assert body["echo"] is True and body["logprobs"] == 1 and body["max_tokens"] == 1 and body["temperature"] == 0
    assert {b["prompt"] for b in server.bodies} == {"Question: sky?\nAnswer: blue sky", "Question: sky? b"}


def test_rolling_scores_every_token_but_the_first(server):
    g = OpenAIGenerator("m", endpoint=server.url)
    (r,) = g.loglikelihood_rolling(["one two three"])
    assert r.logprob == -(4 + 6) and r.tokens == 2


def test_multiple_choice_suite_over_a_server(server, tmp_path):
    (tmp_path / "suite.yaml").write_text("name: mc\nmethod: multiple_choice\n")
    rows = [{"id": "a", "prompt": "Colour?", "choices": ["blue", "b"], "answer": 1}]
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = evaluate_suite(load_suite(tmp_path), OpenAIGenerator("m", endpoint=server.url))
    assert run.items[0].loglik["loglikelihoods"] == [-5.0, -2.0] and run.items[0].scores["acc"].value == 1.0
    n = len(server.bodies)  # one request per choice: their tries are summarised in the run
    assert n >= 2 and run.manifest.requests == {"items": n, "attempts": n, "retried_items": 0, "retries": 0,
                                                "errors": {}}  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "message"), [("plain", "returned no prompt log-probabilities"), ("reject", "HTTP 400")]
)
def test_server_without_prompt_logprobs_is_a_clear_error(mode, message, tmp_path):
    s = Server(mode)
    try:
        g = OpenAIGenerator("m", endpoint=s.url, max_retries=0)
        with pytest.raises(ModelError, match=message) as e:
            g.loglikelihood([LoglikRequest("Q:", " a")])
        assert e.value.exit_code == 2
        if mode == "plain":
            assert "echo" in str(e.value) and "logprobs" in str(e.value)
    finally:
        s.close()


def test_cli_exit_2_for_a_server_without_logprobs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    s = Server("plain")
    try:
        (tmp_path / "suite.yaml").write_text("name: mc\nmethod: multiple_choice\n")
        (tmp_path / "items.jsonl").write_text(json.dumps({"prompt": "Q?", "choices": ["a", "b"], "answer": 0}) + "\n")
        r = subprocess.run(
            [sys.executable, "-m", "harness", "eval", str(tmp_path), "--model", "openai:m", "--endpoint", s.url,
             "--no-cache"],
            capture_output=True, text=True, cwd=Path(__file__).parent.parent, timeout=300,
        )  # fmt: skip
        assert r.returncode == 2 and "no prompt log-probabilities" in r.stderr and "Traceback" not in r.stderr
    finally:
        s.close()
