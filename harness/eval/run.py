"""The run document (``harness.run/v1``): one model's per-item outputs and scores on one suite.

``evaluate`` writes runs; ``compare`` reads them and never touches a model, so a run carries what a
comparison needs to know: the suite it was drawn from with its full rubric (criteria, scales,
levels, scorer specs, weights, calibration floors), the model's identity and the provenance of the
code that produced it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from harness.documents.base import Record
from harness.errors import InputError, InputFileError
from harness.eval.rubric import Rubric
from harness.provenance import Provenance

__all__ = [
    "EVAL_SCHEMA",
    "RUN_SCHEMA",
    "Attempt",
    "CriterionSummary",
    "EvalDocument",
    "FileHash",
    "ItemResult",
    "ModelIdentity",
    "Run",
    "RunHashes",
    "RunManifest",
    "Score",
    "SuiteRecord",
    "load_run",
]

RUN_SCHEMA = "harness.run/v1"
EVAL_SCHEMA = "harness.eval/v1"


class Score(BaseModel):
    """One criterion's score of one output: a value in [0, 1] or None (not scorable)."""

    value: float | None = Field(description="in [0, 1]; None when the scorer could not score")
    explanation: str = ""
    scorer: dict[str, Any] = Field(default_factory=dict, description="scorer name and arguments")
    level: str | None = Field(default=None, description="the rubric level, for level scales")
    passed: bool | None = Field(default=None, description="for binary criteria")


class Attempt(BaseModel):
    """One generation of an item (``--repeats`` makes several)."""

    output: str
    scores: dict[str, Score]
    seed: int | None = None
    seconds: float | None = None


class ItemResult(BaseModel):
    """An item of the suite with the model's output and its scores.

    With repeats, ``output`` and ``scores`` are those of the first attempt's output and the
    per-criterion mean over attempts respectively; ``attempts`` keeps each one.
    """

    id: str
    prompt: str | list[dict[str, Any]]
    reference: Any = None
    output: str
    scores: dict[str, Score]
    attempts: list[Attempt] = Field(default_factory=list)
    seconds: float | None = None
    cached: bool = False
    fields: dict[str, Any] = Field(
        default_factory=dict, description="the item's other scalar fields and tag lists (what slices read)"
    )
    fewshot: list[str] | None = Field(default=None, description="ids of the few-shot examples before the prompt")
    requests: dict[str, Any] | None = Field(
        default=None,
        description="server models: attempts, retries, last_error and errors of the item's requests (None if cached)",
    )
    loglik: dict[str, Any] | None = Field(
        default=None, description="log-likelihood methods: per-choice log-likelihoods, or the document's perplexities"
    )


class CriterionSummary(BaseModel):
    """Mean of a criterion over scored items, with its confidence interval and n."""

    mean: float | None
    ci: list[float] | None
    n: int
    n_unscored: int = 0
    method: str = Field(description="'wilson' for binary criteria, 'bootstrap_bca' otherwise (older runs: 'bootstrap')")
    confidence: float = 0.95
    binary: bool = False
    reason: str | None = None


class FileHash(Record):
    """A file and the BLAKE2b-128 of its content."""

    path: str
    hash: str


class SuiteRecord(Record):
    """What a run records about its suite: enough for ``compare`` to work from run files alone."""

    name: str
    description: str | None = None
    path: str | None = Field(default=None, description="the suite.yaml the run read")
    items_path: str | None = None
    items_hash: str | None = Field(default=None, description="BLAKE2b-128 of the evaluated items")
    all_items_hash: str | None = Field(default=None, description="BLAKE2b-128 of all the suite's items")
    n_items: int | None = None
    n_items_total: int | None = None
    rubric: Rubric | None = Field(default=None, description="the full rubric the outputs were scored on")
    rubric_hash: str | None = None
    prompt_template: str | None = None
    generation: dict[str, Any] | None = None
    gate: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None, description="the suite's gate block (rules and confidence), read by compare"
    )
    human_ratings: str | None = None
    human_ratings_file: FileHash | None = None
    method: str | None = Field(default=None, description="generate, multiple_choice or perplexity")
    loglikelihood: dict[str, Any] | None = Field(default=None, description="log-likelihood options")
    fewshot: dict[str, Any] | None = Field(default=None, description="the suite's few-shot block")
    fewshot_hash: str | None = Field(default=None, description="BLAKE2b-128 of a separate few-shot pool")


