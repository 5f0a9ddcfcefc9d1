"""Suites: a folder with ``suite.yaml`` and ``items.jsonl``, validated when loaded.

``suite.yaml`` (paths resolve relative to it)::

    name: tickets
    description: Support tickets to JSON.
    items: items.jsonl                 # default
    rubric: ../../rubrics/tickets.yaml # or an inline rubric mapping
    prompt_template: "Extract ...\\n\\nTicket: {prompt}"   # optional; {prompt} is the item's prompt
    generation: {max_new_tokens: 96, temperature: 0, chat_template: true}
    gate:                              # read by compare/gate; a list of rules or {confidence, rules}
      confidence: 0.95
      rules:
        - {criterion: field_accuracy, require: improvement}
      redteam:                         # read by harness redteam (see docs/redteam.md)
        - {require: asr_at_most, strategy: base64, value: 0.2}
    human_ratings: ratings.csv         # optional long-form ratings for human scorers / judge calibration
    method: generate                   # or multiple_choice / perplexity (log-likelihood; no rubric)
    loglikelihood: {target_delimiter: " ", chat_template: false}   # log-likelihood methods
    fewshot: {n: 5, file: dev.jsonl, seed: 1234}                  # see harness.eval.fewshot
    source: {path: data/, template: "Q: {question}", fields: {...}}  # instead of items: see harness.datasources

``items.jsonl``: one object per line with ``id``, ``prompt`` (text) or ``messages`` (chat),
``reference`` and any other fields scorers read; multiple-choice items also ``choices`` and
``answer`` (an index), perplexity items ``text`` (see :mod:`harness.eval.methods`).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.configfile import load_yaml, raise_validation, validate_config
from harness.datasources import SourceRow, SourceSpec, mapped_rows
from harness.errors import ConfigError, InputError, InputFileError, SchemaError, did_you_mean
from harness.eval.fewshot import FewshotSpec, choose_shots, shot_target, with_shots
from harness.eval.items import Item
from harness.eval.methods import LoglikOptions, Method, check_item, default_rubric
from harness.eval.rubric import OVERALL, Rubric
from harness.eval.scorers import validate_scorer_spec
from harness.models.base import GenerationSettings, Prompt
from harness.provenance import file_hash
from harness.records import read_rows

REQUIREMENTS = ("improvement", "no_regression", "at_least", "no_new_failures")


class GateRule(BaseModel):
    """One rule of a suite's gate (its semantics live in ``harness.gate.policy``)."""

    model_config = ConfigDict(extra="forbid")
    criterion: str = Field(min_length=1)
    require: Literal["improvement", "no_regression", "at_least", "no_new_failures", "max_gap"]
    margin: float | None = Field(default=None, ge=0.0)
    value: float | None = None
    max: int | None = Field(default=None, ge=0)
    by: str | None = Field(default=None, min_length=1)
    max_gap: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _options(self) -> GateRule:
        if self.margin is not None and self.require != "no_regression":
            raise ValueError("'margin' is only for require: no_regression")
        if self.require == "no_regression" and self.margin is None:
            self.margin = 0.0
        if self.require == "at_least":
            if self.value is None:
                raise ValueError("require: at_least needs 'value'")
        elif self.value is not None:
            raise ValueError("'value' is only for require: at_least")
        if self.max is not None and self.require != "no_new_failures":
            raise ValueError("'max' is only for require: no_new_failures")
        if self.require == "no_new_failures" and self.max is None:
            self.max = 0
        if (self.max_gap is not None) != (self.require == "max_gap") or (self.require == "max_gap" and not self.by):
            raise ValueError("require: max_gap needs 'max_gap' and 'by'; 'max_gap' is only for require: max_gap")
        return self


class GateBlock(BaseModel):
    """A suite's gate: rules and the confidence of their intervals."""

    model_config = ConfigDict(extra="forbid")
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    rules: list[GateRule] = Field(default_factory=list)
    slices: list[str] = Field(default_factory=list, description="item fields comparisons are also shown by")
    redteam: list[dict[str, Any]] = Field(
        default_factory=list, description="red-team rules per strategy (validated by harness.redteam.expand)"
    )

    def record(self) -> dict[str, Any]:
        """The block as JSON data; the slice and red-team keys only when set (other runs read as before)."""
        empty = {k for k in ("slices", "redteam") if not getattr(self, k)}
        out = self.model_dump(mode="json", exclude=empty or None)
        for rule in out["rules"]:
            for key in ("by", "max_gap"):
                if rule.get(key) is None:
                    rule.pop(key, None)
        return out

    @model_validator(mode="before")
    @classmethod
    def _list(cls, data: Any) -> Any:
        return {"rules": data} if isinstance(data, list) else data


