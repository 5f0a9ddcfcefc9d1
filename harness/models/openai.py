"""OpenAI-compatible servers (vLLM, llama.cpp server, TGI, hosted APIs): ``openai:<model> --endpoint URL``.

Requests run concurrently (``concurrency`` at a time), each try with a timeout counted from when
it is sent, and are retried with exponential backoff on timeouts, connection errors and
408/409/425/429/5xx answers (``Retry-After`` is honoured); other 4xx answers are errors at once
(see :mod:`harness.models.openai_client`). Outputs are yielded as they complete, so the caller
caches each one and an interrupted run resumes; Ctrl-C returns at once, whatever the server does.
Request parameters (stop, seed, penalties, extra body; :class:`~harness.models.serving.ServingOptions`)
are sent with every request and are part of the fingerprint. The server's weights cannot be
hashed: the fingerprint is the endpoint, the model name and those parameters.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx

from harness.errors import ModelError
from harness.models.base import Completion, GenerationRequest, GenerationSettings, cut_at_stop, prompt_messages
from harness.models.loglik import Loglik, LoglikRequest
from harness.models.openai_client import OpenAIClient, run_concurrently
from harness.models.openai_loglik import loglikelihood, loglikelihood_rolling
from harness.models.serving import RequestLog, ServingOptions

__all__ = ["OpenAIGenerator"]

_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")


class OpenAIGenerator:
    """A model served behind an OpenAI-compatible HTTP API.

    Args:
        model: the model name the server knows.
        endpoint: base URL, e.g. ``http://localhost:8000/v1``.
        concurrency: requests in flight at once.
        timeout: seconds per try, from when the request is sent.
        max_retries: retries per request after the first try.
        backoff: first retry delay in seconds (doubled on each retry, at most 30 s).
        options: all serving options at once (request parameters too); overrides the four above.
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
        options: ServingOptions | None = None,
        api_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if options is None:
            if concurrency < 1 or max_retries < 0 or timeout <= 0:
                raise ModelError("concurrency must be >= 1, max_retries >= 0 and timeout > 0")
            options = ServingOptions(concurrency=concurrency, timeout=timeout, max_retries=max_retries, backoff=backoff)
        self.options = options
        self.client = OpenAIClient(
            model, endpoint=endpoint, options=options, api_key=api_key, transport=transport, sleep=sleep
        )
        self.model = model
        self.endpoint = self.client.endpoint
        self.concurrency = options.concurrency
        self.timeout = options.timeout
        self.max_retries = options.max_retries
        self.backoff = options.backoff
        self.slots: int | None = None

    @property
    def retries_done(self) -> int:
        """Retries made so far (all requests)."""
        return self.client.retries_done

    @property
    def request_logs(self) -> list[RequestLog]:
        """Every request's tries and errors so far (log-likelihood runs summarise theirs from it)."""
        return self.client.logs

    @property
    def fingerprint(self) -> str:
        """``openai:<model>@<endpoint>``, plus ``#<hash>`` of the request parameters when any are set."""
        base = f"openai:{self.model}@{self.endpoint}"
        params = self.options.request_params()
        if not params:
            return base
        digest = hashlib.blake2b(json.dumps(params, sort_keys=True).encode(), digest_size=8).hexdigest()
        return f"{base}#{digest}"

    @property
    def cacheable(self) -> bool:
        """API outputs are cached."""
        return True

    def check_model(self) -> str:
        """Check the model name against the server's ``/models`` list (see :meth:`OpenAIClient.check_model`)."""
        return self.client.check_model()

    def check_slots(self) -> str | None:
        """A warning when the server runs fewer requests at once than ``concurrency`` (None when it does not say)."""
        self.slots = self.client.server_slots()
        if self.slots is None or self.slots >= self.concurrency:
            return None
        return (
            f"{self.endpoint} runs {self.slots} request(s) at a time (total_slots in its /props) but concurrency is "
            f"{self.concurrency}: the others wait in the server's queue, and that wait counts in the "
            f"{self.timeout:g} s timeout; consider --concurrency {self.slots}"
        )

    def describe(self) -> dict[str, Any]:
        """Spec, endpoint, the request policy, the request parameters and how the name was checked."""
        out: dict[str, Any] = {
            "spec": f"openai:{self.model}",
            "kind": "openai",
            "model": self.model,
            "endpoint": self.endpoint,
            "fingerprint": self.fingerprint,
            **self.options.policy(),
            "serving": self.options.policy(),
            "request_params": self.options.request_params(),
            "note": "weights not hashed: the model behind an endpoint and name may change",
        }
        if self.client.model_check is not None:
            out["model_check"] = self.client.model_check
        if self.slots is not None:
            out["server_slots"] = self.slots
        return out

    def _retry_delay(self, attempt: int, response: httpx.Response | None) -> float:
        return self.client.retry_delay(attempt, response)

    def post(self, path: str, body: dict[str, Any], *, what: str) -> httpx.Response:
        """POST with retries (see :meth:`OpenAIClient.post`); the 200 answer."""
        return self.client.post(path, body, what=what)[0]

    def _body(self, req: GenerationRequest, settings: GenerationSettings) -> tuple[str, dict[str, Any]]:
        common: dict[str, Any] = {
            "model": self.model,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "seed": req.seed,
        }
        if not settings.greedy:
            common["top_p"] = settings.top_p
        params = self.options.request_params()
        stop = [*settings.stop, *(params.pop("stop", None) or [])]
        if stop:
            common["stop"] = stop
        common.update(params)
        if isinstance(req.prompt, str) and not settings.chat_template:
            text = req.prompt if settings.system is None else f"{settings.system}\n\n{req.prompt}"
            return "/completions", {**common, "prompt": text}
        return "/chat/completions", {**common, "messages": prompt_messages(req.prompt, settings)}

    def complete(self, req: GenerationRequest, settings: GenerationSettings) -> Completion:
        """One request, with retries; raises :class:`ModelError` when it cannot be answered."""
        path, body = self._body(req, settings)
        response, log = self.client.post(path, body, what=f"item {req.item_id!r}")
        comp = self._parse(response, path, settings, log.seconds or 0.0, req)
        return comp._replace(requests=log)

    # ------------------------------------------------------------------------ log-likelihood
    scores_loglikelihood = True

    def loglikelihood(
        self, requests: Sequence[LoglikRequest], settings: GenerationSettings | None = None
    ) -> list[Loglik]:
        """Continuation log-likelihoods from the completions endpoint (``echo`` + ``logprobs``)."""
        return loglikelihood(self.client, requests)

    def loglikelihood_rolling(self, texts: Sequence[str]) -> list[Loglik]:
        """Document log-likelihoods from the completions endpoint (the first token is not scored)."""
        return loglikelihood_rolling(self.client, texts)

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
        # JSON can escape half of a UTF-16 pair; such a lone surrogate cannot be stored or written as UTF-8.
        text = _LONE_SURROGATE.sub("\ufffd", str(text))
        tokens = (data.get("usage") or {}).get("completion_tokens")
        return Completion(cut_at_stop(text, settings.stop), round(seconds, 4), tokens)

    def generate(
        self, requests: Sequence[GenerationRequest], settings: GenerationSettings
    ) -> Iterator[tuple[int, Completion]]:
        """Send up to ``concurrency`` requests at once; yield each output as it arrives.

        On Ctrl-C this returns at once (requests in flight are abandoned and the client closed):
        what was yielded before is the caller's to keep.
        """
        yield from run_concurrently(
            lambda req: self.complete(req, settings), requests, concurrency=self.concurrency,
            on_interrupt=self.client.close,
        )  # fmt: skip

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()
