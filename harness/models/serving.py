"""How a model server is talked to: timeout, concurrency, retries, backoff and request parameters.

:class:`ServingOptions` is set in three places, the later winning key by key:

1. the defaults below;
2. a model file (``--model server.yaml``: ``model: openai:NAME``, ``endpoint``, and any key of
   :class:`ServingOptions`), read by :func:`harness.models.spec.parse_spec`;
3. the command line (``--timeout``, ``--concurrency``, ``--retries``, ``--backoff``,
   ``--request-param KEY=VALUE``; see :mod:`harness.cli.serving`).

``stop``, ``seed``, ``presence_penalty``, ``frequency_penalty``, ``repeat_penalty`` and
``extra_body`` are sent with every request (they change outputs, so they are part of the model's
fingerprint and recorded in the run's model identity); ``timeout`` … ``backoff`` only change how
requests are made and are recorded too. :class:`RequestLog` is what one item's requests cost
(tries, the errors that caused retries, the seconds of the answered try); :func:`summarise_requests`
sums them for a run. This module imports neither httpx nor torch.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import InputError, did_you_mean

__all__ = ["REQUEST_KEYS", "RequestLog", "ServingOptions", "parse_request_param", "summarise_requests"]

REQUEST_KEYS = ("stop", "seed", "presence_penalty", "frequency_penalty", "repeat_penalty")
"""Generation settings a server accepts that are sent as body keys of their own."""


class ServingOptions(BaseModel):
    """How requests are made to a model server, and what is added to each request's body.

    Attributes:
        timeout: seconds one try may take, counted from when the request is sent (a request waiting
            for one of the ``concurrency`` slots is not yet sent); a server that queues requests
            internally counts its queue in it: set ``concurrency`` to the server's slots.
        concurrency: requests in flight at once.
        max_retries: retries of a request after its first try (timeouts, connection errors, 408,
            409, 425, 429 and 5xx answers; ``Retry-After`` is honoured).
        backoff: seconds before the first retry, doubled on each (at most 30 s).
        stop: stop strings sent to the server, after the suite's own.
        seed: sent instead of each attempt's seed.
        presence_penalty: OpenAI's presence penalty.
        frequency_penalty: OpenAI's frequency penalty.
        repeat_penalty: llama.cpp's repeat penalty (its server defaults to 1.1; 1.0 turns it off).
        extra_body: any other keys the server understands (``top_k``, ``min_p``, ``logit_bias``, ...),
            merged into the body last.
    """

    model_config = ConfigDict(extra="forbid")
    timeout: float = Field(default=120.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=1024)
    max_retries: int = Field(default=4, ge=0, le=100)
    backoff: float = Field(default=0.5, ge=0, le=300)
    stop: list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    repeat_penalty: float | None = Field(default=None, gt=0)
    extra_body: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def build(cls, values: Mapping[str, Any], *, where: str, file: str | None = None) -> ServingOptions:
        """Validate ``values`` into options; an unknown or bad key is an :class:`InputError` naming it."""
        for key in values:
            if key not in cls.model_fields:
                hint = did_you_mean(str(key), cls.model_fields)
                raise InputError(
                    f"unknown serving option {key!r} in {where}; known: {', '.join(cls.model_fields)}.{hint}",
                    file=file,
                    field=str(key),
                )
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise InputError(f"{where}: {err['msg']} (got {err.get('input')!r})", file=file, field=field) from exc

    def merged(self, overrides: Mapping[str, Any], *, where: str) -> ServingOptions:
        """These options with ``overrides`` on top (``extra_body`` merged key by key)."""
        if not overrides:
            return self
        data = self.model_dump(exclude_unset=True)
        extra = {**self.extra_body, **dict(overrides.get("extra_body") or {})}
        data.update({k: v for k, v in overrides.items() if k != "extra_body"})
        if extra:
            data["extra_body"] = extra
        return ServingOptions.build(data, where=where)

    def request_params(self) -> dict[str, Any]:
        """The keys added to every request body (those set), ``extra_body`` last."""
        out = {k: getattr(self, k) for k in REQUEST_KEYS if getattr(self, k) is not None}
        return {**out, **self.extra_body}

    def policy(self) -> dict[str, Any]:
        """How requests are made: timeout, concurrency, retries, backoff (recorded, not in the fingerprint)."""
        return {"timeout": self.timeout, "concurrency": self.concurrency, "max_retries": self.max_retries,
                "backoff": self.backoff}  # fmt: skip


def parse_request_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``--request-param``; VALUE is read as JSON when it parses, else kept as text.

    Example:
        >>> parse_request_param("repeat_penalty=1.0"), parse_request_param('stop=["\\\\n\\\\n"]')
        (('repeat_penalty', 1.0), ('stop', ['\\n\\n']))
    """
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError(f"--request-param takes KEY=VALUE (e.g. repeat_penalty=1.0); got {text!r}",
                         field="request-param")  # fmt: skip
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


class RequestLog(BaseModel):
    """What one item's requests cost: tries made, the errors that caused retries, the answered try's seconds."""

    attempts: int = 1
    errors: list[str] = Field(default_factory=list)
    seconds: float | None = Field(default=None, description="send to answer of the try that succeeded")

    @property
    def retries(self) -> int:
        """Tries after the first."""
        return max(0, self.attempts - 1)

    def record(self) -> dict[str, Any]:
        """The per-item entry of a run document: attempts, retries and the last error (when any)."""
        out: dict[str, Any] = {"attempts": self.attempts, "retries": self.retries}
        if self.errors:
            out["last_error"] = self.errors[-1]
            out["errors"] = list(self.errors)
        return out


def _kind(error: str) -> str:
    """``HTTP 503`` / ``timed out`` / ``connection failed``: what a retry's cause counts under."""
    if error.startswith("HTTP "):
        return error.split(":", 1)[0]
    if error.startswith("timed out"):
        return "timed out"
    return error.split(":", 1)[0]


def summarise_requests(logs: Iterable[RequestLog]) -> dict[str, Any]:
    """Totals over a run's requests: tries, retried items, retries and their causes by kind.

    Example:
        >>> summarise_requests([RequestLog(), RequestLog(attempts=3, errors=["HTTP 503: busy", "timed out after 2 s"])])
        {'items': 2, 'attempts': 4, 'retried_items': 1, 'retries': 2, 'errors': {'HTTP 503': 1, 'timed out': 1}}
    """
    logs = list(logs)
    kinds: Counter[str] = Counter(_kind(e) for log in logs for e in log.errors)
    return {
        "items": len(logs),
        "attempts": sum(log.attempts for log in logs),
        "retried_items": sum(1 for log in logs if log.attempts > 1),
        "retries": sum(log.retries for log in logs),
        "errors": dict(sorted(kinds.items())),
    }
