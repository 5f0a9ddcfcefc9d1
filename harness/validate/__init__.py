"""Validate a training file: every check in one streaming pass, findings collected.

Example:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "train.jsonl"
    >>> _ = p.write_text('{"prompt": "Hi", "completion": "Hello!"}\\n{"prompt": "Hi", "completion": "hello! "}\\n')
    >>> report = validate_file(p)
    >>> [f.check for f in report.findings if f.severity != "info"]
    ['duplicates.exact']
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.errors import InputError
from harness.findings import problem_finding
from harness.gcpause import paused_gc
from harness.leakage.options import LeakageOptions
from harness.records import RowProblem, detect_format, iter_records
from harness.validate.balance import GroupBalance
from harness.validate.checks import CHECKS, Check, CheckSettings, Lengths
from harness.validate.findings import Finding, ValidationReport
from harness.validate.leakage import LeakageCheck, NearDuplicates

__all__ = [
    "CHECKS",
    "DEFAULT_CHECKS",
    "Check",
    "Finding",
    "LeakageCheck",
    "NearDuplicates",
    "ValidationReport",
    "default_checks",
    "validate_file",
]

DEFAULT_CHECKS = (
    "schema.duplicate_id",
    "schema.empty_field",
    "duplicates.exact",
    "duplicates.near",
    "chat",
    "pii",
    "preference",
    "ranking",
    "length",
)
"""The registered checks ``harness validate`` runs on every file, in the order of their findings."""

MAX_SCHEMA_ERRORS = 100
MAX_FINDINGS_PER_CHECK = 500


def default_checks(
    *,
    count: Callable[[str], int] | None = None,
    unit: str = "words",
    max_length: int | None = None,
    near_options: LeakageOptions | None = None,
) -> list[Check]:
    """The checks ``harness validate`` runs on every file.

    ``near_options`` configures ``duplicates.near`` (shingle size, ``near_threshold``, workers).
    """
    settings = CheckSettings(count=count, unit=unit, max_length=max_length, near_options=near_options)
    return [CHECKS.get(name).from_settings(settings) for name in DEFAULT_CHECKS]


def validate_file(
    path: str | Path,
    *,
    format: str | None = None,
    kind: str | None = None,
    checks: Iterable[Check] | None = None,
    extra_checks: Iterable[Check] = (),
    max_schema_errors: int = MAX_SCHEMA_ERRORS,
    max_findings_per_check: int = MAX_FINDINGS_PER_CHECK,
    holdouts: Sequence[str | Path] = (),
    paraphrase: bool | None = None,
    leakage_options: LeakageOptions | None = None,
    by: Sequence[str] = (),
    **leakage_overrides: Any,
) -> ValidationReport:
    """Run checks over a training file in one pass and collect their findings.

    Args:
        path: JSONL, CSV or Parquet file of SFT, chat, preference or ranking records.
        format: force the file format; detected from content when None.
        kind: force the record kind; detected from the first row when None.
        checks: the checks to run (``default_checks()`` when None).
        extra_checks: further checks (leakage against holdouts plugs in here).
        max_schema_errors: schema problems listed before the rest are only counted.
        max_findings_per_check: findings listed per check name before the rest are only counted.
        holdouts: holdout files or suite folders; when given, leakage checks join the pass
            (``leakage.*``, and a ``leakage.summary`` note saying which methods ran).
        paraphrase: None: paraphrase detection on when the ``embed`` extra is installed (the
            summary says so either way); True: required (error without the extra); False: off.
        leakage_options: scan options (n, thresholds, workers...), see
            :class:`~harness.leakage.options.LeakageOptions`.
        by: item fields to report the group balance of (``balance.*``); the ``gate.slices`` of
            holdout suites are added.
        **leakage_overrides: single options on top (``n=8``, ``threshold=0.5``...).

    Raises:
        InputFileError: the path (or a holdout) is missing or a directory.
        InputError: the file is empty or unreadable as the given format; a bad holdout or option;
            ``paraphrase=True`` without the ``embed`` extra.
    """
    path = Path(path)
    fmt = format or detect_format(path)
    active = [*(default_checks() if checks is None else checks), *extra_checks]
    leak: LeakageCheck | None = None
    if holdouts:
        if paraphrase is not None:
            leakage_overrides["paraphrase"] = paraphrase
        leak = LeakageCheck(holdouts, options=leakage_options, **leakage_overrides)
        near = next((c for c in active if isinstance(c, NearDuplicates)), None)
        if near is not None:
            leak.share_with(near)
        active.append(leak)
    elif leakage_overrides or leakage_options is not None:
        raise InputError("leakage options were given without a holdout: pass holdouts=[...]", field="holdouts")
    if by or holdouts:
        balance = GroupBalance(by, holdouts)
        if balance.fields:
            active.append(balance)
    try:
        return _run(path, fmt, kind, active, leak, max_schema_errors, max_findings_per_check)
    finally:
        for check in active:
            stop = getattr(check, "close", None)
            if stop is not None:
                stop()


def _approx_rows(path: Path, fmt: str) -> int | None:
    """Rows in the file for the progress display: its line count (JSONL, CSV), else unknown."""
    if fmt not in ("jsonl", "csv") or not path.is_file():
        return None
    n = 0
    last = b"\n"
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
            last = chunk[-1:]
    n += last != b"\n"
    return max(n - (fmt == "csv"), 0)


def _run(
    path: Path,
    fmt: str,
    kind: str | None,
    active: list[Check],
    leak: LeakageCheck | None,
    max_schema_errors: int,
    max_findings_per_check: int,
) -> ValidationReport:
    findings: list[Finding] = []
    per_check: Counter[str] = Counter()
    truncated: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    n_records = n_rows = schema_errors = 0

    def add(f: Finding) -> None:
        per_check[f.check] += 1
        if per_check[f.check] > max_findings_per_check:
            truncated[f.check] += 1
        else:
            findings.append(f)

    def _observe(item: Any) -> None:
        nonlocal schema_errors, n_records
        if isinstance(item, RowProblem):
            schema_errors += 1
            if schema_errors <= max_schema_errors:
                findings.append(problem_finding(item))
            else:
                truncated[item.check] += 1
            return
        n_records += 1
        kinds[item.kind] += 1
        for check in active:
            for f in check.observe(item):
                add(f)

    from harness.progress import step

    reading = step(f"reading {path.name}", total=_approx_rows(path, fmt))
    shown = reading.__enter__()
    try:
        # Records, digests and batches held for hashing are acyclic: reference counting frees them,
        # and the collector's passes over them would only cost time (3% of a 100,000-record run).
        with paused_gc():
            for item in iter_records(path, format=fmt, kind=kind):
                n_rows += 1
                shown.advance()
                _observe(item)
    finally:
        reading.__exit__(None, None, None)
    for check in active:
        with step(f"{path.name}: {check.name}"):  # near duplicates, leakage: hashing, embedding
            for f in check.finish():
                add(f)
    if n_records == 0 and schema_errors == 0:
        findings.append(Finding(check="schema.no_records", severity="error", message="no records in file"))
    stats: dict[str, object] = {"kinds": dict(kinds)}
    for check in active:
        if isinstance(check, Lengths):
            stats["length"] = check.stats()
    by_check: dict[str, int] = defaultdict(int)
    for name, n in per_check.items():
        by_check[name] = n
    stats["findings_by_check"] = dict(sorted(by_check.items()))
    if leak is not None and leak.summary is not None:
        stats["leakage"] = leak.summary
    return ValidationReport(
        file=str(path),
        format=fmt,
        kind=kinds.most_common(1)[0][0] if kinds else None,
        n_records=n_records,
        n_rows=n_rows,
        checks=sorted({c.name for c in active}),
        findings=findings,
        truncated=dict(truncated),
        stats=stats,
    )
