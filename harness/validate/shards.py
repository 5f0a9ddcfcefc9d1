"""Validation of a folder or glob of shards as one data set: one task per shard, joined on the caller.

Each shard is read by one task (:func:`scan_shard`), in bounded memory: the shard's records, the
holdout index and the compact per-record data the task returns. A task runs the per-row checks
(schema, empty fields, chat, personal data) and returns their findings with the shard's lines,
and for the checks that compare records across the whole data set it returns what they need:
the exact-duplicate digests, lengths, ids, MinHash signatures and leakage hits. The join
(:func:`join_shards`) feeds those to the same check classes and result functions
``validate_file`` uses, in shard order, so the findings are those of one pass over the shards
one after the other, each attributed to its file and line (``Finding.files``).

The engines (:mod:`harness.validate.distributed`) only decide where the tasks run: in this
process one after the other (``local``) or on a Dask cluster (``dask``).
"""

from __future__ import annotations

import glob
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from harness.errors import InputError, InputFileError
from harness.findings import Finding, problem_finding
from harness.leakage.api import Prepared, summary, summary_finding
from harness.leakage.embed import Embedder
from harness.leakage.options import LeakageOptions
from harness.leakage.result import leak_findings, near_duplicate_findings
from harness.leakage.scan import PairHit, Scanner, WithinStore
from harness.records import RowProblem, detect_format, iter_records, record_texts
from harness.validate import DEFAULT_CHECKS
from harness.validate.balance import GroupBalance
from harness.validate.checks import CHECKS, CheckSettings, DuplicateIds, ExactDuplicates, Lengths
from harness.validate.findings import ValidationReport

__all__ = ["SHARD_SUFFIXES", "ShardPlan", "ShardResult", "expand_shards", "join_shards", "scan_shard"]

SHARD_SUFFIXES = (".jsonl", ".json", ".parquet", ".csv")
"""File names a folder of shards is read for (in sorted order)."""

ROW_CHECKS = ("schema.empty_field", "chat", "pii", "preference", "ranking")
"""Registered checks whose findings concern one record: run inside each shard's task."""

WHOLE_FILE_KINDS = ("preference", "ranking")


@dataclass
class ShardPlan:
    """What every shard task needs: the settings, the scan options and the holdout index.

    Attributes:
        settings: the checks' settings (length counting, ``max_length``).
        near_options: options of ``duplicates.near`` when there is no holdout.
        prep: the holdouts loaded and indexed (None without holdouts); built once, by the caller.
        balance_fields: fields ``balance.groups`` counts.
        format: force the shards' format (detected per shard when None).
        kind: force the record kind (detected per shard when None).
        max_findings_per_check: findings a task returns per check (the join keeps as many).
        max_schema_errors: schema problems a task returns (the join keeps as many).
        load_embedder: a task on another machine loads its own paraphrase model (``prep.embedder``
            is not shipped).
    """

    settings: CheckSettings
    near_options: LeakageOptions
    prep: Prepared | None = None
    balance_fields: list[str] = field(default_factory=list)
    format: str | None = None
    kind: str | None = None
    max_findings_per_check: int = 500
    max_schema_errors: int = 100
    load_embedder: bool = False

    def for_workers(self) -> ShardPlan:
        """The plan shipped to cluster workers: one hashing process each, no embedding model inside."""
        prep = self.prep
        if prep is not None:
            prep = prep._replace(options=prep.options.model_copy(update={"workers": 1}), embedder=None)
        return replace(
            self,
            prep=prep,
            near_options=self.near_options.model_copy(update={"workers": 1}),
            load_embedder=self.prep is not None and self.prep.embedder is not None,
        )


@dataclass
class ShardResult:
    """What one shard's task returns (compact: no record text except in leakage hits)."""

    file: str
    format: str
    n_rows: int = 0
    n_records: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    entries: list[tuple[bool, Finding]] = field(default_factory=list)  # (is a schema problem, finding)
    schema_over: Counter[str] = field(default_factory=Counter)  # schema problems left out, by check
    check_over: Counter[str] = field(default_factory=Counter)  # row findings left out, by check
    ids: list[tuple[str, int]] = field(default_factory=list)  # (id, line) per record
    exact: dict[bytes, list[tuple[str, int]]] = field(default_factory=dict)
    length_values: list[int] = field(default_factory=list)
    length_records: list[int] = field(default_factory=list)  # record index of each length
    hits: list[PairHit] = field(default_factory=list)
    store: WithinStore = field(default_factory=WithinStore)
    n_texts: int = 0
    balance: dict[str, Counter[str]] = field(default_factory=dict)
    balance_n: int = 0
    audits: list[Any] = field(default_factory=list)  # preference/ranking audits that saw records


