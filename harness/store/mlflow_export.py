"""Export recorded results to an MLflow tracking URI (the optional ``harness[mlflow]`` extra).

Each top-level record becomes one MLflow run in the experiment: tags name the harness record,
its kind, suite(s), model spec and hashes and the verdict; metrics are the per-criterion means
(``<suite>.<criterion>.mean``, ``.ci_low``, ``.ci_high``; comparisons also ``.delta`` and
``.p_value``); the whole document is logged as an artifact. Exporting again skips the records an
experiment already holds (matched by the ``harness.uid`` tag).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from harness.errors import InputError
from harness.store.documents import document_uid
from harness.store.engine import StoreUnavailableError
from harness.store.store import Store

__all__ = ["Exported", "export_to_mlflow"]

_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


class Exported(NamedTuple):
    """Records exported, and those the experiment already held."""

    exported: list[int]
    skipped: list[int]
    experiment_id: str


def _key(*parts: str) -> str:
    return _KEY.sub("_", ".".join(parts))[:250]


def _metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for r in rows:
        role = "" if r["role"] in ("run", "comparison", "leaderboard") else f"{r['role']}."
        if r["role"] == "leaderboard":
            role = f"{r['model_spec']}."
        for field in ("mean", "ci_low", "ci_high", "delta", "p_value"):
            if r.get(field) is not None:
                out[_key(r["suite"], role + r["criterion"], field)] = float(r[field])
    return out


def export_to_mlflow(
    store: Store, tracking_uri: str, *, experiment: str = "harness", record_ids: Sequence[int] | None = None
) -> Exported:
    """Export the store's top-level records (or those given) to MLflow.

    Raises:
        InputError: MLflow is not installed (``pip install 'harness[mlflow]'``).
    """
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise InputError("MLflow export needs mlflow; install it with pip install 'harness[mlflow]'") from exc
    from mlflow.exceptions import MlflowException

    try:
        return _export(MlflowClient(tracking_uri=tracking_uri), store, experiment, record_ids)
    except MlflowException as exc:
        raise StoreUnavailableError(f"MLflow export to {tracking_uri} failed: {exc}") from exc


def _export(client: Any, store: Store, experiment: str, record_ids: Sequence[int] | None) -> Exported:
    exp = client.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp is not None else client.create_experiment(experiment)
    have = {r.data.tags.get("harness.uid") for r in client.search_runs([exp_id], max_results=50_000)}
    results = store.results()
    everything = store.records()
    done, skipped = [], []
    for rec in store.records(record_ids, top_level=record_ids is None):
        uid = document_uid(rec.document)
        if uid in have:
            skipped.append(rec.id)
            continue
        children = {r.id for r in everything if r.parent_id == rec.id} if rec.kind != "run" else set()
        rows = [r for r in results if r["record_id"] == rec.id or (r["record_id"] in children and r["role"] == "base")]
        suites = sorted({r["suite"] for r in rows})
        models = sorted({str(r["model_spec"]) for r in rows if r["model_spec"]})
        tags = {
            "harness.uid": uid, "harness.record": str(rec.id), "harness.kind": rec.kind,
            "harness.store": store.display_url, "harness.suites": ",".join(suites), "harness.models": ",".join(models),
            "harness.verdict": rec.verdict or "", "harness.source": (rec.source or "")[:4000],
        }  # fmt: skip
        hashes = rec.provenance.get("hashes") or {}
        tags.update({f"harness.hash.{k}": str(v) for k, v in hashes.items() if isinstance(v, str)})
        run = client.create_run(exp_id, start_time=int(rec.created_at.timestamp() * 1000), tags=tags,
                                run_name=f"{rec.kind} #{rec.id} {','.join(suites)}")  # fmt: skip
        rid = run.info.run_id
        for name, value in _metrics(rows).items():
            client.log_metric(rid, name, value, timestamp=int(rec.created_at.timestamp() * 1000))
        client.log_dict(rid, rec.document, f"{rec.kind}.json")
        client.set_terminated(rid)
        done.append(rec.id)
    return Exported(done, skipped, exp_id)
