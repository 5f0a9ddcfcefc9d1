"""Structured-output scorers: json_valid, json_schema, json_field."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.eval.scorers import BaseScorer, RawScore, ScorerContext, item_field, scorer

if TYPE_CHECKING:
    from harness.eval.items import Item
    from harness.eval.rubric import Criterion

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*\s*\n(.*?)```", re.DOTALL)
_NULLS = {"", "null", "none", "n/a", "na"}


class Extracted(NamedTuple):
    """The JSON value found in an output (``ok`` false: none) and how it was found."""

    ok: bool
    value: Any
    how: str


def extract_json(text: str, *, strict: bool = False) -> Extracted:
    """Find the JSON value in a model output.

    Strict: the whole output (outer whitespace aside) must be JSON. Otherwise also a fenced code
    block, then the first ``{`` or ``[`` at which a JSON value parses.

    >>> extract_json('Sure! ```json\\n{"a": 1}\\n``` Done.').value
    {'a': 1}
    >>> extract_json('Sure! {"a": 1}', strict=True).ok
    False
    """
    body = text.strip()
    try:
        return Extracted(True, json.loads(body), "whole output")
    except (json.JSONDecodeError, RecursionError):
        pass
    if strict:
        return Extracted(False, None, "the output is not JSON as a whole")
    for m in _FENCE.finditer(text):
        try:
            return Extracted(True, json.loads(m.group(1)), "fenced block")
        except (json.JSONDecodeError, RecursionError):
            continue
    decoder = json.JSONDecoder()
    for m in re.finditer(r"[\{\[]", text):
        try:
            value, _ = decoder.raw_decode(text, m.start())
        except (json.JSONDecodeError, RecursionError):
            continue
        return Extracted(True, value, f"embedded at character {m.start()}")
    return Extracted(False, None, "no JSON value in the output")


class _Opts(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JsonValidOptions(_Opts):
    strict: bool = Field(default=False, description="the whole output must be JSON (no prose, no fences)")
    type: Literal["object", "array", "any"] = "object"


def _type_ok(value: Any, want: str) -> bool:
    return (
        want == "any" or (want == "object" and isinstance(value, dict)) or (want == "array" and isinstance(value, list))
    )


@scorer("json_valid")
class JsonValid(BaseScorer[JsonValidOptions]):
    """1 when the output holds valid JSON of the wanted type (strict: is nothing but that JSON)."""

    Options = JsonValidOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Parse the output."""
        ex = extract_json(output, strict=self.options.strict)
        if not ex.ok:
            return RawScore(0.0, ex.how)
        if not _type_ok(ex.value, self.options.type):
            return RawScore(0.0, f"JSON {type(ex.value).__name__}, expected {self.options.type} ({ex.how})")
        return RawScore(1.0, f"valid JSON ({ex.how})")


class JsonSchemaOptions(_Opts):
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    schema_file: str | None = Field(default=None, description="path relative to the rubric file")
    strict: bool = False

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one(self) -> JsonSchemaOptions:
        if (self.schema_ is None) == (self.schema_file is None):
            raise ValueError("give exactly one of 'schema' (inline) or 'schema_file'")
        return self


def _load_schema(o: JsonSchemaOptions, base_dir: Path | None) -> dict[str, Any]:
    if o.schema_ is not None:
        return o.schema_
    assert o.schema_file is not None
    path = Path(o.schema_file)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ValueError(f"schema_file {str(path)!r} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"schema_file {str(path)!r} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"schema_file {str(path)!r} must hold a JSON object")
    return data


@scorer("json_schema")
class JsonSchema(BaseScorer[JsonSchemaOptions]):
    """1 when the output's JSON validates against a JSON Schema (Draft 2020-12)."""

    Options = JsonSchemaOptions

    @classmethod
    def check(cls, options: JsonSchemaOptions, criterion: Criterion, base_dir: Path | None) -> None:
        """The schema must exist and be a valid JSON Schema."""
        import jsonschema

        schema = _load_schema(options, base_dir)
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"invalid JSON Schema: {exc.message}") from exc

    def __init__(self, options: JsonSchemaOptions, ctx: ScorerContext) -> None:
        super().__init__(options, ctx)
        import jsonschema

        self._schema = _load_schema(self.options, ctx.base_dir)
        self._validator = jsonschema.Draft202012Validator(self._schema)

    def spec(self) -> dict[str, Any]:
        """Name, options and the schema itself (also when it came from a file)."""
        return {"type": self.name, **self.options.model_dump(mode="json", by_alias=True), "schema": self._schema}

    def score(self, output: str, item: Item | None) -> RawScore:
        """Validate the extracted JSON."""
        ex = extract_json(output, strict=self.options.strict)
        if not ex.ok:
            return RawScore(0.0, ex.how)
        errors = sorted(self._validator.iter_errors(ex.value), key=lambda e: list(e.absolute_path))
        if not errors:
            return RawScore(1.0, "matches the schema")
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return RawScore(0.0, f"{where}: {e.message}{more}")


class JsonFieldOptions(_Opts):
    field: str = Field(default="reference", description="item field holding the expected object")
    fields: list[str] | None = Field(default=None, description="keys to compare (default: the reference's keys)")
    mode: Literal["fraction", "all"] = "fraction"
    case_sensitive: bool = False
    strict: bool = False


def _norm_value(v: Any, case_sensitive: bool) -> Any:
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        s = " ".join(unicodedata.normalize("NFKC", v).split())
        if s.casefold() in _NULLS:
            return None
        return s if case_sensitive else s.casefold()
    return json.dumps(v, sort_keys=True)


def fields_equal(got: Any, want: Any, *, case_sensitive: bool = False) -> bool:
    """Compare one extracted field with the expected value.

    Strings ignore case and spacing; ``null``, ``""``, ``"null"``, ``"none"`` and ``"n/a"`` all mean
    null; numbers compare as numbers, also when one side is a numeric string.

    >>> fields_equal("  Billing ", "billing"), fields_equal("null", None), fields_equal("12", 12)
    (True, True, True)
    """
    a, b = _norm_value(got, case_sensitive), _norm_value(want, case_sensitive)
    if a == b:
        return True
    try:
        return isinstance(a, (str, float)) and isinstance(b, (str, float)) and float(a) == float(b)
    except ValueError:
        return False


@scorer("json_field")
class JsonField(BaseScorer[JsonFieldOptions]):
    """The share of expected fields the output's JSON object gets right (mode all: 1 only if every one)."""

    Options = JsonFieldOptions

    def score(self, output: str, item: Item | None) -> RawScore:
        """Extract the object and compare field by field."""
        o = self.options
        ref = item_field(item, o.field)
        if isinstance(ref, str):
            try:
                ref = json.loads(ref)
            except json.JSONDecodeError:
                return RawScore(None, f"item field {o.field!r} is not a JSON object")
        if not isinstance(ref, dict):
            return RawScore(None, f"item field {o.field!r} must be an object, got {type(ref).__name__}")
        keys = o.fields or list(ref)
        if not keys:
            return RawScore(None, "no fields to compare")
        ex = extract_json(output, strict=o.strict)
        if not ex.ok or not isinstance(ex.value, dict):
            return RawScore(0.0, f"0/{len(keys)} fields: {ex.how if not ex.ok else 'JSON is not an object'}")
        wrong = []
        for k in keys:
            if k not in ex.value:
                wrong.append(f"{k} missing")
            elif not fields_equal(ex.value[k], ref.get(k), case_sensitive=o.case_sensitive):
                wrong.append(f"{k}={ex.value[k]!r} (want {ref.get(k)!r})")
        right = len(keys) - len(wrong)
        value = right / len(keys) if o.mode == "fraction" else float(not wrong)
        return RawScore(value, f"{right}/{len(keys)} fields" + (f"; {', '.join(wrong)}" if wrong else ""))