def expand_shards(source: str | Path) -> list[Path]:
    """The shard files of a folder (its ``*.jsonl``, ``*.json``, ``*.parquet``, ``*.csv``), a glob or one file.

    Raises:
        InputFileError: nothing matches.
    """
    text = str(source)
    path = Path(text)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in SHARD_SUFFIXES)
        if not found:
            raise InputFileError(f"no shards ({', '.join(SHARD_SUFFIXES)}) in folder", file=text)
        return found
    if path.exists():
        return [path]
    if glob.has_magic(text):
        found = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not found:
            raise InputFileError("no file matches this pattern", file=text)
        return found
    raise InputFileError("no such file or folder", file=text)


# ---------------------------------------------------------------------------- one shard (a task)
_EMBEDDER: list[Embedder] = []  # one paraphrase model per worker process, loaded by its first task


def _embedder(plan: ShardPlan) -> Embedder | None:
    if plan.prep is not None and plan.prep.embedder is not None:
        return plan.prep.embedder
    if not plan.load_embedder:
        return None
    if not _EMBEDDER:
        _EMBEDDER.append(Embedder())
    return _EMBEDDER[0]


def scan_shard(path: str | Path, plan: ShardPlan) -> ShardResult:
    """Read one shard and run its part of every check (the task of one shard).

    Raises:
        InputFileError, InputError: the shard is missing or unreadable in its format.
    """
    path = Path(path)
    fmt = plan.format or detect_format(path)
    out = ShardResult(file=str(path), format=fmt)
    row_checks = [CHECKS.get(name).from_settings(plan.settings) for name in ROW_CHECKS]
    exact, lengths = ExactDuplicates(), Lengths.from_settings(plan.settings)
    assert isinstance(lengths, Lengths)
    balance = GroupBalance(plan.balance_fields) if plan.balance_fields else None
    if plan.prep is not None:
        scanner = Scanner(plan.prep.holdout_index, plan.prep.options, within=True, embedder=_embedder(plan))
    else:
        scanner = Scanner(None, plan.near_options, within=True)
    per_check: Counter[str] = Counter()
    n_schema = 0
    try:
        for item in iter_records(path, format=fmt, kind=plan.kind):
            out.n_rows += 1
            if isinstance(item, RowProblem):
                n_schema += 1
                if n_schema <= plan.max_schema_errors:
                    out.entries.append((True, problem_finding(item)))
                else:
                    out.schema_over[item.check] += 1
                continue
            out.kinds[item.kind] += 1
            out.ids.append((item.id, item.line))
            for check in row_checks:
                for f in check.observe(item):
                    per_check[f.check] += 1
                    if per_check[f.check] <= plan.max_findings_per_check:
                        out.entries.append((False, f))
                    else:
                        out.check_over[f.check] += 1
            exact.observe(item)
            before = len(lengths.lengths)
            lengths.observe(item)
            if len(lengths.lengths) > before:
                out.length_records.append(out.n_records)
            if balance is not None:
                balance.observe(item)
            # Rankings are hashed too (leakage); the join leaves their within-set matches out.
            scanner.add(item.id, item.line, record_texts(item))
            out.n_records += 1
        scanner.close()
    finally:
        scanner.abort()
    out.exact = dict(exact.groups)
    out.length_values = lengths.lengths
    out.hits, out.store, out.n_texts = scanner.hits, scanner.store, scanner.n_texts
    if balance is not None:
        out.balance, out.balance_n = balance.counts, balance.n
    out.audits = [c for c in row_checks if c.name in WHOLE_FILE_KINDS and out.kinds.get(c.name)]
    return out


