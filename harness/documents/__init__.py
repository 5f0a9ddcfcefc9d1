"""Pydantic models of every JSON document the harness writes or reads, and their JSON Schemas.

========================  ==========================================================  =========================
kind                      document                                                    written by
========================  ==========================================================  =========================
``validation``            ``harness.validation/v1`` (:mod:`.validation`)              validate, train preflight
``agreement``             ``harness.agreement/v1`` (:mod:`.agreement`)                agreement
``train``                 ``harness.train/v1``: a train run's manifest (:mod:`.train`) train
``run``                   ``harness.run/v1`` (:mod:`.run`)                            eval, gate
``eval``                  ``harness.eval/v1``: several runs (``eval --json``)         eval
``comparison``            ``harness.comparison/v1`` (:mod:`.comparison`)              compare, gate
``monitor``               ``harness.monitor/v1`` (:mod:`harness.monitor.document`)    monitor
``redteam``               ``harness.redteam/v1`` (:mod:`harness.redteam.analysis`)    redteam
========================  ==========================================================  =========================

Writers build the model and dump it; readers validate into it. Each document names its schema
in ``schema`` (the train manifest in ``kind``); :func:`json_schema` gives the JSON Schema generated
from the model (``harness schema KIND`` prints it) and :func:`check_document` validates a written
document against it. Modules are imported when a kind is first asked for, so importing this
package costs nothing.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

from harness.errors import InputError, SchemaError, did_you_mean

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["KINDS", "DocumentKind", "check_document", "document_model", "json_schema", "kind_of"]


class DocumentKind(NamedTuple):
    """A document kind: its schema id and where its model lives."""

    schema_id: str
    model: str  # "module:Class"
    description: str


KINDS: dict[str, DocumentKind] = {
    "validation": DocumentKind(
        "harness.validation/v1", "harness.documents.validation:ValidationDocument", "findings of checking training data"
    ),
    "agreement": DocumentKind(
        "harness.agreement/v1", "harness.documents.agreement:AgreementDocument", "inter-rater agreement"
    ),
    "train": DocumentKind("harness.train/v1", "harness.documents.train:TrainManifest", "a train run's manifest.json"),
    "run": DocumentKind("harness.run/v1", "harness.eval.run:Run", "one model's outputs and scores on a suite"),
    "eval": DocumentKind("harness.eval/v1", "harness.eval.run:EvalDocument", "several runs (eval --json)"),
    "comparison": DocumentKind(
        "harness.comparison/v1", "harness.gate.verdict:ComparisonDocument", "base × candidate: the verdict"
    ),
    "leaderboard": DocumentKind(
        "harness.leaderboard/v1", "harness.compare.leaderboard:Leaderboard", "N candidates ranked with paired tests"
    ),
    "monitor": DocumentKind(
        "harness.monitor/v1", "harness.monitor.document:MonitorReport", "drift and quality of a deployed model's logs"
    ),
    "redteam": DocumentKind(
        "harness.redteam/v1", "harness.redteam.analysis:RedteamReport", "attack success rates per model and strategy"
    ),
}
_BY_SCHEMA = {k.schema_id: name for name, k in KINDS.items()}


def document_model(kind: str) -> type[BaseModel]:
    """The pydantic model of a document kind (``run``) or schema id (``harness.run/v1``).

    Raises:
        InputError: an unknown kind, with the known ones and a did-you-mean.
    """
    name = _BY_SCHEMA.get(kind, kind)
    if name not in KINDS:
        raise InputError(
            f"unknown document kind {kind!r}; known: {', '.join(KINDS)}.{did_you_mean(kind, KINDS)}", field="kind"
        )
    module, cls = KINDS[name].model.split(":")
    model: type[BaseModel] = getattr(importlib.import_module(module), cls)
    return model


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a document kind, generated from its model.

    Example:
        >>> json_schema("run")["properties"]["schema"]["const"]
        'harness.run/v1'
    """
    model = document_model(kind)
    schema = model.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": KINDS[_BY_SCHEMA.get(kind, kind)].schema_id,
        **schema,
    }


def kind_of(doc: Any) -> str | None:
    """The kind of a JSON document by its ``schema`` (or ``kind``) key; None when it names none we know."""
    if not isinstance(doc, dict):
        return None
    tag = doc.get("schema") if isinstance(doc.get("schema"), str) else doc.get("kind")
    return _BY_SCHEMA.get(tag) if isinstance(tag, str) else None


@functools.cache
def _validator(kind: str) -> Any:
    import jsonschema

    return jsonschema.Draft202012Validator(json_schema(kind))


def check_document(doc: Any, *, where: str | None = None) -> str | None:
    """Validate a document against its kind's JSON Schema; returns the kind (None: not a harness document).

    Raises:
        SchemaError: the document does not match its schema (the first error's path and message).
    """
    kind = kind_of(doc)
    if kind is None:
        return None
    errors = sorted(_validator(kind).iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        err = errors[0]
        path = ".".join(str(p) for p in err.absolute_path) or None
        raise SchemaError(
            f"the {KINDS[kind].schema_id} document does not match its schema: {err.message}", file=where, field=path
        )
    return kind
