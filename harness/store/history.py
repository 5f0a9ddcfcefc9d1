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

from harness.store.store import Store

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


def history_document(store: Store, filters: Filters) -> dict[str, Any]:
    """The ``harness.history/v1`` document: one entry per top-level record and suite, newest first."""
    rows = store.results(**filters.query())
    by: dict[tuple[int, str], dict[str, Any]] = {}
    parents: dict[int, int] = {}
    for r in rows:
        top = r["parent_id"] if r["parent_id"] is not None else r["record_id"]
        parents[r["record_id"]] = top
    tops = {rec.id: rec for rec in store.records(sorted(set(parents.values())))}
    for r in rows:
        rec = tops[parents[r["record_id"]]]
        if filters.kind is not None and rec.kind != filters.kind:
            continue
        entry = by.setdefault((rec.id, r["suite"]), {
            "record": rec.id, "kind": rec.kind, "created_at": rec.created_at.isoformat(timespec="seconds"),
            "suite": r["suite"], "models": {}, "verdict": None, "criteria": {}, "source": rec.source,
            "harness_version": rec.provenance.get("harness_version") or rec.provenance.get("harness"),
        })  # fmt: skip
        role = r["role"] if r["parent_id"] is not None or rec.kind != "run" else "model"
        if rec.kind == "comparison":
            entry["verdict"] = r["verdict"] if r["role"] == "comparison" else entry["verdict"]
            if r["role"] == "comparison":
                entry["criteria"][r["criterion"]] = {"candidate_mean": r["mean"], "delta": r["delta"],
                                                     "p_value": r["p_value"], "n": r["n"]}  # fmt: skip
                entry["models"].setdefault("candidate", _model_of(r))
                continue
        entry["models"][role] = _model_of(r)
        if rec.kind != "comparison":
            entry["criteria"].setdefault(r["criterion"], {})
            entry["criteria"][r["criterion"]].update(
                {"mean": r["mean"], "ci": [r["ci_low"], r["ci_high"]] if r["ci_low"] is not None else None,
                 "n": r["n"]} if rec.kind == "run" else {role: r["mean"]}
            )  # fmt: skip
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
