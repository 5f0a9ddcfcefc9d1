"""The results store: record documents, import files, read history and baselines back.

Every write is one transaction: a comparison, its runs and all their result rows are committed
together or not at all. Example::

    store = Store.open("sqlite:///store.sqlite")
    store.record(run.to_document(), source="harness eval ...")
    rows = store.results(suite="qa")
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, and_, insert, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from harness.errors import InputError, InputFileError
from harness.store import documents as docs
from harness.store.engine import StoreUnavailableError, connect
from harness.store.schema import records, results

__all__ = ["Recorded", "Store", "StoredRecord", "read_document"]


@dataclass(frozen=True)
class Recorded:
    """What a write did: the record's id and whether it was new (False: the same document was there)."""

    id: int
    new: bool
    kind: str


@dataclass(frozen=True)
class StoredRecord:
    """A record read back: its columns and its document."""

    id: int
    kind: str
    created_at: datetime
    parent_id: int | None
    role: str | None
    verdict: str | None
    source: str | None
    provenance: dict[str, Any]
    document: dict[str, Any]


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


class Store:
    """A results store on an SQLAlchemy engine (SQLite file or PostgreSQL)."""

    def __init__(self, engine: Engine, url: str) -> None:
        self.engine = engine
        self.url = url

    @classmethod
    def open(cls, url: str) -> Store:
        """Open (and create or upgrade) the store at ``url`` (or a SQLite file path); see :func:`connect`."""
        if "://" not in url:
            url = f"sqlite:///{Path(url).expanduser().absolute()}"
        return cls(connect(url), url)

    def close(self) -> None:
        """Release the store's connections."""
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def display_url(self) -> str:
        """The URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def _time(self, dt: datetime) -> datetime:
        # SQLite keeps no zone: store UTC wall time; PostgreSQL keeps the aware value
        dt = _aware(dt)
        return dt.replace(tzinfo=None) if self.engine.dialect.name == "sqlite" else dt

    # ---- writing -----------------------------------------------------------------------------

    def record(
        self,
        doc: dict[str, Any],
        *,
        source: str | None = None,
        runs: Mapping[str, Mapping[str, dict[str, Any]]] | None = None,
    ) -> Recorded:
        """Record a document (and, for a comparison or leaderboard, the runs it was made of).

        Args:
            doc: a ``harness.run/v1``, ``harness.comparison/v1`` or ``harness.leaderboard/v1`` document.
            source: the command line or file it came from.
            runs: per suite, per role (``base``, ``candidate``, or a leaderboard's model label), the
                run documents; a candidate's run gets its suite's verdict, so it can serve as a
                baseline (``store:last-pass``) later.

        Returns:
            The record's id; ``new`` is False when the same document was already recorded.
        """
        try:
            return self._record(doc, source, runs)
        except OperationalError as exc:  # the server went away, the disk is full...
            msg = str(exc.orig if exc.orig is not None else exc).strip().splitlines()[0]
            raise StoreUnavailableError(f"cannot write to the store {self.display_url}: {msg}") from exc

    def _record(
        self, doc: dict[str, Any], source: str | None, runs: Mapping[str, Mapping[str, dict[str, Any]]] | None
    ) -> Recorded:
        kind = docs.kind_of(doc)
        uid = docs.document_uid(doc)
        try:
            with self.engine.begin() as conn:
                found = conn.execute(select(records.c.id).where(records.c.uid == uid)).scalar()
                if found is not None:
                    return Recorded(int(found), False, kind)
                rid = self._insert(conn, doc, kind, uid, source=source)
                verdicts = docs.suite_verdicts(doc) if kind == "comparison" else {}
                for suite, by_role in (runs or {}).items():
                    for role, run_doc in by_role.items():
                        verdict = verdicts.get(suite) if role == "candidate" else None
                        self._insert(conn, run_doc, "run", docs.document_uid(run_doc, uid, role), source=source,
                                     parent=rid, role=role, verdict=verdict)  # fmt: skip
        except IntegrityError:
            # another process recorded the same document between our check and our insert
            with self.engine.connect().execution_options(readonly=True) as conn:
                found = conn.execute(select(records.c.id).where(records.c.uid == uid)).scalar()
            if found is None:
                raise
            return Recorded(int(found), False, kind)
        return Recorded(rid, True, kind)

    def _insert(
        self,
        conn: Any,
        doc: dict[str, Any],
        kind: str,
        uid: str,
        *,
        source: str | None,
        parent: int | None = None,
        role: str | None = None,
        verdict: str | None = None,
    ) -> int:
        if docs.kind_of(doc) != kind:
            raise InputError(f"expected a {kind} document, got schema {doc.get('schema')!r}", field="schema")
        when = docs.created_at(doc)
        if kind in ("comparison", "monitor", "redteam"):
            verdict = doc.get("verdict")
        prov = docs.provenance(doc)
        row = {
            "uid": uid, "kind": kind, "schema": doc["schema"], "created_at": self._time(when),
            "recorded_at": self._time(datetime.now(UTC)), "parent_id": parent, "role": role, "verdict": verdict,
            "source": source, "harness_version": prov.get("harness_version") or prov.get("harness"),
            "provenance": docs.canonical(prov), "document": docs.canonical(doc),
        }  # fmt: skip
        rid = int(conn.execute(insert(records).values(**row).returning(records.c.id)).scalar_one())
        if kind == "run":
            rows = [{**r, "role": role or "run", "verdict": verdict} for r in docs.run_rows(doc)]
        elif kind == "comparison":
            rows = [{**r, "role": "comparison"} for r in docs.comparison_rows(doc)]
        elif kind == "leaderboard":
            rows = [{**r, "role": "leaderboard"} for r in docs.leaderboard_rows(doc)]
        else:  # monitor and red-team reports are kept whole, with their verdict; no per-criterion rows
            rows = []
        if rows:
            conn.execute(insert(results), [{**r, "record_id": rid, "created_at": self._time(when)} for r in rows])
        return rid

    def import_file(self, path: str | Path) -> Recorded:
        """Import a ``run.json``, ``comparison.json`` or ``leaderboard.json`` (a folder: the one it holds).

        A comparison's runs are imported with it when the paths it records still hold them.
        """
        path, doc = read_document(path)
        runs = _comparison_runs(doc, path.parent) if docs.kind_of(doc) == "comparison" else None
        return self.record(doc, source=f"import {path}", runs=runs)

    # ---- reading -----------------------------------------------------------------------------

    def get(self, record_id: int) -> StoredRecord:
        """The record with this id."""
        with self.engine.connect().execution_options(readonly=True) as conn:
            row = conn.execute(select(records).where(records.c.id == record_id)).mappings().first()
        if row is None:
            raise InputError(f"the store {self.display_url} has no record #{record_id}", field="store")
        return _stored(row)

    def records(self, ids: Sequence[int] | None = None, *, top_level: bool = False) -> list[StoredRecord]:
        """Records (all, or those with the given ids), oldest first."""
        q = select(records).order_by(records.c.created_at, records.c.id)
        if ids is not None:
            q = q.where(records.c.id.in_(list(ids)))
        if top_level:
            q = q.where(records.c.parent_id.is_(None))
        with self.engine.connect().execution_options(readonly=True) as conn:
            return [_stored(r) for r in conn.execute(q).mappings()]

    def results(
        self,
        *,
        suite: str | None = None,
        model: str | None = None,
        criterion: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Result rows (with their record's kind and parent), oldest first, filtered.

        ``model`` matches a substring of the model spec or a prefix of its weights hash.
        """
        q = (
            select(results, records.c.kind, records.c.parent_id)
            .join(records, records.c.id == results.c.record_id)
            .order_by(results.c.created_at, results.c.record_id, results.c.id)
        )
        conds = []
        if suite is not None:
            conds.append(results.c.suite == suite)
        if model is not None:
            conds.append(or_(results.c.model_spec.contains(model, autoescape=True),
                             results.c.model_hash.startswith(model, autoescape=True)))  # fmt: skip
        if criterion is not None:
            conds.append(results.c.criterion == criterion)
        if since is not None:
            conds.append(results.c.created_at >= self._time(since))
        if until is not None:
            conds.append(results.c.created_at <= self._time(until))
        if conds:
            q = q.where(and_(*conds))
        with self.engine.connect().execution_options(readonly=True) as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        for r in rows:
            r["created_at"] = _aware(r["created_at"])
        return rows

    def last_passing_run(self, suite: str, *, suite_hash: str | None = None) -> StoredRecord | None:
        """The newest run of a candidate that passed a gate on ``suite`` (on the same items, if given)."""
        q = (
            select(results.c.record_id)
            .join(records, records.c.id == results.c.record_id)
            .where(records.c.kind == "run", results.c.role == "candidate", results.c.verdict == "pass",
                   results.c.suite == suite)
            .order_by(results.c.created_at.desc(), results.c.record_id.desc())
            .limit(1)
        )
        if suite_hash is not None:
            q = q.where(results.c.suite_hash == suite_hash)
        with self.engine.connect().execution_options(readonly=True) as conn:
            rid = conn.execute(q).scalar()
        return None if rid is None else self.get(int(rid))

    def count(self) -> int:
        """Number of records."""
        from sqlalchemy import func

        with self.engine.connect().execution_options(readonly=True) as conn:
            return int(conn.execute(select(func.count()).select_from(records)).scalar_one())


def read_document(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The document a file (or a folder's run.json, comparison.json or leaderboard.json) holds, checked."""
    path = Path(path)
    if path.is_dir():
        found = [path / n for n in ("comparison.json", "run.json", "leaderboard.json") if (path / n).is_file()]
        if not found:
            raise InputFileError("no run.json, comparison.json or leaderboard.json in this folder", file=path)
        path = found[0]
    if not path.is_file():
        raise InputFileError("no such file", file=path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON document: {exc}", file=path) from exc
    docs.kind_of(doc, file=str(path))
    return path, doc


def _stored(row: Any) -> StoredRecord:
    return StoredRecord(
        id=int(row["id"]), kind=row["kind"], created_at=_aware(row["created_at"]), parent_id=row["parent_id"],
        role=row["role"], verdict=row["verdict"], source=row["source"],
        provenance=json.loads(row["provenance"]), document=json.loads(row["document"]),
    )  # fmt: skip


def _comparison_runs(doc: dict[str, Any], folder: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The run documents a comparison records the paths of, when they are still there."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for comp in doc.get("comparisons") or []:
        for role in ("base", "candidate"):
            p = (comp.get(role) or {}).get("path")
            if not p:
                continue
            for cand in (Path(p), folder / p):
                if cand.is_file():
                    try:
                        run = json.loads(cand.read_text(encoding="utf-8"))
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        break
                    if isinstance(run, dict) and run.get("schema") == "harness.run/v1":
                        out.setdefault(str(comp.get("suite")), {})[role] = run
                    break
    return out
