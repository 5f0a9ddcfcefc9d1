"""Serving options of the verbs that take model specs (``eval``, ``gate``, ``redteam``): one definition here.

Each option applies to every server model (``openai:<m>`` or a model file) of the command, over
what its model file sets; local models ignore them. See :mod:`harness.models.serving`.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

import typer

from harness.errors import InputError

__all__ = ["BackoffOpt", "ConcurrencyOpt", "RequestParamOpt", "RetriesOpt", "TimeoutOpt", "serving_options"]

_PANEL = "Model server"

TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout", min=0.001, rich_help_panel=_PANEL,
        help="Seconds one try of a server request may take, counted from when it is sent [default: 120].",
    ),
]  # fmt: skip
ConcurrencyOpt = Annotated[
    int | None,
    typer.Option(
        "--concurrency", min=1, rich_help_panel=_PANEL,
        help="Server requests in flight at once; set it to the server's slots (llama.cpp: 1) [default: 8].",
    ),
]  # fmt: skip
RetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries", min=0, rich_help_panel=_PANEL,
        help="Retries of a server request (timeouts, connection errors, 408/409/425/429/5xx) [default: 4].",
    ),
]  # fmt: skip
BackoffOpt = Annotated[
    float | None,
    typer.Option(
        "--backoff", min=0.0, rich_help_panel=_PANEL,
        help="Seconds before the first retry, doubled on each, at most 30; Retry-After wins [default: 0.5].",
    ),
]  # fmt: skip
RequestParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--request-param", rich_help_panel=_PANEL, metavar="KEY=VALUE",
        help="Sent with every server request (repeatable; VALUE as JSON when it parses): stop, seed, "
        "presence_penalty, frequency_penalty, repeat_penalty (e.g. repeat_penalty=1.0 for llama.cpp); "
        "any other key goes into the request body as given (top_k=1).",
    ),
]  # fmt: skip


def serving_options(
    timeout: float | None = None,
    concurrency: int | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    request_param: list[str] | None = None,
) -> dict[str, Any]:
    """The serving options given on the command line, as keys of :class:`~harness.models.serving.ServingOptions`.

    Example:
        >>> serving_options(timeout=600, request_param=["repeat_penalty=1.0", "top_k=1"])
        {'timeout': 600, 'repeat_penalty': 1.0, 'extra_body': {'top_k': 1}}
    """
    from harness.models.serving import REQUEST_KEYS, parse_request_param  # pydantic: not for --help

    given = {"timeout": timeout, "concurrency": concurrency, "max_retries": retries, "backoff": backoff}
    out: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    extra: dict[str, Any] = {}
    for text in request_param or []:
        key, value = parse_request_param(text)
        close = difflib.get_close_matches(key, REQUEST_KEYS, n=1, cutoff=0.85)
        if close and key not in REQUEST_KEYS:
            raise InputError(f"--request-param {key!r} is not a known setting. Did you mean {close[0]!r}?",
                             field="request-param")  # fmt: skip
        if key in REQUEST_KEYS:
            out[key] = value
        elif key == "extra_body" and isinstance(value, dict):
            extra.update(value)
        else:
            extra[key] = value
    if extra:
        out["extra_body"] = extra
    return out