# ---------------------------------------------------------------------------- the join
class _Join:
    """Collects the shards' results in order and finishes every check over all of them."""

    def __init__(self, plan: ShardPlan, results: Sequence[ShardResult]) -> None:
        self.plan = plan
        self.results = results
        self.files = [r.file for r in results]
        sizes = [r.n_records for r in results]
        self.offsets = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
        self.ids = [rid for r in results for rid, _ in r.ids]
        self.findings: list[Finding] = []
        self.per_check: Counter[str] = Counter()
        self.truncated: Counter[str] = Counter()

    def file_of(self, record: int) -> str:
        return self.files[int(np.searchsorted(self.offsets, record, side="right")) - 1]

    def add(self, f: Finding) -> None:
        self.per_check[f.check] += 1
        if self.per_check[f.check] > self.plan.max_findings_per_check:
            self.truncated[f.check] += 1
        else:
            self.findings.append(f)

    def by_record(self, found: Iterable[Finding]) -> Iterable[Finding]:
        """Findings whose ``ids`` are global record numbers: back to real ids, with their files."""
        for f in found:
            recs = [int(i) for i in f.ids]
            yield f.model_copy(update={"ids": [self.ids[i] for i in recs], "files": [self.file_of(i) for i in recs]})

    def rows(self) -> tuple[int, int]:
        """Add the per-row findings of every shard in order; return (records, schema problems)."""
        n_schema = 0
        for r in self.results:
            for is_schema, f in r.entries:
                f = f.model_copy(update={"files": [r.file] * len(f.lines)})
                if is_schema:
                    n_schema += 1
                    if n_schema <= self.plan.max_schema_errors:
                        self.findings.append(f)
                    else:
                        self.truncated[f.check] += 1
                else:
                    self.add(f)
            n_schema += sum(r.schema_over.values())
            self.truncated.update(r.schema_over)
            self.per_check.update(r.check_over)
            self.truncated.update(r.check_over)
        return sum(r.n_records for r in self.results), n_schema

    def duplicate_ids(self) -> Iterable[Finding]:
        """``schema.duplicate_id`` over all shards: an explicit id is one name in the whole data set; a
        positional one (``L<its line>``) names a line of its own file and is not re-used by other shards."""
        check = DuplicateIds()
        first: dict[str, str] = {}
        later: dict[str, list[str]] = defaultdict(list)
        name: dict[str, str] = {}
        several = len(self.results) > 1
        for s, r in enumerate(self.results):
            for rid, line in r.ids:
                key = rid
                if several and rid == f"L{line}":
                    key = f"{rid}\x00{s}"
                    name[key] = rid
                check.observe(SimpleNamespace(id=key, line=line))  # type: ignore[arg-type]
                if key in first:
                    later[key].append(r.file)
                else:
                    first[key] = r.file
        for f in check.finish():
            key = f.ids[0]
            rid = name.get(key, key)
            yield f.model_copy(
                update={
                    "ids": [rid],
                    "message": f.message.replace(f"'{key}'", f"'{rid}'", 1),
                    "files": [first[key], *later[key]],
                }
            )

    def exact_duplicates(self) -> Iterable[Finding]:
        check = ExactDuplicates()
        files: list[str] = []
        for r in self.results:
            for key, members in r.exact.items():
                for rid, line in members:
                    check.add(key, rid, line)
                files += [r.file] * len(members)
        for group in check.duplicate_groups():
            yield check.finding(group).model_copy(update={"files": [files[i] for i in group]})

    def near_duplicates(self, opts: LeakageOptions) -> Iterable[Finding]:
        store = WithinStore()
        rankings: set[int] = set()
        for r, base in zip(self.results, self.offsets.tolist(), strict=False):
            s = r.store
            store.sig += s.sig
            store.bands += s.bands
            store.digest += s.digest
            store.ok += s.ok
            store.ids += [str(base + i) for i in range(len(s.ids))]
            store.lines += s.lines
            if r.kinds.get("ranking"):
                rankings.update(base + i for i in range(len(s.ids)))
        found = [f for f in near_duplicate_findings(store, opts) if not {int(i) for i in f.ids} <= rankings]
        return self.by_record(found)

    def lengths(self) -> tuple[Iterable[Finding], dict[str, Any]]:
        check = Lengths.from_settings(self.plan.settings)
        assert isinstance(check, Lengths)
        for r, base in zip(self.results, self.offsets.tolist(), strict=False):
            check.lengths += r.length_values
            check.ids += [str(base + i) for i in r.length_records]
            check.lines += [r.ids[i][1] for i in r.length_records]
        return self.by_record(list(check.finish())), check.stats()

    def leakage(self, prep: Prepared) -> tuple[list[Finding], dict[str, Any]]:
        hits = []
        for r, base in zip(self.results, self.offsets.tolist(), strict=False):
            for h in r.hits:
                g = base + h.record
                hits.append(replace(h, record=g, record_id=str(g)))
        found = list(self.by_record(leak_findings(hits, prep.holdout_index, prep.options)))
        n_texts = sum(r.n_texts for r in self.results)
        summ = summary(prep, found, int(self.offsets[-1]), n_texts)
        return [summary_finding(summ, prep.ran), *found], summ

    def balance(self, check: GroupBalance) -> Iterable[Finding]:
        for r in self.results:
            for name, counts in r.balance.items():
                check.counts[name].update(counts)
            check.n += r.balance_n
        return check.finish()