class ModelIdentity(Record):
    """Which model produced the outputs: its spec, kind and content hashes (other keys per kind)."""

    spec: str | None = None
    kind: str | None = None
    fingerprint: str | None = Field(default=None, description="the identity used in cache keys")
    adapter_hash: str | None = None
    outputs_hash: str | None = None
    chat_template_hash: str | None = None
    endpoint: str | None = Field(default=None, description="server models: the base URL")
    serving: dict[str, Any] | None = Field(
        default=None, description="server models: timeout (per try, from sending), concurrency, max_retries, backoff"
    )
    request_params: dict[str, Any] | None = Field(
        default=None, description="server models: keys sent with every request (stop, seed, penalties, extra body)"
    )
    model_check: str | None = Field(
        default=None, description="server models: how the name was checked against the server's /models list"
    )
    server_slots: int | None = Field(default=None, description="server models: requests it runs at once, where it says")


class RunHashes(Record):
    """Content hashes of everything the run's scores depend on."""

    items: str | None = None
    rubric: str | None = None
    model: str | None = None
    adapter: str | None = None
    judges: dict[str, str | None] | None = None
    human_ratings: str | None = None
    fewshot: str | None = Field(default=None, description="log-likelihood suites: the separate few-shot pool")


class RunManifest(Record, Provenance):
    """How the run was made: provenance (git, versions, platform), settings, hashes, scorers, timing.

    Runs written before provenance had one shape recorded ``git_commit`` (a string), ``libraries``
    and ``harness_version``; they load into ``git`` and ``versions``.
    """

    created: str | None = None
    command: list[str] | None = None
    seed: int | None = None
    repeats: int | None = None
    limit: int | None = None
    method: str | None = Field(default=None, description="log-likelihood runs: multiple_choice or perplexity")
    loglikelihood: dict[str, Any] | None = Field(default=None, description="log-likelihood runs: their options")
    generation: dict[str, Any] | None = None
    generation_hash: str | None = None
    hashes: RunHashes | None = None
    scorers: dict[str, dict[str, Any]] | None = None
    scorer_details: dict[str, dict[str, Any]] | None = None
    timing: dict[str, Any] | None = None
    requests: dict[str, Any] | None = Field(
        default=None,
        description="server models: items, attempts, retried_items, retries and errors (by kind) of the requests",
    )

    @model_validator(mode="before")
    @classmethod
    def _old_provenance_keys(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not {"git_commit", "libraries", "harness_version"} & set(data):
            return data
        data = dict(data)
        commit = data.pop("git_commit", None)
        versions = dict(data.pop("libraries", None) or {})
        harness = data.pop("harness_version", None)
        if harness is not None:
            versions.setdefault("harness", harness)
        data.setdefault("git", {"commit": commit, "dirty": None})
        data.setdefault("versions", versions)
        return data


class Run(BaseModel):
    """One model's results on one suite."""

    schema_: Literal["harness.run/v1"] = Field(default="harness.run/v1", alias="schema")
    suite: SuiteRecord = Field(description="name, path, rubric, items hash, gate block")
    model: ModelIdentity = Field(description="spec, kind, fingerprint and hashes")
    manifest: RunManifest
    items: list[ItemResult]
    summary: dict[str, CriterionSummary]
    metrics: dict[str, Any] | None = Field(
        default=None, description="log-likelihood methods: corpus-level figures (lm-eval's perplexity aggregates)"
    )

    model_config = {"populate_by_name": True}

    def to_document(self) -> dict[str, Any]:
        """The JSON document, with the ``schema`` key first."""
        return self.model_dump(mode="json", by_alias=True)


class EvalDocument(BaseModel):
    """``harness eval --json`` on several suites: one run per suite."""

    schema_: Literal["harness.eval/v1"] = Field(default="harness.eval/v1", alias="schema")
    runs: list[Run]

    model_config = {"populate_by_name": True}

    def to_document(self) -> dict[str, Any]:
        """The JSON document, with the ``schema`` key first."""
        return self.model_dump(mode="json", by_alias=True)


def load_run(path: str | Path) -> Run:
    """Load a ``run.json`` (or a folder holding one), with a clear error when it is not a run."""
    path = Path(path)
    if path.is_dir():
        path = path / "run.json"
    if not path.is_file():
        raise InputFileError("no such run file", file=path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a JSON document: {exc}", file=path) from exc
    if not isinstance(doc, dict) or doc.get("schema") != RUN_SCHEMA:
        got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
        raise InputError(f"expected a {RUN_SCHEMA} document, got schema {got!r}", file=path, field="schema")
    try:
        return Run.model_validate(doc)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        raise InputError(err["msg"], file=path, field=field) from exc
