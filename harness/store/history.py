"""History: what the store recorded, filtered, as rows (table, JSON) and trend points (HTML plots).

An entry is one top-level record on one suite: an eval run, or a gate/compare decision (its runs
are shown with it), or a leaderboard. Trend points are measurements of a model on a suite
criterion over time: the runs (an eval's, or a gate's base and candidate runs, the candidate's
marked with the gate's verdict), and a comparison's candidate means when its runs were not kept.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from harness.store import documents as docs
from harness.store.store import Store, StoredRecord

__all__ = ["HISTORY_SCHEMA", "Filters", "TrendPoint", "history_document", "trend_points"]

HISTORY_SCHEMA = "harness.history/v1"


class Filters(BaseModel):
    """What to select: suite (exact), model (spec substring or hash prefix), criterion, dates (inclusive)."""

    suite: str | None = None
    model: str | None = None
    criterion: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = Field(default=None, description="run | comparison | leaderboard")

    def query(self) -> dict[str, Any]:
        """Keyword arguments of :meth:`Store.results`."""
        return self.model_dump(exclude={"kind"})


class TrendPoint(BaseModel):
    """One measurement of a model on a suite criterion."""

    record_id: int
    created_at: datetime
    suite: str
    criterion: str
    model: str
    model_hash: str | None
    mean: float | None
    ci: list[float] | None
    n: int | None
    verdict: str | None = Field(description="the gate's verdict when this was a gated candidate")
    role: str


def _model_of(row: dict[str, Any]) -> str:
    return str(row.get("model_spec") or row.get("model_hash") or "?")


def _entry(rec: StoredRecord, suite: str) -> dict[str, Any]:
    verdict = docs.suite_verdicts(rec.document).get(suite) if rec.kind == "comparison" else None
    models: dict[str, str] = {}
    for comp in rec.document.get("comparisons") or [] if rec.kind == "comparison" else []:
        side = comp.get("base") or {}
        if str(comp.get("suite")) == suite and (side.get("model") or {}).get("spec"):
            stored = str(side.get("path") or "").startswith("store:")
            models["baseline" if stored else "base"] = str(side["model"]["spec"]) + (
                f" ({side['path']})" if stored else "")
    return {
        "record": rec.id, "kind": rec.kind, "created_at": rec.created_at.isoformat(timespec="seconds"),
        "suite": suite, "models": models, "verdict": verdict, "criteria": {}, "source": rec.source,
        "harness_version": rec.provenance.get("harness_version") or rec.provenance.get("harness"),
    }  # fmt: skip


def _add(entry: dict[str, Any], rec: StoredRecord, row: dict[str, Any]) -> None:
    """Fold one result row into its top-level record's entry."""
    crit, model = row["criterion"], _model_of(row)
    ci = [row["ci_low"], row["ci_high"]] if row["ci_low"] is not None else None
    if rec.kind == "run":  # an eval run
        entry["models"]["model"] = model
        entry["criteria"][crit] = {"mean": row["mean"], "ci": ci, "n": row["n"]}
    elif rec.kind == "comparison":
        if row["parent_id"] is not None:  # one of the runs compared: who was base and candidate
            entry["models"][row["role"]] = model
        elif crit not in entry["criteria"]:  # the candidate's mean and the paired difference
            entry["models"].setdefault("candidate", model)
            entry["criteria"][crit] = {"candidate_mean": row["mean"], "delta": row["delta"],
                                       "p_value": row["p_value"], "n": row["n"]}  # fmt: skip
    elif row["parent_id"] is None:  # a leaderboard: each model's mean
        entry["models"][model] = model
        entry["criteria"].setdefault(crit, {})[model] = row["mean"]


def history_document(store: Store, filters: Filters) -> dict[str, Any]:
    """The ``harness.history/v1`` document: one entry per top-level record and suite, newest first."""
    rows = store.results(**filters.query())
    top_of = {r["record_id"]: r["parent_id"] if r["parent_id"] is not None else r["record_id"] for r in rows}
    tops = {rec.id: rec for rec in store.records(sorted(set(top_of.values())))}
    by: dict[tuple[int, str], dict[str, Any]] = {}
    for r in rows:
        rec = tops[top_of[r["record_id"]]]
        if filters.kind is None or rec.kind == filters.kind:
            _add(by.setdefault((rec.id, r["suite"]), _entry(rec, r["suite"])), rec, r)
    entries = sorted(by.values(), key=lambda e: (e["created_at"], e["record"]), reverse=True)
    return {
        "schema": HISTORY_SCHEMA,
        "store": store.display_url,
        "filters": filters.model_dump(mode="json", exclude_none=True),
        "entries": entries,
    }


def trend_points(store: Store, filters: Filters) -> list[TrendPoint]:
    """Measurements over time per suite criterion (runs; a comparison's means when its runs are absent)."""
    rows = store.results(**filters.query())
    with_runs = {(r["parent_id"], r["suite"]) for r in rows if r["kind"] == "run" and r["role"] == "candidate"}
    out = []
    for r in rows:
        if r["kind"] == "leaderboard":
            continue
        if r["kind"] == "comparison" and (r["record_id"], r["suite"]) in with_runs:
            continue
        ci = [r["ci_low"], r["ci_high"]] if r["ci_low"] is not None and r["ci_high"] is not None else None
        out.append(TrendPoint(
            record_id=r["record_id"], created_at=r["created_at"], suite=r["suite"], criterion=r["criterion"],
            model=_model_of(r), model_hash=r["model_hash"], mean=r["mean"], ci=ci, n=r["n"],
            verdict=r["verdict"] if r["role"] in ("candidate", "comparison") else None, role=r["role"],
        ))  # fmt: skip
    return out
