"""Terminal output conventions: results on stdout, progress and logs on stderr, progress with an ETA.

Every part of the harness reports long steps (reading, hashing, embedding, preflight, model load,
generation, training, bootstrap) through :func:`step`; nothing else draws on the terminal::

    from harness.progress import step

    with step("hashing n-grams", total=len(texts)) as s:
        for text in texts:
            ...
            s.advance()

A display is drawn only when stderr is a terminal, ``--quiet`` was not given and no CI variable
is set (``CI``, ``HARNESS_NO_PROGRESS``); otherwise :func:`step` costs a few attribute updates.
Steps may nest or overlap (gate: base and candidate); they share one live display, which appears
only once a step has run for 0.4 s (quick steps draw nothing). While it is
drawn, Python warnings and library log lines are held back and printed once each after it ends,
so nothing tears the bars. Colour follows rich: off when the stream is not a terminal or
``NO_COLOR`` is set.

Consoles: :data:`out` (stdout) for results a user pipes (tables, summaries); :data:`err` (stderr)
for logs, notes and errors. JSON documents go to stdout through ``harness.cli.app.emit_json``.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["Step", "configure", "enabled", "err", "note", "out", "quiet", "stage_callback", "step", "track"]

T = TypeVar("T")


class _LazyConsole:
    """A rich ``Console`` made on first use: a verb that prints only JSON never imports rich.

    Every attribute is the console's (made with the keyword arguments given here).
    """

    def __init__(self, **kwargs: Any) -> None:
        object.__setattr__(self, "_kwargs", kwargs)
        object.__setattr__(self, "_console", None)

    def _made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            object.__setattr__(self, "_console", Console(**self._kwargs))
        return cast("Console", self._console)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._made(), name, value)


out = cast("Console", _LazyConsole(highlight=False))
"""Results: tables and summaries a user reads or pipes (stdout)."""
err = cast("Console", _LazyConsole(stderr=True, highlight=False))
"""Logs, notes, warnings and errors (stderr); progress is drawn here too."""

_state: dict[str, Any] = {"quiet": False, "live": None, "open": 0, "held": None, "timer": None, "started": False}
_CI_VARS = ("CI", "HARNESS_NO_PROGRESS", "GITHUB_ACTIONS", "BUILDKITE", "JENKINS_URL", "GITLAB_CI")


def configure(*, quiet: bool) -> None:
    """Set the global ``--quiet`` flag: no progress display, no notes (results and errors still print)."""
    _state["quiet"] = quiet


def quiet() -> bool:
    """Whether ``--quiet`` was given."""
    return bool(_state["quiet"])


def enabled() -> bool:
    """Whether progress is drawn: stderr is a terminal, not ``--quiet``, not in CI."""
    if _state["quiet"] or any(os.environ.get(v) for v in _CI_VARS):
        return False
    if isinstance(err, _LazyConsole) and not any(v in os.environ for v in _TERMINAL_VARS) and not _isatty(sys.stderr):
        return False  # decided without importing rich (about 30 ms): stderr is a pipe, a file, a notebook
    return err.is_terminal


_TERMINAL_VARS = ("FORCE_TERMINAL", "TTY_COMPATIBLE", "FORCE_COLOR")  # rich may call a non-tty a terminal


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no such method, or a closed stream
        return False


def note(message: str, *, style: str | None = None) -> None:
    """A one-line log message on stderr, unless ``--quiet`` (markup off: paths print as they are)."""
    if not _state["quiet"]:
        err.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


class Step:
    """A running step: advance it or set its count; its total may be unknown (None)."""

    def __init__(self, description: str, total: float | None) -> None:
        self.description = description
        self.total = total
        self.completed: float = 0
        self.started = time.perf_counter()
        self._task: Any = None

    def advance(self, n: float = 1) -> None:
        """Count ``n`` more units done."""
        self.update(completed=self.completed + n)

    def update(
        self, *, completed: float | None = None, total: float | None = None, description: str | None = None
    ) -> None:
        """Set the units done, the total, or the description."""
        if completed is not None:
            self.completed = completed
        if total is not None:
            self.total = total
        if description is not None:
            self.description = description
        live = _state["live"]
        if live is not None and self._task is not None:
            live.update(self._task, completed=self.completed, total=self.total, description=self.description)


@contextmanager
def step(description: str, total: float | None = None) -> Iterator[Step]:
    """A progress display (bar, count, elapsed time, ETA) for the duration of the block.

    Args:
        description: what is happening, e.g. ``"loading smollm2-135m"``.
        total: units of work when known (the ETA needs it); None draws a spinner with elapsed time.
    """
    s = Step(description, total)
    if not enabled():
        yield s
        return
    _open()
    live = _state["live"]
    s._task = live.add_task(description, total=total)
    try:
        yield s
    finally:
        live.remove_task(s._task)
        s._task = None
        _close()


def track(items: Iterable[T], description: str, total: int | None = None) -> Iterator[T]:
    """Iterate over ``items`` inside a :func:`step`, one unit per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with step(description, total) as s:
        for x in items:
            yield x
            s.advance()


