"""Streaming checks over dataset records.

A check sees each record once (:meth:`Check.observe`) and reports at the end
(:meth:`Check.finish`), so every check runs in one pass over a file of any size. Checks that only
look at one record at a time keep no per-record state; those that compare records keep compact
digests, not text.

Every check class is registered in :data:`CHECKS` with :func:`check` (``harness list checks``)
and built from the command's settings by its ``from_settings``::

    @check("shouting", summary="all-capital completions")
    class Shouting(CheckBase):
        def observe(self, record): ...
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np

from harness.findings import Finding, Severity
from harness.leakage.options import LeakageOptions
from harness.records import (
    ROLES,
    ChatRecord,
    PreferenceRecord,
    RankingRecord,
    Record,
    SFTRecord,
    message_text,
    record_texts,
)
from harness.registry import Registry
from harness.stats.params import check_int
from harness.text import digest, normalize
from harness.validate.pii import find_pii

__all__ = ["CHECKS", "Check", "CheckBase", "CheckSettings", "check"]


class Check(Protocol):
    """A check run in one streaming pass."""

    name: str

    def observe(self, record: Record) -> Iterable[Finding]:
        """Look at one record; yield findings that concern it alone."""
        ...

    def finish(self) -> Iterable[Finding]:
        """Yield findings that need the whole file (duplicates, distributions)."""
        ...


@dataclass(frozen=True)
class CheckSettings:
    """What a check may be built from: the options of ``harness validate``.

    Attributes:
        count: how the ``length`` check counts (default: whitespace-separated words).
        unit: the unit ``count`` counts in.
        max_length: the ``length`` check flags longer examples as truncated.
        near_options: scan options of ``duplicates.near``.
        holdouts: holdout files or suite folders (the ``leakage`` check).
        leakage_options: scan options of the ``leakage`` check.
    """

    count: Callable[[str], int] | None = None
    unit: str = "words"
    max_length: int | None = None
    near_options: LeakageOptions | None = None
    holdouts: Sequence[str | Path] = ()
    leakage_options: LeakageOptions | None = None


CHECKS: Registry[Any] = Registry(
    "checks",
    builtins=(
        "harness.validate.checks",
        "harness.validate.preference",
        "harness.validate.ranking",
        "harness.validate.leakage",
    ),
    noun="check",
)
ClassT = TypeVar("ClassT", bound=type)


def check(name: str, *, summary: str | None = None, **recorded: Any) -> Callable[[ClassT], ClassT]:
    """Register a check class under ``name`` (the prefix of its findings' ``check``).

    The class gets ``name``; ``recorded`` is listed with it (``harness list checks``). The class
    builds itself from :class:`CheckSettings` with a ``from_settings`` class method.
    """

    def add(cls: ClassT) -> ClassT:
        cls.name = name  # type: ignore[attr-defined]
        return CHECKS.register(name, summary=summary, **recorded)(cls)

    return add


class CheckBase:
    """Base of checks: no findings unless overridden; built with no settings."""

    name = "base"

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """Build the check from the command's settings (most checks need none)."""
        return cls()

    def observe(self, record: Record) -> Iterable[Finding]:
        return ()

    def finish(self) -> Iterable[Finding]:
        return ()


@check("schema.duplicate_id")
class DuplicateIds(CheckBase):
    """Two records with the same explicit ``id``."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}
        self.dupes: dict[str, list[int]] = defaultdict(list)

    def observe(self, record: Record) -> Iterable[Finding]:
        if record.id in self.seen:
            self.dupes[record.id].append(record.line)
        else:
            self.seen[record.id] = record.line
        return ()

    def finish(self) -> Iterable[Finding]:
        for rid, lines in self.dupes.items():
            all_lines = [self.seen[rid], *lines]
            yield Finding(
                check=self.name,
                severity="error",
                message=f"id '{rid}' is used by {len(all_lines)} records (lines "
                f"{', '.join(map(str, all_lines))}); ids must be unique",
                ids=[rid],
                lines=all_lines,
            )


@check("schema.empty_field")
class EmptyFields(CheckBase):
    """Empty or whitespace-only text fields (the preference sides are audited separately)."""

    def observe(self, record: Record) -> Iterable[Finding]:
        texts = record_texts(record)
        if isinstance(record, PreferenceRecord):
            texts = {"prompt": texts["prompt"]}
        for field, text in texts.items():
            if not text.strip():
                yield Finding(
                    check=self.name,
                    severity="error",
                    message=f"line {record.line}: field '{field}' is empty or whitespace only",
                    ids=[record.id],
                    lines=[record.line],
                    data={"field": field},
                )


def _full_text(record: Record) -> str:
    return "\x1f".join(normalize(t) for t in record_texts(record).values())


@check("duplicates.exact")
class ExactDuplicates(CheckBase):
    """Records identical after normalisation (case, whitespace, Unicode NFKC).

    Keeps 16 bytes of digest, the line and a reference to the id per record (no dict entry per
    record): groups are found at the end by sorting the digests.
    """

    def __init__(self) -> None:
        self._keys = bytearray()
        self._ids: list[str] = []
        self._lines = array("q")

    def add(self, key: bytes, rid: str, line: int) -> None:
        """Count one record under its 16-byte digest."""
        self._keys += key
        self._ids.append(rid)
        self._lines.append(line)

    def observe(self, record: Record) -> Iterable[Finding]:
        text = _full_text(record)
        if isinstance(record, RankingRecord):
            # Several raters ranking the same responses is the design; one rater's repeat is a duplicate.
            text += "\x1f" + (record.rater_id or "") + "\x1f" + repr(record.ranks)
        self.add(digest(text), record.id, record.line)
        return ()

    def duplicate_groups(self) -> list[list[int]]:
        """Record positions of every digest seen more than once, groups by first appearance."""
        n = len(self._ids)
        if n < 2:
            return []
        keys = np.frombuffer(self._keys, dtype=">u8").reshape(n, 2)
        order = np.lexsort((keys[:, 1], keys[:, 0]))  # stable: equal digests stay in file order
        ordered = keys[order]
        starts = np.flatnonzero(np.concatenate(([True], np.any(ordered[1:] != ordered[:-1], axis=1))))
        sizes = np.diff(np.append(starts, n))
        many = sizes > 1
        runs = [order[a : a + k].tolist() for a, k in zip(starts[many].tolist(), sizes[many].tolist(), strict=True)]
        return sorted(runs, key=lambda members: members[0])

    @property
    def groups(self) -> dict[bytes, list[tuple[str, int]]]:
        """Every digest with its (id, line) members, in order of first appearance."""
        out: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
        for i, (rid, line) in enumerate(zip(self._ids, self._lines, strict=True)):
            out[bytes(self._keys[16 * i : 16 * i + 16])].append((rid, line))
        return out

    def finding(self, members: list[int]) -> Finding:
        """The finding of one group of record positions."""
        ids = [self._ids[i] for i in members]
        return Finding(
            check=self.name,
            severity="warning",
            message=f"{len(members)} records are identical after normalisation: "
            f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}",
            ids=ids,
            lines=[self._lines[i] for i in members],
        )

    def finish(self) -> Iterable[Finding]:
        for members in self.duplicate_groups():
            yield self.finding(members)


@check("chat")
class ChatStructure(CheckBase):
    """Known roles, system turns first, user/assistant alternating, assistant last."""

    def observe(self, record: Record) -> Iterable[Finding]:
        if isinstance(record, ChatRecord):
            yield from _chat_findings(record.messages, record.id, record.line, "messages")
        elif isinstance(record, PreferenceRecord):
            for side in ("prompt", "chosen", "rejected"):
                value = getattr(record, side)
                if not isinstance(value, str):
                    for i, m in enumerate(value):
                        if m.role not in ROLES:
                            yield _role_finding(m.role, record.id, record.line, f"{side}[{i}].role")


def _role_finding(role: str, rid: str, line: int, field: str) -> Finding:
    return Finding(
        check="chat.unknown_role",
        severity="error",
        message=f"line {line}: field '{field}' has unknown role {role!r}; expected one of {', '.join(ROLES)}",
        ids=[rid],
        lines=[line],
        data={"field": field, "role": role},
    )


def _chat_findings(messages: list[Any], rid: str, line: int, field: str) -> Iterable[Finding]:
    def f(check: str, severity: Severity, msg: str, **data: Any) -> Finding:
        return Finding(
            check=check,
            severity=severity,
            message=f"line {line}: {msg}",
            ids=[rid],
            lines=[line],
            data=data or None,
        )

    if not messages:
        yield f("chat.empty", "error", f"field '{field}' has no turns")
        return
    roles = [m.role for m in messages]
    for i, role in enumerate(roles):
        if role not in ROLES:
            yield _role_finding(role, rid, line, f"{field}[{i}].role")
    if "assistant" not in roles:
        yield f("chat.no_assistant_turn", "error", "conversation has no assistant turn to train on")
        return
    if roles[-1] != "assistant":
        yield f(
            "chat.last_turn",
            "error",
            f"last turn is '{roles[-1]}', not 'assistant': it would be trained on nothing",
            field=f"{field}[{len(roles) - 1}].role",
        )
    body = [r for r in roles if r != "system"]
    first_non_system = next(i for i, r in enumerate(roles) if r != "system")
    if "system" in roles[first_non_system:]:
        i = roles.index("system", first_non_system)
        yield f(
            "chat.system_position",
            "warning",
            f"system turn at position {i}, after the conversation began",
            field=f"{field}[{i}].role",
        )
    for i in range(1, len(body)):
        if body[i] == body[i - 1] and body[i] in ("user", "assistant"):
            yield f(
                "chat.alternation",
                "error",
                f"two consecutive '{body[i]}' turns: user and assistant turns must alternate",
            )
            break
    if body and body[0] == "assistant":
        yield f("chat.alternation", "warning", "conversation starts with an assistant turn")


@check("pii")
class PersonalData(CheckBase):
    """E-mail addresses, phone numbers, payment cards (Luhn) and IP addresses, masked."""

    def observe(self, record: Record) -> Iterable[Finding]:
        for field, text in record_texts(record).items():
            for m in find_pii(text):
                yield Finding(
                    check=f"pii.{m.kind}",
                    severity="warning",
                    message=f"line {record.line}: field '{field}' contains {_PII_NAMES[m.kind]} {m.masked}",
                    ids=[record.id],
                    lines=[record.line],
                    data={"field": field, "masked": m.masked, "start": m.start, "end": m.end},
                )


_PII_NAMES = {
    "email": "an e-mail address",
    "phone": "a phone number",
    "card": "a payment card number",
    "ip": "an IP address",
}


def _words(text: str) -> int:
    return len(text.split())


def _sequences(record: Record) -> list[str]:
    """The text a trainer would see for one example (both sides of a preference pair)."""
    if isinstance(record, SFTRecord):
        return [record.prompt + "\n" + record.completion]
    if isinstance(record, ChatRecord):
        return ["\n".join(m.content for m in record.messages)]
    if isinstance(record, PreferenceRecord):
        p = message_text(record.prompt)
        return [p + "\n" + message_text(record.chosen), p + "\n" + message_text(record.rejected)]
    if isinstance(record, RankingRecord):
        p = message_text(record.prompt)
        return [p + "\n" + message_text(r) for r in record.responses]
    return []


@check("length", settings=("count", "unit", "max_length"))
class Lengths(CheckBase):
    """Length distribution, far-out outliers (Tukey fences on log length), truncation."""

    def __init__(self, count: Callable[[str], int], unit: str, max_length: int | None) -> None:
        self.count = count
        self.unit = unit
        if max_length is not None:
            max_length = check_int(max_length, param="max_length", func="Lengths", low=1)
        self.max_length = max_length
        self.lengths: list[int] = []
        self.ids: list[str] = []
        self.lines: list[int] = []

    @classmethod
    def from_settings(cls, settings: CheckSettings) -> Check:
        """Count with ``settings.count`` (default: words), flag examples over ``settings.max_length``."""
        return cls(settings.count or _words, settings.unit, settings.max_length)

    def observe(self, record: Record) -> Iterable[Finding]:
        seqs = _sequences(record)
        if seqs:
            self.lengths.append(max(self.count(s) for s in seqs))
            self.ids.append(record.id)
            self.lines.append(record.line)
        return ()

    def stats(self) -> dict[str, Any]:
        """Summary of the length distribution."""
        if not self.lengths:
            return {"unit": self.unit, "n": 0}
        a = np.asarray(self.lengths)
        q = np.percentile(a, [50, 90, 99])
        return {
            "unit": self.unit,
            "n": int(a.size),
            "mean": float(a.mean()),
            "p50": float(q[0]),
            "p90": float(q[1]),
            "p99": float(q[2]),
            "min": int(a.min()),
            "max": int(a.max()),
        }

    def finish(self) -> Iterable[Finding]:
        if not self.lengths:
            return
        a = np.asarray(self.lengths, dtype=float)
        s = self.stats()
        yield Finding(
            check="length.distribution",
            severity="info",
            message=f"lengths in {self.unit}: n={s['n']}, median {s['p50']:.0f}, p90 {s['p90']:.0f}, "
            f"p99 {s['p99']:.0f}, max {s['max']}",
            data=s,
        )
        if a.size >= 8:
            la = np.log1p(a)
            q1, q3 = np.percentile(la, [25, 75])
            iqr = max(q3 - q1, 0.1)
            lo, hi = q1 - 3 * iqr, q3 + 3 * iqr
            for i in np.flatnonzero((la < lo) | (la > hi)):
                side = "long" if la[i] > hi else "short"
                yield Finding(
                    check="length.outlier",
                    severity="warning",
                    message=f"line {self.lines[i]}: unusually {side} example ({int(a[i])} {self.unit}; "
                    f"median {s['p50']:.0f}, fences {np.expm1(lo):.0f}-{np.expm1(hi):.0f})",
                    ids=[self.ids[i]],
                    lines=[self.lines[i]],
                    data={"length": int(a[i]), "unit": self.unit},
                )
        if self.max_length is not None:
            over = np.flatnonzero(a > self.max_length)
            if over.size:
                yield Finding(
                    check="length.truncated",
                    severity="warning",
                    message=f"{over.size} example(s) exceed --max-length {self.max_length} {self.unit} "
                    f"and would be truncated (longest {int(a[over].max())})",
                    ids=[self.ids[i] for i in over],
                    lines=[self.lines[i] for i in over],
                    data={
                        "max_length": self.max_length,
                        "unit": self.unit,
                        "lengths": [int(a[i]) for i in over[:1000]],
                    },
                )
