"""Production logs: read rows of ``prompt``/``messages``, ``output``, ``timestamp`` and split them into windows.

A log file is JSONL, CSV or Parquet (format detected from content), or a folder of such files
(read in name order). Every row keeps its file and line, so a bad row is reported where it is; a
bad row is an error, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness.errors import InputError, InputFileError
from harness.records import message_text, read_rows

__all__ = ["LogEntry", "Window", "WindowSpec", "load_logs", "parse_window", "split_windows"]

_SUFFIXES = {".jsonl", ".json", ".csv", ".parquet"}


@dataclass(frozen=True)
class LogEntry:
    """One logged request: the prompt text, the model's output, when, and an optional user rating."""

    prompt: str
    output: str
    timestamp: datetime | None
    rating: float | None
    model: str | None
    file: str
    line: int


@dataclass(frozen=True)
class WindowSpec:
    """How logs are split: by time (``1d``, ``1w``, ``6h``) or by a number of rows."""

    seconds: int | None = None
    rows: int | None = None

    def describe(self) -> str:
        if self.rows is not None:
            return f"{self.rows} rows"
        assert self.seconds is not None
        for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
            if self.seconds % size == 0:
                return f"{self.seconds // size}{unit}"
        return f"{self.seconds}s"


@dataclass(frozen=True)
class Window:
    """A window of log entries: its index, label, bounds and entries."""

    index: int
    label: str
    start: datetime | None
    end: datetime | None
    entries: tuple[LogEntry, ...]


def parse_window(text: str) -> WindowSpec:
    """Parse ``--window``: ``1d``, ``1w``, ``12h``, ``30m`` or a row count such as ``500``.

    >>> parse_window("1w").seconds, parse_window("250").rows
    (604800, 250)
    """
    m = re.fullmatch(r"\s*(\d+)\s*([mhdw]?)\s*(rows?)?\s*", text or "")
    if not m or int(m.group(1)) <= 0 or (m.group(2) and m.group(3)):
        raise InputError(
            f"--window must be a duration such as 1d, 1w, 12h, 30m or a positive row count such as 500; got {text!r}",
            field="window",
        )
    n, unit = int(m.group(1)), m.group(2)
    if not unit:
        return WindowSpec(rows=n)
    return WindowSpec(seconds=n * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[unit])


def _files(path: Path) -> list[Path]:
    if not path.exists():
        raise InputFileError("no such file or folder", file=path)
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in _SUFFIXES)
    if not files:
        raise InputFileError(f"no log files ({', '.join(sorted(_SUFFIXES))}) in this folder", file=path)
    return files


def _timestamp(value: Any, file: Path, line: int) -> datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # epoch seconds (milliseconds when the number is too large to be seconds)
            seconds = float(value) / (1000.0 if abs(float(value)) > 1e11 else 1.0)
            return datetime.fromtimestamp(seconds, tz=UTC)
        ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise InputError(
            f"timestamp {value!r} is neither ISO 8601 nor epoch seconds", file=file, line=line, field="timestamp"
        ) from None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _text(data: dict[str, Any], file: Path, line: int) -> str:
    if "prompt" in data and data["prompt"] is not None:
        value, name = data["prompt"], "prompt"
    elif "messages" in data and data["messages"] is not None:
        value, name = data["messages"], "messages"
    else:
        raise InputError("a log row needs 'prompt' or 'messages'", file=file, line=line, field="prompt")
    try:
        if isinstance(value, list):
            value = [m for m in value if not (isinstance(m, dict) and m.get("role") == "assistant")]
        text = message_text(value)
    except (TypeError, KeyError, AttributeError):
        raise InputError(
            "expected a string or a list of {role, content} messages", file=file, line=line, field=name
        ) from None
    if not isinstance(text, str):
        raise InputError("expected a string", file=file, line=line, field=name)
    return text


def _rating(value: Any, file: Path, line: int) -> float | None:
    if value is None or value == "":
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise InputError(f"rating {value!r} is not a number", file=file, line=line, field="rating") from None
    if x != x:
        return None
    return x


def _entry(data: dict[str, Any], file: Path, line: int) -> LogEntry:
    output = data.get("output")
    if not isinstance(output, str):
        raise InputError("a log row needs 'output' (a string)", file=file, line=line, field="output")
    model = data.get("model")
    return LogEntry(
        prompt=_text(data, file, line),
        output=output,
        timestamp=_timestamp(data.get("timestamp"), file, line),
        rating=_rating(data.get("rating"), file, line),
        model=None if model is None or model == "" else str(model),
        file=str(file),
        line=line,
    )


def load_logs(path: str | Path) -> list[LogEntry]:
    """Read every log row of a file or a folder of files.

    Raises:
        InputFileError: the path does not exist or a folder holds no log file.
        InputError: a row that cannot be read (file, line and field named).
    """
    entries: list[LogEntry] = []
    for file in _files(Path(path)):
        for row in read_rows(file):
            if row.problem is not None:
                raise InputError(row.problem.message, file=file, line=row.line, field=row.problem.field)
            assert row.data is not None
            entries.append(_entry(row.data, file, row.line))
    if not entries:
        raise InputError("no log rows", file=path)
    return entries


def split_windows(entries: list[LogEntry], spec: WindowSpec) -> list[Window]:
    """Split entries into consecutive windows: by time (sorted by timestamp) or in file order by rows.

    Raises:
        InputError: time windows asked for but a row has no timestamp.
    """
    if spec.rows is not None:
        out = []
        for i, start in enumerate(range(0, len(entries), spec.rows)):
            chunk = tuple(entries[start : start + spec.rows])
            label = f"rows {start + 1}-{start + len(chunk)}"
            ts = [e.timestamp for e in chunk if e.timestamp is not None]
            out.append(Window(i, label, min(ts) if ts else None, max(ts) if ts else None, chunk))
        return out
    missing = next((e for e in entries if e.timestamp is None), None)
    if missing is not None:
        raise InputError(
            "this row has no timestamp: time windows need one on every row (or use --window N for N rows)",
            file=missing.file,
            line=missing.line,
            field="timestamp",
        )
    assert spec.seconds is not None
    ordered = sorted(entries, key=lambda e: e.timestamp)  # type: ignore[arg-type, return-value]
    origin = ordered[0].timestamp
    assert origin is not None
    size = timedelta(seconds=spec.seconds)
    buckets: dict[int, list[LogEntry]] = {}
    for e in ordered:
        assert e.timestamp is not None
        buckets.setdefault(int((e.timestamp - origin) // size), []).append(e)
    out = []
    for k in range(max(buckets) + 1):  # empty windows are kept: a gap in traffic is news too
        begin = origin + k * size
        out.append(Window(k, begin.strftime("%Y-%m-%d %H:%M"), begin, begin + size, tuple(buckets.get(k, ()))))
    return out
