"""The HTTP side of OpenAI-compatible servers: retries, the model-name check, endpoint hints, a pool that stops.

Shared by the generator (:mod:`harness.models.openai`) and the log-likelihood requests
(:mod:`harness.models.openai_loglik`), which both sit above this module.

- **Timeout per try, from when it is sent.** At most ``concurrency`` requests are in flight and
  the connection pool holds as many connections, so a request never waits for a connection with
  the clock running; ``timeout`` bounds each read of the answer.
- **Retries** on timeouts, connection errors and 408/409/425/429/5xx answers, with exponential
  backoff or the server's ``Retry-After``; each request's tries and errors are returned in a
  :class:`~harness.models.serving.RequestLog`. Exhausted retries raise
  :class:`~harness.errors.ServiceError` (exit code 4).
- **Hints** for the usual endpoint mistakes: a base URL without ``/v1`` that answers 404, a
  refused connection (the URL is named), a wrong model name (the names the server lists, with
  did-you-mean; exit code 2).
- **Stopping.** :func:`run_concurrently` runs requests on daemon threads and, when the caller is
  interrupted (Ctrl-C), returns at once without waiting for requests in flight and closes the
  client: a hung server cannot hold the process.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx

from harness.errors import ModelError, ServiceError, did_you_mean
from harness.models.serving import RequestLog, ServingOptions

__all__ = ["MAX_BACKOFF", "RETRY_STATUS", "OpenAIClient", "run_concurrently"]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
MAX_BACKOFF = 30.0
T = TypeVar("T")
R = TypeVar("R")


class OpenAIClient:
    """One model on one OpenAI-compatible server: POSTs with retries, and the ``/models`` check.

    Args:
        model: the model name the server knows.
        endpoint: base URL, e.g. ``http://localhost:8000/v1``.
        options: timeout, concurrency, retries, backoff (and the request parameters, read by callers).
        api_key: sent as a bearer token; default ``$OPENAI_API_KEY`` when set.
        transport: an httpx transport (tests pass a mock one).
        sleep: the function used to wait between retries.
    """

    def __init__(
        self,
        model: str,
        *,
        endpoint: str,
        options: ServingOptions,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not endpoint.startswith(("http://", "https://")):
            raise ModelError(f"--endpoint must be an http(s) URL, got {endpoint!r}", field="endpoint")
        self.model = model
        self.endpoint = endpoint.rstrip("/")
        self.options = options
        self._sleep = sleep
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        n = options.concurrency
        self._client = httpx.Client(
            timeout=httpx.Timeout(options.timeout, pool=None),  # waiting for a connection is not the try's time
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            headers=headers,
            transport=transport,
        )
        self._lock = threading.Lock()
        self.retries_done = 0
        self.model_check: str | None = None
        self.closed = False
        self.logs: list[RequestLog] = []  # every request's log, as each ends (answered or failed)

    def retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        """Seconds before retry ``attempt + 1``: the server's ``Retry-After``, else ``backoff × 2**attempt``."""
        if response is not None:
            ra = response.headers.get("retry-after")
            if ra is not None:
                try:
                    return min(MAX_BACKOFF, max(0.0, float(ra)))
                except ValueError:
                    pass
        return min(MAX_BACKOFF, self.options.backoff * 2**attempt)

    def _hint_v1(self) -> str:
        """The likely base URL when the endpoint is not one (no `/v1`, or a full route such as `…/chat/completions`)."""
        if self.endpoint.endswith("/v1"):
            return ""
        for route in ("/chat/completions", "/completions", "/models"):
            if self.endpoint.endswith(route):
                base = self.endpoint.removesuffix(route)
                return f" Did you mean --endpoint {base}? (the base URL: routes such as {route} are added to it)"
        return f" Did you mean --endpoint {self.endpoint}/v1? (OpenAI-compatible servers serve under /v1)"

    def _try(self, method: str, url: str, body: dict[str, Any] | None) -> tuple[httpx.Response | None, str, float]:
        t0 = time.perf_counter()
        try:
            response = self._client.request(method, url, json=body)
        except httpx.TimeoutException:
            return None, f"timed out after {self.options.timeout:g} s", time.perf_counter() - t0
        except httpx.ConnectError as exc:
            return None, f"connection failed: nothing answers at {url} ({exc})", time.perf_counter() - t0
        except httpx.TransportError as exc:
            if self.closed:
                raise ServiceError(f"{url}: the client was closed (interrupted)") from exc
            return None, f"connection failed: {exc}", time.perf_counter() - t0
        return response, "", time.perf_counter() - t0

    def post(self, path: str, body: dict[str, Any], *, what: str) -> tuple[httpx.Response, RequestLog]:
        """POST ``body`` to ``endpoint + path`` with retries: the 200 answer and what it took.

        Raises:
            ModelError: the server refused the request (a 4xx that retrying cannot fix; exit 2).
            ServiceError: no answer after every retry (exit 4).
        """
        url = self.endpoint + path
        log = RequestLog(attempts=0)
        with self._lock:
            self.logs.append(log)
        for attempt in range(self.options.max_retries + 1):
            log.attempts += 1
            response, error, seconds = self._try("POST", url, body)
            if response is not None:
                if response.status_code == 200:
                    log.seconds = round(seconds, 4)
                    return response, log
                error = f"HTTP {response.status_code}: {response.text[:300]}"
                if response.status_code not in RETRY_STATUS:
                    hint = self._hint_v1() if response.status_code == 404 else ""
                    raise ModelError(f"{url} refused the request for {what}: {error}{hint}", field="endpoint")
            log.errors.append(error)
            if attempt < self.options.max_retries:
                with self._lock:
                    self.retries_done += 1
                self._sleep(self.retry_delay(attempt, response))
        hint = ""
        if log.errors[-1].startswith("timed out") and self.options.concurrency > 1:
            hint = (f" (a server with fewer slots than --concurrency {self.options.concurrency} queues requests "
                    "and their wait counts in the timeout: lower --concurrency or raise --timeout)")  # fmt: skip
        raise ServiceError(f"{url} failed for {what} after {log.attempts} tries: {log.errors[-1]}{hint}")

    def check_model(self) -> str:
        """Check the model name against ``GET /models`` when the server lists its models.

        A server that answers 404 (or anything but a model list), or none that answers, is not
        checked, and that is said in the returned note (recorded in the run's model identity): a
        run whose outputs are all cached needs no server.

        Raises:
            ModelError: the model is not among those listed (they are named, with did-you-mean), or
                the endpoint lacks ``/v1`` where ``…/v1/models`` answers.
        """
        url = self.endpoint + "/models"
        response, error, _ = self._try("GET", url, None)
        if response is None:  # requests fail later (exit 4) unless every output is cached
            self.model_check = f"not checked: {error}"
            return self.model_check
        if response.status_code == 404 and not self.endpoint.endswith("/v1"):
            alt, _, _ = self._try("GET", self.endpoint + "/v1/models", None)
            if alt is not None and alt.status_code == 200:
                raise ModelError(f"{url} answered 404.{self._hint_v1()}", field="endpoint")
        if response.status_code in (401, 403):
            raise ModelError(f"{url} answered HTTP {response.status_code}: set OPENAI_API_KEY to the server's key",
                             field="endpoint")  # fmt: skip
        if response.status_code != 200:
            self.model_check = f"not checked: {url} answered HTTP {response.status_code}"
            return self.model_check
        try:
            names = [str(m["id"]) for m in response.json()["data"]]
        except (ValueError, KeyError, TypeError):
            self.model_check = f"not checked: {url} answered no model list"
            return self.model_check
        if names and self.model not in names:
            shown = ", ".join(names[:20]) + (f" (and {len(names) - 20} more)" if len(names) > 20 else "")
            raise ModelError(
                f"{self.endpoint} serves no model {self.model!r}; it lists: {shown}.{did_you_mean(self.model, names)}",
                field="model",
            )
        self.model_check = f"listed by {url}" if names else f"not checked: {url} lists no models"
        return self.model_check

    def server_slots(self) -> int | None:
        """Requests the server runs at once, where it says (llama.cpp's ``GET /props``: ``total_slots``), else None."""
        root = self.endpoint.removesuffix("/v1")
        response, _, _ = self._try("GET", root + "/props", None)
        if response is None or response.status_code != 200:
            return None
        try:
            slots = response.json().get("total_slots")
        except (ValueError, AttributeError):
            return None
        return slots if isinstance(slots, int) and not isinstance(slots, bool) and slots > 0 else None

    def close(self) -> None:
        """Close the HTTP client (requests in flight on other threads fail)."""
        self.closed = True
        self._client.close()


