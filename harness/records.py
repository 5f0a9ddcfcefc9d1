"""Dataset records and streaming loaders (JSONL, CSV, Parquet).

Record contracts follow the formats of common fine-tuning libraries:

- prompt-completion: ``{"id"?, "prompt": str, "completion": str}``
- chat: ``{"id"?, "messages": [{"role": "system"|"user"|"assistant", "content": str}, ...]}``
- preference: ``{"id"?, "prompt": str | messages, "chosen": str | messages,
  "rejected": str | messages}``
- rating (long form): ``item_id, rater_id, score`` plus optional ``criterion``, ``gold``,
  ``timestamp``, ``shown_order``.
- ranking: ``{"id"?, "prompt": str | messages, "responses": [str | messages, ...] (k >= 2, in
  the order shown to the rater), "ranks": [int | null, ...] (1 = best, ties share a rank, null
  = not ranked), "rater_id"?, "category"?, "timestamp"?}``; see :mod:`harness.rankings`.

An example's identity is its ``id`` field, else ``L<line>`` (1-based line of its file; for
Parquet the 1-based row).

Loading is streaming: :func:`read_rows` yields one raw row at a time, whatever the file size, and
:func:`iter_records` turns rows into records, yielding a :class:`RowProblem` (never raising) for a
row that does not fit its contract, so a caller can collect every problem of a file.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from harness.errors import InputError, check_choice
from harness.rows import (  # noqa: F401  (re-exported: the readers were part of this module)
    _EMPTY_SCORES,
    FORMATS,
    MAX_RECORD_BYTES,
    Format,
    Kind,
    Row,
    RowProblem,
    bounded_lines,
    detect_format,
    detect_kind,
    read_rows,
    read_table,
    text_problem,
)

KINDS = ("sft", "chat", "preference", "rating", "ranking")
ROLES = ("system", "user", "assistant")



class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="allow")
    role: str
    content: str


class _Record(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    line: int = Field(description="1-based line (row for Parquet) where the record starts")


class SFTRecord(_Record):
    """A prompt-completion example."""

    kind: Literal["sft"] = "sft"
    prompt: str
    completion: str


class ChatRecord(_Record):
    """A conversation; the assistant turns are the training targets."""

    kind: Literal["chat"] = "chat"
    messages: list[Message]


class PreferenceRecord(_Record):
    """A preference pair: the same prompt with a chosen and a rejected response."""

    kind: Literal["preference"] = "preference"
    prompt: str | list[Message]
    chosen: str | list[Message]
    rejected: str | list[Message]


class RatingRecord(_Record):
    """One rater's score of one item (long form)."""

    kind: Literal["rating"] = "rating"
    item_id: str
    rater_id: str
    score: str | float
    criterion: str | None = None
    gold: str | float | None = None
    timestamp: str | None = None


class RankingRecord(_Record):
    """One rater's ranking of k responses to a prompt (1 = best; equal ranks are ties; None = unranked).

    ``responses`` are in the order they were shown to the rater (the position-bias audit reads it).
    """

    kind: Literal["ranking"] = "ranking"
    prompt: str | list[Message]
    responses: list[str | list[Message]]
    ranks: list[int | None]
    rater_id: str | None = None
    category: str | None = None
    timestamp: str | None = None

    @field_validator("responses")
    @classmethod
    def _k_distinct(cls, responses: list[str | list[Message]]) -> list[str | list[Message]]:
        if len(responses) < 2:
            raise ValueError(f"a ranking needs k >= 2 responses; got {len(responses)}")
        seen: dict[str, int] = {}
        for i, resp in enumerate(responses):
            text = message_text(resp)
            if text in seen:
                raise ValueError(f"responses[{i}] repeats responses[{seen[text]}]: the same response is ranked twice")
            seen[text] = i
        return responses

    @field_validator("ranks")
    @classmethod
    def _ranks_fit(cls, ranks: list[int | None], info: ValidationInfo) -> list[int | None]:
        responses = info.data.get("responses")
        if responses is None:
            return ranks
        k = len(responses)
        if len(ranks) != k:
            raise ValueError(f"{len(ranks)} ranks for {k} responses: give one rank (or null) per response")
        bad = [r for r in ranks if r is not None and not 1 <= r <= k]
        if bad:
            raise ValueError(f"rank {bad[0]} is outside 1..{k} (k = {k} responses)")
        return ranks