class _SuiteFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    description: str = ""
    items: str = "items.jsonl"
    rubric: str | dict[str, Any] | None = None
    prompt_template: str | None = None
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    gate: GateBlock = Field(default_factory=GateBlock)
    human_ratings: str | None = None
    method: Method = "generate"
    loglikelihood: LoglikOptions = Field(default_factory=LoglikOptions)
    fewshot: FewshotSpec | None = None
    source: SourceSpec | None = None

    @model_validator(mode="after")
    def _template(self) -> _SuiteFile:
        if self.prompt_template is not None and "{prompt}" not in self.prompt_template:
            raise ValueError("prompt_template must contain '{prompt}'")
        if self.method == "generate" and self.rubric is None:
            raise ValueError("a suite needs a 'rubric' (or a log-likelihood 'method')")
        if self.method != "generate" and self.rubric is not None:
            raise ValueError(f"method {self.method} scores its own criteria; remove 'rubric'")
        if self.method == "perplexity" and self.fewshot is not None:
            raise ValueError("method perplexity takes no 'fewshot'")
        return self


class Suite(BaseModel):
    """A loaded suite: items, rubric, generation settings, gate."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    name: str
    description: str = ""
    path: Path
    items_path: Path
    items: list[Item]
    rubric: Rubric
    rubric_path: Path | None = None
    prompt_template: str | None = None
    generation: GenerationSettings
    gate: GateBlock
    human_ratings: Path | None = None
    method: Method = "generate"
    loglikelihood: LoglikOptions = Field(default_factory=LoglikOptions)
    fewshot: FewshotSpec | None = None
    fewshot_pool: list[Item] = Field(default_factory=list)

    def _own_prompt(self, item: Item) -> Prompt:
        if item.prompt is not None and self.prompt_template is not None:
            return self.prompt_template.replace("{prompt}", item.prompt)
        return item.prompt_value()

    def shots(self, item: Item) -> list[Item]:
        """The few-shot examples put before ``item`` (none without a ``fewshot`` block)."""
        if self.fewshot is None or self.fewshot.n == 0:
            return []
        return choose_shots(self.fewshot_pool or self.items, item, self.fewshot.n, self.fewshot.seed)

    def request_prompt(self, item: Item) -> Prompt:
        """The prompt sent to the model: the item's prompt in the suite's template (or its messages),
        after its few-shot examples."""
        own = self._own_prompt(item)
        shots = self.shots(item)
        if not shots or self.fewshot is None:
            return own
        chat = self.loglikelihood.chat_template if self.method != "generate" else self.generation.chat_template
        as_turns = self.fewshot.as_turns if self.fewshot.as_turns is not None else chat
        delim = self.fewshot.target_delimiter
        if delim is None:
            delim = self.loglikelihood.target_delimiter
        pairs = [(self._own_prompt(s), shot_target(s)) for s in shots]
        return with_shots(own, pairs, self.fewshot, as_turns=as_turns, target_delimiter=delim)

    def items_hash(self, items: list[Item] | None = None) -> str:
        """BLAKE2b-128 of the items' canonical JSON (all items unless given)."""
        h = hashlib.blake2b(digest_size=16)
        for it in self.items if items is None else items:
            h.update(json.dumps(it.to_record(), sort_keys=True, ensure_ascii=False).encode() + b"\n")
        return h.hexdigest()

    def to_record(self, items: list[Item] | None = None) -> dict[str, Any]:
        """What a run records about its suite: enough for ``compare`` to work from run files alone."""
        used = self.items if items is None else items
        hr = None
        if self.human_ratings is not None:
            hr = {"path": str(self.human_ratings), "hash": file_hash(self.human_ratings)}
        return {
            "name": self.name,
            "description": self.description,
            "path": str(self.path),
            "items_path": str(self.items_path),
            "items_hash": self.items_hash(used),
            "all_items_hash": self.items_hash(),
            "n_items": len(used),
            "n_items_total": len(self.items),
            "rubric": self.rubric.to_record(),
            "rubric_hash": self.rubric.content_hash(),
            "prompt_template": self.prompt_template,
            "generation": self.generation.model_dump(mode="json"),
            "gate": self.gate.record(),
            "human_ratings": str(self.human_ratings) if self.human_ratings else None,
            "human_ratings_file": hr,
            "method": self.method,
            "loglikelihood": self.loglikelihood.model_dump(mode="json") if self.method != "generate" else None,
            "fewshot": self.fewshot.model_dump(mode="json") if self.fewshot else None,
            "fewshot_hash": self.items_hash(self.fewshot_pool) if self.fewshot_pool else None,
        }


