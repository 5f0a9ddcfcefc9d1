"""The ``openai:`` backend against a real OpenAI-compatible server: ``transformers serve``.

``transformers serve`` (FastAPI + uvicorn, shipped with transformers; the ``dev`` extra installs
fastapi, uvicorn and openai, which it needs) is started here as a subprocess on a free local port,
offline, pinned to the bundled SmolLM2-135M-Instruct as a local safetensors folder (the GGUF the
harness converts once, :func:`harness.models.weights.materialize_gguf`). The real ``harness eval``
CLI then runs a few items of the bundled ``general`` suite (16 new tokens, greedy) against it.

The server is pinned to the folder by a *relative* path, ``smollm2`` (a symlink in its working
folder): a pinned server lists that model alone, under the name it was started with, and refuses
any other name with HTTP 400. So the model name is ``openai:smollm2``.

The fault-injecting fake server of :mod:`tests.fixtures.fake_openai` covers delays, 429/5xx and
hangs (``tests/test_openai_serving.py``); this module checks the same code against a server the
harness did not write.
"""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
LIMIT = 8  # items of the general suite, 16 new tokens each: about a second per item on one CPU core
_MISSING = [m for m in ("fastapi", "uvicorn", "openai") if importlib.util.find_spec(m) is None]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(_MISSING),
        reason=f"transformers serve needs {', '.join(_MISSING)} (pip install 'finetune-harness[dev]')",
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TransformersServe:
    """``transformers serve smollm2`` in ``folder``, on ``port``, offline, one CPU thread."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder, self.port = folder, port
        self.url = f"http://127.0.0.1:{port}/v1"
        self.log = folder / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: float = 180.0) -> None:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
        cmd = [sys.executable, "-m", "transformers.cli.transformers", "serve", "smollm2",
               "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu", "--log-level", "info"]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"transformers serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.25)
        self.kill()
        pytest.fail(f"transformers serve did not answer /health within {wait:.0f} s:\n{self.log_tail()}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def model_folder() -> Path:
    from harness.models.spec import parse_spec

    return parse_spec("smollm2-135m").weights_folder()


@pytest.fixture(scope="module")
def server(model_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TransformersServe]:
    folder = tmp_path_factory.mktemp("serve")
    (folder / "smollm2").symlink_to(model_folder, target_is_directory=True)
    srv = TransformersServe(folder, free_port())
    srv.start()
    yield srv
    srv.kill()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled general suite with 16 new tokens instead of 48 (temperature 0: greedy)."""
    folder = tmp_path_factory.mktemp("suite") / "general"
    folder.mkdir()
    text = (ROOT / "suites" / "general" / "suite.yaml").read_text()
    rubric = (ROOT / "rubrics" / "general.yaml").resolve()
    assert "max_new_tokens: 48" in text and "rubric: ../../rubrics/general.yaml" in text
    text = text.replace("max_new_tokens: 48", "max_new_tokens: 16")
    text = text.replace("rubric: ../../rubrics/general.yaml", f"rubric: {json.dumps(str(rubric))}")
    (folder / "suite.yaml").write_text(text)
    (folder / "items.jsonl").write_bytes((ROOT / "suites" / "general" / "items.jsonl").read_bytes())
    return folder


def harness_eval(suite: Path, url: str, cache: Path, out: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HARNESS_NO_PROGRESS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "harness", "eval", str(suite), "--endpoint", url, "--limit", str(LIMIT),
           "--concurrency", "1", "--cache", str(cache), "--out", str(out), "--no-store", *args]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def cached_rows(cache: Path) -> int:
    if not cache.exists():
        return 0
    try:
        with sqlite3.connect(cache, timeout=5) as db:
            return int(db.execute("SELECT COUNT(*) FROM generations").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0


def test_eval_against_transformers_serve_matches_the_local_backend(server, suite, model_folder, tmp_path):
    """A wrong name is exit 2 naming the served model; a run is exit 0 and records the server.

    Greedy outputs of the server equal the harness's own local (``hf``) backend on the same folder,
    item for item: both apply the folder's chat template with the generation prompt and decode
    greedily in float32 on CPU (measured equal on these 8 items before this assertion was written).
    """
    cache = tmp_path / "c.sqlite"
    code, err = finish(harness_eval(suite, server.url, cache, tmp_path / "bad", "--model", "openai:smolm2"))
    assert code == 2, err
    assert "serves no model 'smolm2'" in err and "lists: smollm2" in err and "Traceback" not in err

    code, err = finish(harness_eval(suite, server.url, cache, tmp_path / "out", "--model", "openai:smollm2"))
    assert code == 0, err + server.log_tail()
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    model = run["model"]
    assert model["kind"] == "openai" and model["endpoint"] == server.url and model["model"] == "smollm2"
    assert model["model_check"] == f"listed by {server.url}/models"
    assert model["serving"]["concurrency"] == 1
    assert run["manifest"]["requests"] == {
        "items": LIMIT, "attempts": LIMIT, "retried_items": 0, "retries": 0, "errors": {},
    }  # fmt: skip
    assert all(it["requests"] == {"attempts": 1, "retries": 0} and not it["cached"] for it in run["items"])
    served = {it["id"]: it["output"] for it in run["items"]}
    assert len(served) == LIMIT and all(o.strip() for o in served.values())

    from harness.eval.evaluate import evaluate_suite
    from harness.eval.suite import load_suite
    from harness.models.factory import make_generator

    local = evaluate_suite(load_suite(suite), make_generator(str(model_folder)), limit=LIMIT)
    assert {r.id: r.output for r in local.items} == served


def test_killed_server_is_exit_4_and_the_rerun_generates_only_the_missing_items(server, suite, tmp_path):
    """SIGKILL the server after two items are cached: exit 4; restarted, the rerun does the rest."""
    cache = tmp_path / "c.sqlite"
    proc = harness_eval(suite, server.url, cache, tmp_path / "out1", "--model", "openai:smollm2",
                        "--retries", "1", "--backoff", "0.1")  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        while cached_rows(cache) < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no two items were cached in 180 s"
            time.sleep(0.05)
        server.kill()
        code, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    done = cached_rows(cache)
    assert code == 4, err
    assert "Traceback" not in err and 2 <= done < LIMIT, (done, err)
    print(f"killed after {done} of {LIMIT} items:\n{err}")

    server.start()
    code, err = finish(harness_eval(suite, server.url, cache, tmp_path / "out2", "--model", "openai:smollm2"))
    assert code == 0, err + server.log_tail()
    run = json.loads((tmp_path / "out2" / "run.json").read_text())
    assert sum(it["cached"] for it in run["items"]) == done
    assert run["manifest"]["requests"]["items"] == LIMIT - done == run["manifest"]["requests"]["attempts"]
    assert cached_rows(cache) == LIMIT