def stage_callback(label: str) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback (as taken by ``evaluate_suite``) drawing one step per stage.

    The steps stay open until the process ends the display; call the returned function's
    ``close()`` to end them early.
    """
    steps: dict[str, tuple[Any, Step]] = {}

    def callback(stage: str, done: int, total: int) -> None:
        if stage not in steps:
            cm = step(f"{label}: {stage}", total)
            steps[stage] = (cm, cm.__enter__())
        s = steps[stage][1]
        s.update(completed=done, total=total)
        if done >= total:
            cm = steps.pop(stage)[0]
            cm.__exit__(None, None, None)

    def close() -> None:
        for cm, _ in steps.values():
            cm.__exit__(None, None, None)
        steps.clear()

    callback.close = close  # type: ignore[attr-defined]
    return callback


# ------------------------------------------------------------------------------- the live display
_LOCK = threading.Lock()
_DELAY = 0.4  # seconds before a display appears: quick steps draw nothing (no flicker)


def _open() -> None:
    with _LOCK:
        if _state["open"] == 0:
            from rich.progress import (
                BarColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            known = "{task.completed:.0f}/{task.total:.0f}"
            _state["live"] = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), _if_total(TextColumn(known)),
                TimeElapsedColumn(), _if_total(TextColumn("eta")), _if_total(TimeRemainingColumn()),
                console=err, transient=True, redirect_stdout=True, redirect_stderr=True, auto_refresh=True,
            )  # fmt: skip
            _hold_warnings()
            timer = threading.Timer(_DELAY, _start)
            timer.daemon = True
            _state["timer"] = timer
            if _DELAY > 0:
                timer.start()
        _state["open"] += 1
    if _DELAY <= 0:
        _start()


def _if_total(column: Any) -> Any:
    """A progress column drawn only for steps whose total is known (no "0/?" or empty ETA)."""
    from rich.progress import ProgressColumn

    class IfTotal(ProgressColumn):
        def render(self, task: Any) -> Any:
            return column.render(task) if task.total is not None else ""

    return IfTotal()


def _start() -> None:
    with _LOCK:
        live = _state["live"]
        if live is not None and _state["open"] > 0 and not _state["started"]:
            live.start()
            _state["started"] = True


def _close() -> None:
    with _LOCK:
        _state["open"] -= 1
        if _state["open"] > 0:
            return
        _state["timer"].cancel()
        live, started = _state["live"], _state["started"]
        _state["live"], _state["started"] = None, False
        if started:
            live.stop()
        _release_warnings()


class _Held:
    """Warnings and library log records held back while a display is drawn."""

    def __init__(self) -> None:
        self.showwarning = warnings.showwarning
        self.messages: dict[str, None] = {}
        self.buffer = io.StringIO()
        self.handlers: list[tuple[logging.StreamHandler[Any], Any]] = []


def _hold_warnings() -> None:
    held = _Held()
    _state["held"] = held

    def show(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
        held.messages[f"{category.__name__}: {message}"] = None

    warnings.showwarning = show
    named = logging.Logger.manager.loggerDict.values()
    loggers = [logging.getLogger(), *(v for v in named if isinstance(v, logging.Logger))]
    for lg in loggers:
        for h in lg.handlers:
            if type(h) is logging.StreamHandler and h.stream in (sys.stderr, sys.__stderr__, sys.stdout):
                held.handlers.append((h, h.setStream(held.buffer)))


def _release_warnings() -> None:
    held: _Held | None = _state["held"]
    _state["held"] = None
    if held is None:
        return
    warnings.showwarning = held.showwarning
    for h, stream in held.handlers:
        h.setStream(stream)
    lines = dict.fromkeys(ln for ln in held.buffer.getvalue().splitlines() if ln.strip())
    for text in [*held.messages, *lines]:
        err.print(text, style="yellow", markup=False, highlight=False, soft_wrap=True)
