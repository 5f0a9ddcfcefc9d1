"""OpenAI-compatible servers (vLLM, llama.cpp server, TGI, hosted APIs): ``openai:<model> --endpoint URL``.

Requests run concurrently (a thread pool; ``concurrency`` at a time), each with a timeout, and are
retried with exponential backoff on timeouts, connection errors and 408/409/425/429/5xx answers
(``Retry-After`` is honoured). Other 4xx answers are errors at once: retrying cannot fix them.
Outputs are yielded as they complete, so the caller caches each one and an interrupted run
resumes. The server's weights cannot be hashed: the fingerprint is the endpoint and model name.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

import httpx

from harness.errors import ModelError, ServiceError
from harness.models.base import Completion, GenerationRequest, GenerationSettings, cut_at_stop, prompt_messages
from harness.models.loglik import Loglik, LoglikRequest

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF = 30.0


class OpenAIGenerator:
    """A model served behind an OpenAI-compatible HTTP API.

    Args:
        model: the model name the server knows.
        endpoint: base URL, e.g. ``http://localhost:8000/v1``.
        concurrency: requests in flight at once.
        timeout: seconds per request.
        max_retries: retries per request after the first try.
        backoff: first retry delay in seconds (doubled on each retry, at most 30 s).
        api_key: sent as a bearer token; default ``$OPENAI_API_KEY`` when set.
        transport: an httpx transport (tests pass a mock one).
        sleep: the function used to wait between retries.
    """

    def __init__(
        self,
        model: str,
        *,
        endpoint: str,
        concurrency: int = 8,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff: float = 0.5,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ModelError(f"--endpoint must be an http(s) URL, got {endpoint!r}")
        if concurrency < 1 or max_retries < 0 or timeout <= 0:
            raise ModelError("concurrency must be >= 1, max_retries >= 0 and timeout > 0")
        self.model = model
        self.endpoint = endpoint.rstrip("/")
        self.concurrency = concurrency
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self._sleep = sleep
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(timeout=httpx.Timeout(timeout), headers=headers, transport=transport)
        self.retries_done = 0

    @property
    def fingerprint(self) -> str:
        """``openai:<model>@<endpoint>`` (a served model's weights cannot be hashed)."""
        return f"openai:{self.model}@{self.endpoint}"

    @property
    def cacheable(self) -> bool:
        """API outputs are cached."""
        return True

    def describe(self) -> dict[str, Any]:
        """Spec, endpoint and the retry policy."""
        return {
            "spec": f"openai:{self.model}",
            "kind": "openai",
            "model": self.model,
            "endpoint": self.endpoint,
            "fingerprint": self.fingerprint,
            "concurrency": self.concurrency,
            "timeout": self.timeout,
            "max_retries": self.max_retries,
            "note": "weights not hashed: the model behind an endpoint and name may change",
        }

    def _body(self, req: GenerationRequest, settings: GenerationSettings) -> tuple[str, dict[str, Any]]:
        common: dict[str, Any] = {
            "model": self.model,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "seed": req.seed,
        }
        if not settings.greedy:
            common["top_p"] = settings.top_p
        if settings.stop:
            common["stop"] = settings.stop
        if isinstance(req.prompt, str) and not settings.chat_template:
            text = req.prompt if settings.system is None else f"{settings.system}\n\n{req.prompt}"
            return "/completions", {**common, "prompt": text}
        return "/chat/completions", {**common, "messages": prompt_messages(req.prompt, settings)}

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        if response is not None:
            ra = response.headers.get("retry-after")
            if ra is not None:
                try:
                    return min(MAX_BACKOFF, max(0.0, float(ra)))
                except ValueError:
                    pass
        return min(MAX_BACKOFF, self.backoff * 2**attempt)

    def complete(self, req: GenerationRequest, settings: GenerationSettings) -> Completion:
        """One request, with retries; raises :class:`ModelError` when it cannot be answered."""
        path, body = self._body(req, settings)
        t0 = time.perf_counter()
        response = self.post(path, body, what=f"item {req.item_id!r}")
        return self._parse(response, path, settings, time.perf_counter() - t0, req)

    def post(self, path: str, body: dict[str, Any], *, what: str) -> httpx.Response:
        """POST ``body`` to ``endpoint + path`` with retries; the 200 answer, else :class:`ModelError`."""
        url = self.endpoint + path
        last = ""
        for attempt in range(self.max_retries + 1):
            response: httpx.Response | None = None
            try:
                response = self._client.post(url, json=body)
            except httpx.TimeoutException:
                last = f"timed out after {self.timeout:g} s"
            except httpx.TransportError as exc:
                last = f"connection failed: {exc}"
            else:
                if response.status_code == 200:
                    return response
                last = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    raise ModelError(f"{url} refused the request for {what}: {last}")
            if attempt < self.max_retries:
                self.retries_done += 1
                self._sleep(self._retry_delay(attempt, response))
        raise ServiceError(f"{url} failed for {what} after {self.max_retries + 1} tries: {last}")

    # ------------------------------------------------------------------------ log-likelihood
    scores_loglikelihood = True

    def loglikelihood(
        self, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
    ) -> list[Loglik]:
        """Continuation log-likelihoods from the completions endpoint (``echo`` + ``logprobs``)."""
        from harness.models.openai_loglik import loglikelihood

        return loglikelihood(self, requests)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[Loglik]:
        """Document log-likelihoods from the completions endpoint (the first token is not scored)."""
        from harness.models.openai_loglik import loglikelihood_rolling

        return loglikelihood_rolling(self, texts)

    def _parse(
        self, response: httpx.Response, path: str, settings: GenerationSettings, seconds: float, req: GenerationRequest
    ) -> Completion:
        try:
            data = response.json()
            choice = data["choices"][0]
            text = choice["message"]["content"] if path == "/chat/completions" else choice["text"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise ModelError(
                f"unexpected response from {self.endpoint} for item {req.item_id!r}: {response.text[:200]}"
            ) from exc
        if text is None:
            text = ""
        tokens = (data.get("usage") or {}).get("completion_tokens")
        return Completion(cut_at_stop(str(text), settings.stop), round(seconds, 4), tokens)

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Send up to ``concurrency`` requests at once; yield each output as it arrives."""
        if not requests:
            return
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests)), thread_name_prefix="openai")
        pending: dict[Future[Completion], int] = {}
        queue = iter(enumerate(requests))
        try:
            for i, req in queue:
                pending[pool.submit(self.complete, req, settings)] = i
                if len(pending) >= self.concurrency:
                    break
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in done:
                    i = pending.pop(fut)
                    yield i, fut.result()
                    nxt = next(queue, None)
                    if nxt is not None:
                        pending[pool.submit(self.complete, nxt[1], settings)] = nxt[0]
        finally:
            for fut in pending:
                fut.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
