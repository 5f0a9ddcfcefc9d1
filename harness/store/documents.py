"""What the store reads from a document: its kind, time, provenance and per-criterion rows.

Reads the JSON documents as the harness writes them (``harness.run/v1``,
``harness.comparison/v1``, ``harness.leaderboard/v1``) through plain dict access, so the store
depends on the documents' contract, not on the classes that build them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from harness.errors import InputError

__all__ = ["KINDS", "comparison_rows", "created_at", "document_uid", "kind_of", "provenance", "run_rows"]

KINDS = {
    "harness.run/v1": "run",
    "harness.comparison/v1": "comparison",
    "harness.leaderboard/v1": "leaderboard",
    "harness.monitor/v1": "monitor",
    "harness.redteam/v1": "redteam",
}


def kind_of(doc: Any, *, file: str | None = None) -> str:
    """``run``, ``comparison``, ``leaderboard``, ``monitor`` or ``redteam`` from the document's ``schema``."""
    schema = doc.get("schema") if isinstance(doc, dict) else None
    if schema not in KINDS:
        raise InputError(
            f"the store records {sorted(KINDS)} documents; got schema {schema!r}", file=file, field="schema"
        )
    return KINDS[schema]


def canonical(doc: Any) -> str:
    """The document as canonical JSON (sorted keys, no spaces): what the store keeps and hashes."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def document_uid(doc: Any, parent_uid: str | None = None, role: str | None = None) -> str:
    """sha256 of the canonical document (and, for a comparison's run, of its parent and role).

    >>> document_uid({"a": 1}) == document_uid({"a": 1})
    True
    """
    h = hashlib.sha256(canonical(doc).encode("utf-8"))
    if parent_uid is not None:
        h.update(f"\0{parent_uid}\0{role}".encode())
    return h.hexdigest()


def parse_time(value: Any) -> datetime | None:
    """An ISO timestamp as an aware UTC datetime (naive ones are taken as UTC); None if unreadable."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, str) and value:
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _manifest(doc: dict[str, Any]) -> dict[str, Any]:
    m = doc.get("manifest")
    return m if isinstance(m, dict) else {}


def created_at(doc: dict[str, Any]) -> datetime:
    """When the document's result was made (its manifest's ``created``), else now."""
    manifest = _manifest(doc)
    return parse_time(manifest.get("created")) or datetime.now(UTC)


def provenance(doc: dict[str, Any]) -> dict[str, Any]:
    """Where a result came from: command, versions, git commit, platform and the hashes it rests on."""
    manifest = _manifest(doc)
    keep = ("created", "command", "harness", "harness_version", "git_commit", "libraries", "platform",
            "python", "numpy", "scipy", "hashes", "seed", "generation_hash")  # fmt: skip
    out = {k: manifest[k] for k in keep if k in manifest}
    if doc.get("schema") == "harness.run/v1":
        model = doc.get("model") or {}
        out["model"] = {k: model.get(k) for k in ("spec", "kind", "fingerprint", "adapter_hash", "base") if k in model}
    return out


def _identity(model: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_spec": str(model.get("spec")) if model.get("spec") is not None else None,
        "model_hash": model.get("fingerprint"),
        "adapter_hash": model.get("adapter_hash"),
    }


def _ci(value: Any) -> tuple[float | None, float | None]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    return None, None


def run_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per criterion of a run's summary: suite, model identity, mean, interval, n."""
    suite = doc.get("suite") or {}
    manifest = doc.get("manifest") or {}
    hashes = manifest.get("hashes") or {}
    common = {
        "suite": str(suite.get("name") or "suite"),
        "suite_hash": suite.get("items_hash") or hashes.get("items"),
        "rubric_hash": suite.get("rubric_hash") or hashes.get("rubric"),
        **_identity(doc.get("model") or {}),
    }
    rows = []
    summary = doc.get("summary") or {}
    for crit, s in summary.items():
        lo, hi = _ci(s.get("ci"))
        rows.append({**common, "criterion": crit, "mean": s.get("mean"), "ci_low": lo, "ci_high": hi, "n": s.get("n")})
    # criteria the summary leaves out (a hand-made run): their plain mean over scored items, no interval
    values: dict[str, list[float]] = {}
    for item in doc.get("items") or []:
        for crit, score in (item.get("scores") or {}).items():
            if crit not in summary and isinstance(score, dict) and isinstance(score.get("value"), int | float):
                values.setdefault(crit, []).append(float(score["value"]))
    for crit, vals in sorted(values.items()):
        rows.append({**common, "criterion": crit, "mean": sum(vals) / len(vals), "ci_low": None, "ci_high": None,
                     "n": len(vals)})  # fmt: skip
    return rows


def comparison_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per suite and criterion of a comparison: the candidate's mean, the delta, the verdict."""
    rows = []
    for comp in doc.get("comparisons") or []:
        info = comp.get("suite_info") or {}
        common = {
            "suite": str(comp.get("suite") or "suite"),
            "suite_hash": info.get("items_hash"),
            "rubric_hash": info.get("rubric_hash"),
            "verdict": comp.get("verdict"),
            **_identity((comp.get("candidate") or {}).get("model") or {}),
        }
        for crit, s in (comp.get("criteria") or {}).items():
            lo, hi = _ci(s.get("candidate_ci"))
            rows.append({
                **common, "criterion": crit, "mean": s.get("candidate_mean"), "ci_low": lo, "ci_high": hi,
                "n": s.get("n"), "delta": s.get("delta"), "p_value": s.get("p_value"),
            })  # fmt: skip
    return rows


def suite_verdicts(doc: dict[str, Any]) -> dict[str, str]:
    """Each suite's verdict in a comparison document (fail > inconclusive > pass over its comparisons)."""
    order = {"fail": 0, "inconclusive": 1, "pass": 2}
    out: dict[str, str] = {}
    for c in doc.get("comparisons") or []:
        suite, verdict = str(c.get("suite")), str(c.get("verdict"))
        if suite not in out or order.get(verdict, 1) < order.get(out[suite], 1):
            out[suite] = verdict
    return out


def leaderboard_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model and criterion of a leaderboard: the model's mean and interval."""
    info = doc.get("suite_info") or {}
    models = {m.get("label"): m for m in doc.get("models") or []}
    rows = []
    for crit, board in (doc.get("criteria") or {}).items():
        for s in board.get("standings") or []:
            m = models.get(s.get("label")) or {}
            lo, hi = _ci(s.get("ci"))
            rows.append({
                "suite": str(doc.get("suite") or "suite"), "suite_hash": info.get("items_hash"),
                "rubric_hash": info.get("rubric_hash"), "verdict": m.get("verdict"),
                **_identity({"spec": m.get("spec") or s.get("label"), "fingerprint": m.get("fingerprint"),
                             "adapter_hash": m.get("adapter_hash")}),
                "criterion": crit, "mean": s.get("mean"), "ci_low": lo, "ci_high": hi, "n": board.get("n"),
            })  # fmt: skip
    return rows