def join_shards(
    source: str,
    plan: ShardPlan,
    results: Sequence[ShardResult],
    *,
    balance: GroupBalance | None = None,
    one_file: bool = False,
) -> ValidationReport:
    """Finish every check over the shards' results, in shard order, as one pass over them would.

    Args:
        source: the folder, glob or file given (the report's ``file``).
        plan: the plan the shards were scanned with.
        results: each shard's result, in the order of :func:`expand_shards`.
        balance: the caller's ``balance.groups`` check (with the holdouts' slices), if any.
        one_file: the source is one file: findings carry no ``files`` and there is no
            ``stats.shards`` (the document is that of ``validate_file``).

    Raises:
        InputError: preference or ranking records (their audits compare records of one file).
    """
    kinds: Counter[str] = Counter()
    for r in results:
        kinds.update(r.kinds)
    whole = [k for k in WHOLE_FILE_KINDS if kinds.get(k)]
    if whole and not one_file:
        raise InputError(
            f"{' and '.join(whole)} records are audited across the whole file (conflicts, position bias): "
            "validate such shards one file at a time",
            file=source,
        )
    j = _Join(plan, results)
    n_records, n_schema = j.rows()
    for f in j.duplicate_ids():
        j.add(f)
    for f in j.exact_duplicates():
        j.add(f)
    scan_opts = plan.prep.options if plan.prep is not None else plan.near_options
    for f in j.near_duplicates(scan_opts):
        j.add(f)
    for audit in (a for r in results for a in r.audits):  # one file: its preference or ranking audit
        for f in audit.finish():
            j.add(f)
    length_findings, length_stats = j.lengths()
    for f in length_findings:
        j.add(f)
    leak_summary = None
    if plan.prep is not None:
        leak, leak_summary = j.leakage(plan.prep)
        for f in leak:
            j.add(f)
    if balance is not None:
        for f in j.balance(balance):
            j.add(f)
    if n_records == 0 and n_schema == 0:
        j.findings.append(Finding(check="schema.no_records", severity="error", message="no records in file"))
    stats: dict[str, object] = {"kinds": dict(kinds), "length": length_stats}
    stats["findings_by_check"] = dict(sorted(j.per_check.items()))
    if leak_summary is not None:
        stats["leakage"] = leak_summary
    findings = j.findings
    if one_file:
        findings = [f.model_copy(update={"files": None}) for f in findings]
    else:
        stats["shards"] = [{"file": r.file, "n_rows": r.n_rows, "n_records": r.n_records} for r in results]
    formats = {r.format for r in results}
    names = [*DEFAULT_CHECKS, *(["leakage"] if plan.prep is not None else []), *(["balance.groups"] if balance else [])]
    return ValidationReport(
        file=source,
        format=formats.pop() if len(formats) == 1 else "mixed",
        kind=kinds.most_common(1)[0][0] if kinds else None,
        n_records=n_records,
        n_rows=sum(r.n_rows for r in results),
        checks=sorted(set(names)),
        findings=findings,
        truncated=dict(j.truncated),
        stats=stats,
    )