Record = SFTRecord | ChatRecord | PreferenceRecord | RatingRecord | RankingRecord
_MODELS: dict[str, type[Record]] = {
    "sft": SFTRecord,
    "chat": ChatRecord,
    "preference": PreferenceRecord,
    "rating": RatingRecord,
    "ranking": RankingRecord,
}


# ---------------------------------------------------------------------------- kind and records
_REQUIRED = {
    "sft": ("prompt", "completion"),
    "chat": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "rating": ("item_id", "rater_id", "score"),
    "ranking": ("prompt", "responses", "ranks"),
}


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _field_of(err: ErrorDetails) -> str:
    loc = [str(p) for p in err.get("loc", ()) if p not in ("str", "list[Message]", "float")]
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out or "?"


def to_record(row: Row, kind: Kind) -> Record | list[RowProblem]:
    """Validate one raw row as a record of ``kind``; return the record or its problems."""
    assert row.data is not None
    data = dict(row.data)
    rid = data.get("id")
    rid = f"L{row.line}" if _is_missing(rid) or rid == "" else str(rid)
    problems = [
        RowProblem("schema.missing_field", f"missing required field '{name}'", row.line, name, rid)
        for name in _REQUIRED[kind]
        if name not in data or (kind != "rating" and _is_missing(data[name]))
    ]
    if kind == "rating" and "score" in data:
        score = data["score"]
        if _is_missing(score) or (isinstance(score, str) and score.strip().lower() in _EMPTY_SCORES):
            problems.append(RowProblem("schema.missing_score", "score is empty or NaN", row.line, "score", rid))
    if problems:
        return problems
    for key in ("item_id", "rater_id", "criterion", "timestamp", "category"):
        if key in data and not _is_missing(data[key]) and isinstance(data[key], int | float):
            data[key] = str(data[key]) if not isinstance(data[key], float) else f"{data[key]:g}"
    if kind == "rating" and _is_missing(data.get("gold")):
        data.pop("gold", None)
    data["id"] = rid
    data["line"] = row.line
    data.pop("kind", None)
    try:
        return _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        out = []
        for err in exc.errors()[:5]:
            field = _field_of(err)
            if err["type"] == "value_error":  # a record-level rule (a ranking's k, ranks, repeats)
                msg = err["msg"].removeprefix("Value error, ")
                out.append(RowProblem("schema.invalid_value", msg, row.line, field, rid))
                continue
            out.append(
                RowProblem(
                    "schema.wrong_type", f"{err['msg']} (got {type(err.get('input')).__name__})", row.line, field, rid
                )
            )
        # Union types report one error per branch; keep one per field.
        seen: set[str | None] = set()
        unique = []
        for p in out:
            if p.field not in seen:
                seen.add(p.field)
                unique.append(p)
        return unique


def iter_records(
    path: str | Path, *, format: str | None = None, kind: str | None = None, batched: bool = True
) -> Iterator[Record | RowProblem]:
    """Stream records of a file, yielding a :class:`RowProblem` for each bad row.

    The kind is taken from the first well-formed row unless given; a later row of another
    shape is reported as a problem, not silently re-interpreted.

    Args:
        path: a JSONL, CSV or Parquet file.
        format: force a format; detected from content if None.
        kind: force a record kind; taken from the first well-formed row if None.
        batched: read batches of rows with pyarrow and build the records of a clean batch
            without per-row validation (:mod:`harness.record_batches`); a batch with any problem
            is read row by row, so the items are the same either way. False: row by row only.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = p.write_text('{"prompt": "2+2?", "completion": "4"}\\n')
        >>> [r.id for r in iter_records(p)]
        ['L1']
    """
    if kind is not None:
        check_choice(kind, KINDS, param="kind", func="iter_records")
    if batched:
        from harness.record_batches import iter_record_batches

        return iter_record_batches(path, format=format, kind=kind)  # type: ignore[arg-type]
    return _iter_row_records(path, format, kind)  # type: ignore[arg-type]