def run_concurrently(
    fn: Callable[[T], R], items: Sequence[T], *, concurrency: int, on_interrupt: Callable[[], None] | None = None
) -> Iterator[tuple[int, R]]:
    """``fn`` over ``items`` on up to ``concurrency`` daemon threads; ``(index, result)`` as each finishes.

    A failure is raised when it arrives (requests already sent keep running on their threads; no
    new one starts). When the caller is interrupted (``KeyboardInterrupt``), or stops reading,
    this returns at once: no thread is waited for, none is started, and ``on_interrupt`` runs
    (closing the client). The threads are daemons, so a request that hangs cannot keep the
    process alive.
    """
    if not items:
        return
    tasks: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(len(items)):
        tasks.put(i)
    results: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                i = tasks.get_nowait()
            except queue.Empty:
                return
            try:
                results.put((i, True, fn(items[i])))
            except BaseException as exc:  # handed to the caller's thread
                results.put((i, False, exc))

    for n in range(min(concurrency, len(items))):
        threading.Thread(target=worker, name=f"openai-{n}", daemon=True).start()
    try:
        for _ in range(len(items)):
            while True:
                try:
                    i, ok, value = results.get(timeout=0.25)  # short waits: a signal is seen at once
                    break
                except queue.Empty:
                    continue
            if not ok:
                raise value
            yield i, value
    except (KeyboardInterrupt, SystemExit):
        if on_interrupt is not None:
            on_interrupt()
        raise
    finally:
        stop.set()