def parse_rubric(data: Any, *, file: str | Path, base_dir: Path | None = None, prefix: str = "") -> Rubric:
    """Validate rubric data (from YAML or inline in a suite), including every scorer's options."""
    if not isinstance(data, dict):
        raise ConfigError("a rubric must be a mapping with 'name' and 'criteria'", file=file, field=prefix or None)
    rubric = validate_config(Rubric, data, file=file, prefix=prefix)
    for i, c in enumerate(rubric.criteria):
        validate_scorer_spec(
            c, file=file, key=f"{prefix + '.' if prefix else ''}criteria[{i}].scorer", base_dir=base_dir
        )
    return rubric


def load_rubric(path: str | Path) -> Rubric:
    """Load and validate a rubric YAML file; errors name the file and key.

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.yaml"
        >>> _ = p.write_text("name: r\\ncriteria:\\n  - {id: ok, scale: binary, scorer: {type: exact}}\\n")
        >>> load_rubric(p).criteria[0].scale.type
        'binary'
    """
    path = Path(path)
    data = load_yaml(path)
    if isinstance(data, dict):
        data = {**data, "path": str(path)}
    return parse_rubric(data, file=path, base_dir=path.parent)



def _jsonl_rows(path: Path) -> list[SourceRow]:
    rows = []
    for row in read_rows(path, format="jsonl"):
        if row.problem is not None:
            raise SchemaError(row.problem.message, file=path, line=row.line, field=row.problem.field)
        data = dict(row.data or {})
        data.setdefault("id", f"L{row.line}")
        rows.append(SourceRow(file=str(path), line=row.line, data=data))
    return rows


def items_from_rows(rows: list[SourceRow], *, method: str = "generate", where: str | Path = "items") -> list[Item]:
    """Validate item data (from a JSONL file or a mapped source): each error names the file, line and field."""
    items: list[Item] = []
    seen: dict[str, tuple[str, int]] = {}
    for row in rows:
        data = check_item(method, dict(row.data), file=row.file, line=row.line)
        if not isinstance(data.get("id"), (str, int)) or isinstance(data["id"], bool):
            raise SchemaError("'id' must be a string", file=row.file, line=row.line, field="id")
        data["id"] = str(data["id"])
        try:
            item = Item.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or None
            msg = err["msg"].removeprefix("Value error, ")
            raise SchemaError(msg, file=row.file, line=row.line, field=field) from exc
        if item.id in seen:
            raise SchemaError(
                f"item id {item.id!r} is used twice (first on line {seen[item.id][1]} of {seen[item.id][0]})",
                file=row.file,
                line=row.line,
                field="id",
            )
        seen[item.id] = (row.file, row.line)
        items.append(item)
    if not items:
        raise InputError("the suite has no items", file=where)
    return items


def load_items(path: str | Path, *, method: str = "generate") -> list[Item]:
    """Read ``items.jsonl``: each error names the file, line and field."""
    path = Path(path)
    return items_from_rows(_jsonl_rows(path), method=method, where=path)


def _source_items(spec: _SuiteFile, base: Path, yaml_path: Path, split: str | None = None) -> tuple[Path, list[Item]]:
    assert spec.source is not None
    mapped = mapped_rows(spec.source, base=base, file=str(yaml_path), split=split)
    return base / spec.source.path, items_from_rows(mapped, method=spec.method, where=base / spec.source.path)


