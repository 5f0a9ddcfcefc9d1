"""Run: the per-item outputs and scores of one model on one suite (``harness.run/v1``).

``evaluate`` writes runs; ``compare`` reads them and never touches a model. This module is the
contract between the two.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from harness.errors import InputError, InputFileError

RUN_SCHEMA = "harness.run/v1"


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
    fewshot: list[str] | None = Field(default=None, description="ids of the few-shot examples before the prompt")
    loglik: dict[str, Any] | None = Field(
        default=None, description="log-likelihood methods: per-choice log-likelihoods, or the document's perplexities"
    )


class CriterionSummary(BaseModel):
    """Mean of a criterion over scored items, with its confidence interval and n."""

    mean: float | None
    ci: list[float] | None
    n: int
    n_unscored: int = 0
    method: str = Field(description="'wilson' for binary criteria, 'bootstrap' otherwise")
    confidence: float = 0.95
    binary: bool = False
    reason: str | None = None


class Run(BaseModel):
    """One model's results on one suite."""

    schema_: str = Field(default=RUN_SCHEMA, alias="schema")
    suite: dict[str, Any] = Field(description="name, path, rubric name, items hash, gate block")
    model: dict[str, Any] = Field(description="spec, kind, fingerprint")
    manifest: dict[str, Any]
    items: list[ItemResult]
    summary: dict[str, CriterionSummary]
    metrics: dict[str, Any] | None = Field(
        default=None, description="log-likelihood methods: corpus-level figures (lm-eval's perplexity aggregates)"
    )

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