def _iter_row_records(path: str | Path, format: str | None, kind: Kind | None) -> Iterator[Record | RowProblem]:
    maker = RowRecords(kind)
    for row in read_rows(path, format=format):
        yield from maker.items(row)


class RowRecords:
    """Turns raw rows into records one at a time, keeping the file's kind across rows.

    Attributes:
        kind: the kind given, or taken from the first well-formed row (None until then).
    """

    def __init__(self, kind: Kind | None) -> None:
        self.kind: Kind | None = kind

    def items(self, row: Row) -> Iterator[Record | RowProblem]:
        """The record of one raw row, or its problems."""
        if row.problem is not None:
            yield row.problem
            return
        assert row.data is not None
        if self.kind is None:
            self.kind = detect_kind(row.data)
            if self.kind is None:
                yield RowProblem(
                    "schema.unknown_kind",
                    f"cannot tell the record kind from fields {sorted(row.data)}; expected "
                    "prompt/completion, messages, prompt/chosen/rejected, prompt/responses/ranks or "
                    "item_id/rater_id/score",
                    row.line,
                )
                return
        other = detect_kind(row.data)
        if other is not None and other != self.kind:
            yield RowProblem(
                "schema.mixed_kinds",
                f"row looks like a {other} record, but the file holds {self.kind} records",
                row.line,
                id=str(row.data.get("id") or f"L{row.line}"),
            )
            return
        result = to_record(row, self.kind)
        if isinstance(result, list):
            yield from result
        else:
            yield result


_YES = frozenset({"1", "yes", "true", "pass", "passed", "y"})
_NO = frozenset({"0", "no", "false", "fail", "failed", "n"})


def rating_number(raw: str | float, *, file: str | Path | None = None, line: int | None = None) -> float:
    """A rating's score as a number: numerals as they are, yes/pass/true as 1 and no/fail/false as 0.

    >>> rating_number("4"), rating_number("Pass"), rating_number(0.5)
    (4.0, 1.0, 0.5)
    """
    if isinstance(raw, int | float):
        return float(raw)
    t = raw.strip().casefold()
    if t in _YES:
        return 1.0
    if t in _NO:
        return 0.0
    try:
        return float(t)
    except ValueError:
        raise InputError(
            f"rating {raw!r} is not a number, yes/no or pass/fail", file=file, line=line, field="score"
        ) from None


def message_text(value: str | list[Message] | list[dict[str, Any]]) -> str:
    """Flatten a string-or-messages value into plain text (for hashing, lengths, scanning)."""
    if isinstance(value, str):
        return value
    parts = []
    for m in value:
        content = m.content if isinstance(m, Message) else str(m.get("content", ""))
        parts.append(content)
    return "\n".join(parts)


def record_texts(record: Record) -> dict[str, str]:
    """Every text field of a record by name (``prompt``, ``completion``, ``messages[2]``...)."""
    if isinstance(record, SFTRecord):
        return {"prompt": record.prompt, "completion": record.completion}
    if isinstance(record, ChatRecord):
        return {f"messages[{i}]": m.content for i, m in enumerate(record.messages)}
    if isinstance(record, PreferenceRecord):
        return {
            "prompt": message_text(record.prompt),
            "chosen": message_text(record.chosen),
            "rejected": message_text(record.rejected),
        }
    if isinstance(record, RankingRecord):
        return {"prompt": message_text(record.prompt)} | {
            f"responses[{i}]": message_text(r) for i, r in enumerate(record.responses)
        }
    return {}


def dump_jsonl(rows: list[dict[str, Any]]) -> str:
    """Serialise rows as JSON lines (UTF-8, no ASCII escaping)."""
    buf = io.StringIO()
    for r in rows:
        buf.write(json.dumps(r, ensure_ascii=False) + "\n")
    return buf.getvalue()