def _fewshot_pool(spec: _SuiteFile, base: Path, yaml_path: Path, items: list[Item]) -> list[Item]:
    fs = spec.fewshot
    if fs is None or fs.n == 0:
        return []
    if fs.file is not None and fs.split is not None:
        raise ConfigError("give fewshot.file or fewshot.split, not both", file=yaml_path, field="fewshot")
    if fs.file is not None:
        path = base / fs.file
        if not path.is_file():
            raise ConfigError(f"few-shot file {str(path)!r} does not exist", file=yaml_path, field="fewshot.file")
        pool = load_items(path, method=spec.method)
    elif fs.split is not None:
        if spec.source is None:
            raise ConfigError("fewshot.split needs a 'source' with splits", file=yaml_path, field="fewshot.split")
        pool = _source_items(spec, base, yaml_path, split=fs.split)[1]
    else:
        pool = items
    available = len(pool) - (1 if fs.file is None and fs.split is None else 0)  # never the item itself
    if available < fs.n:
        raise ConfigError(f"{fs.n} shots asked, the pool has {len(pool)} items", file=yaml_path, field="fewshot.n")
    for shot in pool:
        try:
            shot_target(shot)
        except ConfigError as exc:
            raise ConfigError(exc.message, file=yaml_path, field="fewshot") from exc
    return pool


def load_suite(path: str | Path) -> Suite:
    """Load a suite folder, its ``suite.yaml`` or a bundled suite by name, with its items and rubric, validated.

    Example:
        >>> s = load_suite("suites/general")
        >>> s.rubric.ids, len(s.items), s.gate.rules[0].require
        (['correct'], 40, 'no_regression')
    """
    from harness.bundled import resolve_suite, suites_hint

    path = resolve_suite(path)  # a bundled suite by name, unless a path of that name exists
    if not path.exists():
        raise InputFileError("no such file or folder (a suite folder or its suite.yaml)" + suites_hint(path), file=path)
    yaml_path = path / "suite.yaml" if path.is_dir() else path
    if path.is_dir() and yaml_path.exists() and not yaml_path.is_file():
        raise InputFileError("is a directory, expected the suite's YAML file", file=yaml_path)
    if path.is_dir() and not yaml_path.is_file():
        raise InputFileError("not a suite: the folder has no suite.yaml", file=path)
    data = load_yaml(yaml_path)
    if not isinstance(data, dict):
        raise ConfigError("a suite file must be a mapping (name, items, rubric, generation, gate)", file=yaml_path)
    spec = validate_config(_SuiteFile, data, file=yaml_path)
    base = yaml_path.parent
    rubric_path: Path | None = None
    if spec.rubric is None:
        rubric = default_rubric(spec.method, str(yaml_path))
    elif isinstance(spec.rubric, str):
        rubric_path = base / spec.rubric
        if not rubric_path.is_file():
            raise ConfigError(f"rubric file {str(rubric_path)!r} does not exist", file=yaml_path, field="rubric")
        rubric = load_rubric(rubric_path)
    else:
        rubric = parse_rubric({**spec.rubric, "path": str(yaml_path)}, file=yaml_path, base_dir=base, prefix="rubric")
    known = {*rubric.ids, OVERALL}
    for i, rule in enumerate(spec.gate.rules):
        if rule.criterion not in known:
            raise ConfigError(
                f"gate rule names criterion {rule.criterion!r}, not in the rubric ({', '.join(sorted(known))})."
                + did_you_mean(rule.criterion, known),
                file=yaml_path,
                field=f"gate.rules[{i}].criterion",
            )
    human = None
    if spec.human_ratings is not None:
        human = base / spec.human_ratings
        if not human.is_file():
            raise ConfigError(
                f"human_ratings file {str(human)!r} does not exist", file=yaml_path, field="human_ratings"
            )
    if spec.source is not None:
        if "items" in data:
            raise ConfigError("give 'items' or 'source', not both", file=yaml_path, field="source")
        items_path, items = _source_items(spec, base, yaml_path)
    else:
        items_path = base / spec.items
        if not items_path.is_file():
            raise ConfigError(f"items file {str(items_path)!r} does not exist", file=yaml_path, field="items")
        items = load_items(items_path, method=spec.method)
    pool = _fewshot_pool(spec, base, yaml_path, items)
    try:
        return Suite(
            name=spec.name,
            description=spec.description,
            path=yaml_path,
            items_path=items_path,
            items=items,
            rubric=rubric,
            rubric_path=rubric_path,
            prompt_template=spec.prompt_template,
            generation=spec.generation,
            gate=spec.gate,
            human_ratings=human,
            method=spec.method,
            loglikelihood=spec.loglikelihood,
            fewshot=spec.fewshot,
            fewshot_pool=pool if spec.fewshot and (spec.fewshot.file or spec.fewshot.split) else [],
        )
    except ValidationError as exc:  # pragma: no cover - the parts were validated above
        raise_validation(exc, file=yaml_path)
