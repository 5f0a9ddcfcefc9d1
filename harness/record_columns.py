"""A batch of rows as Arrow columns turned into records without per-row validation.

:func:`build_records` checks a batch's types and required fields column by column (the Arrow
type says every value of a column is a string, a list of messages, a list of integers ...) and
builds the records directly, as :meth:`pydantic.BaseModel.model_construct` would, when the whole
batch is clean. It returns None as soon as anything could make a record differ from what the
row-by-row path (:func:`harness.records.to_record`, pydantic per row) builds, or make that path
report a problem: a missing field, another type, a value the row path would coerce or decode, a
null whose meaning (JSON null or absent key) the columns cannot tell, an order of extra fields
the columns do not keep (and the JSON text does not show for sure), a ranking that breaks its
rules. The caller then reads that batch row by row, so every problem keeps its file, line and
field.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import repeat, starmap
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from harness.records import _MODELS, _REQUIRED, Kind, Message, Record, RowRecords, detect_kind, message_text
from harness.rows import _maybe_json, text_problem

__all__ = ["build_records"]

# Every character str.strip() removes (str.isspace), as RE2 escapes; a test checks the list.
STRIP_CHARS = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in STRIP_CHARS) + "]*"
_ARRAY_START, _ARRAY_END = f"^{_WS}\\[", f"\\]{_WS}$"

# to_record turns numbers in these fields into text; the batch path takes only text for them.
_COERCED = ("item_id", "rater_id", "criterion", "timestamp", "category")

_STR, _MSGS, _STR_OR_MSGS, _RESPONSES, _RANKS, _OPT_STR = range(6)
_SPECS: dict[str, dict[str, int]] = {
    "sft": {"prompt": _STR, "completion": _STR},
    "chat": {"messages": _MSGS},
    "preference": {"prompt": _STR_OR_MSGS, "chosen": _STR_OR_MSGS, "rejected": _STR_OR_MSGS},
    "ranking": {
        "prompt": _STR_OR_MSGS,
        "responses": _RESPONSES,
        "ranks": _RANKS,
        "rater_id": _OPT_STR,
        "category": _OPT_STR,
        "timestamp": _OPT_STR,
    },
}

_new = object.__new__
_set = object.__setattr__


# ---------------------------------------------------------------------------- Arrow types and values
def _is_str(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _is_list(t: pa.DataType) -> bool:
    return bool(pa.types.is_list(t) or pa.types.is_large_list(t))


def _is_messages(t: pa.DataType) -> bool:
    """A list of ``{role: str, content: str, ...}`` objects (or only empty lists)."""
    if not _is_list(t):
        return False
    v = t.value_type
    if pa.types.is_null(v):
        return True
    if not pa.types.is_struct(v):
        return False
    names = [v.field(i).name for i in range(v.num_fields)]
    if len(set(names)) != len(names) or "role" not in names or "content" not in names:
        return False
    return _is_str(v.field("role").type) and _is_str(v.field("content").type)


def _nulls(arr: pa.Array) -> int:
    """Nulls at any depth of an array (list elements, struct fields)."""
    n = arr.null_count
    t = arr.type
    if _is_list(t):
        n += _nulls(arr.flatten())
    elif pa.types.is_struct(t):
        n += sum(_nulls(child) for child in arr.flatten())
    return n


def _json_exact(arr: pa.Array) -> bool:
    """Whether ``to_pylist`` gives what ``json.loads`` gave for every value (no struct: key order is lost).

    A double that is integral may have been an integer literal that pyarrow widened (``1`` in a
    column that also holds ``1.5``); a non-finite one came from ``NaN``/``Infinity``, of which
    pyarrow accepts spellings that json does not. Either is refused.
    """
    t = arr.type
    if _is_str(t) or pa.types.is_int64(t) or pa.types.is_boolean(t):
        return True
    if pa.types.is_float64(t):
        if len(arr) == 0:
            return True
        clean = pc.and_(pc.is_finite(arr), pc.not_equal(pc.floor(arr), arr))
        return bool(pc.all(clean).as_py())
    if _is_list(t):
        return _json_exact(arr.flatten())
    return pa.types.is_null(t) and len(arr) == 0


def _text_clean(arr: pa.Array) -> bool:
    """No NUL in any text or field name, and only types whose Python values the row check also reads."""
    t = arr.type
    if _is_str(t):
        return not bool(pc.any(pc.match_substring(arr, "\x00")).as_py())
    if _is_list(t):
        return _text_clean(arr.flatten())
    if pa.types.is_struct(t):
        names = [t.field(i).name for i in range(t.num_fields)]
        return all("\x00" not in n for n in names) and all(_text_clean(c) for c in arr.flatten())
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
        or pa.types.is_temporal(t)
        or pa.types.is_decimal(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
    )


def _looks_like_array(arr: pa.Array) -> bool:
    """Whether some text would be decoded as a JSON array by the row reader (Parquet and CSV cells)."""
    if not _is_str(arr.type) or len(arr) == 0:
        return False
    both = pc.and_(pc.match_substring_regex(arr, _ARRAY_START), pc.match_substring_regex(arr, _ARRAY_END))
    return bool(pc.any(both).as_py())


def _message(d: dict[str, Any]) -> Message:
    m = _new(Message)
    extra = {k: v for k, v in d.items() if k != "role" and k != "content"}
    _set(m, "__dict__", {"role": d["role"], "content": d["content"]})
    _set(m, "__pydantic_extra__", extra)
    _set(m, "__pydantic_fields_set__", {"role", "content", *extra})
    _set(m, "__pydantic_private__", None)
    return m


def _messages(values: list[Any]) -> list[Any]:
    return [[_message(d) for d in v] for v in values]


# ---------------------------------------------------------------------------- columns by field
def _field_ok(arr: pa.Array, spec: int, jsonl: bool) -> bool:
    """Whether every value of a field's column is valid for the record model as it is."""
    t = arr.type
    if spec == _OPT_STR:
        return _is_str(t) and (not jsonl or arr.null_count == 0)
    if _nulls(arr) if jsonl else _required_nulls(arr, spec):
        return False
    if spec == _STR:
        return _is_str(t)
    if spec == _MSGS:
        return _is_messages(t) and (not jsonl or _message_extras_ok(t, arr))
    if spec == _STR_OR_MSGS:
        return _is_str(t) or (_is_messages(t) and (not jsonl or _message_extras_ok(t, arr)))
    if spec == _RANKS:
        return _is_list(t) and pa.types.is_int64(t.value_type)
    # responses: a list of texts or of message lists
    if not _is_list(t):
        return False
    inner = t.value_type
    return _is_str(inner) or (_is_messages(inner) and (not jsonl or _message_extras_ok(inner, arr.flatten())))


def _required_nulls(arr: pa.Array, spec: int) -> int:
    """Parquet: nulls where the model needs a value (a message's extra fields and a rank may be null)."""
    n = arr.null_count
    if spec in (_STR, _RANKS) or not _is_list(arr.type):
        return n
    items = arr.flatten()
    n += items.null_count
    if spec == _RESPONSES and _is_list(items.type):
        items = items.flatten()
        n += items.null_count
    if pa.types.is_struct(items.type):
        n += items.field("role").null_count + items.field("content").null_count
    return n


def _message_extras_ok(t: pa.DataType, arr: pa.Array) -> bool:
    """JSONL messages: at most one extra key (the columns lose key order) of a JSON-exact type."""
    v = t.value_type
    if pa.types.is_null(v):
        return True
    extras = [v.field(i).name for i in range(v.num_fields) if v.field(i).name not in ("role", "content")]
    if len(extras) > 1:
        return False
    return all(_json_exact(arr.flatten().field(name)) for name in extras)


def _values(arr: pa.Array, spec: int) -> list[Any]:
    t = arr.type
    if spec in (_MSGS, _STR_OR_MSGS) and _is_list(t):
        return _messages(arr.to_pylist())
    if spec == _RESPONSES and _is_list(t.value_type):
        return [[[_message(d) for d in msgs] for msgs in resp] for resp in arr.to_pylist()]
    return arr.to_pylist()


def _ids(arr: pa.Array | None, lines: Sequence[int], jsonl: bool) -> list[str] | None:
    """Each row's id as :func:`harness.records.to_record` makes it; None when it cannot be sure."""
    if arr is None:
        return [f"L{line}" for line in lines]
    t = arr.type
    if jsonl and not (_is_str(t) or pa.types.is_int64(t) or pa.types.is_boolean(t) or pa.types.is_float64(t)):
        return None
    if jsonl and not _json_exact(arr.drop_null()):
        return None
    return _ids_of(arr.to_pylist(), lines)


def _ids_of(values: list[Any], lines: Sequence[int]) -> list[str]:
    out = []
    for v, line in zip(values, lines, strict=True):
        if v is None or v == "" or (isinstance(v, float) and v != v):
            out.append(f"L{line}")
        else:
            out.append(str(v))
    return out


def _ranking_ok(responses: list[Any], ranks: list[Any]) -> bool:
    """The rules of :class:`harness.records.RankingRecord` (k >= 2, distinct responses, ranks 1..k)."""
    for resp, rk in zip(responses, ranks, strict=True):
        k = len(resp)
        if k < 2 or len(rk) != k or len({message_text(r) for r in resp}) != k:
            return False
        if any(r is not None and not 1 <= r <= k for r in rk):
            return False
    return True


# ---------------------------------------------------------------------------- the batch
def _kind_of(names: list[str], maker: RowRecords) -> Kind | None:
    det = detect_kind(dict.fromkeys(names))
    if maker.kind is None:
        return det
    return maker.kind if det is None or det == maker.kind else None


def build_records(
    batch: pa.Table | pa.RecordBatch,
    lines: Sequence[int],
    maker: RowRecords,
    *,
    jsonl: bool,
    key_order: Callable[[list[str]], list[list[int]] | None] | None = None,
) -> list[Record] | None:
    """The records of a batch, or None when the batch must be read row by row.

    Args:
        batch: the rows as columns: from ``pyarrow.json`` (``jsonl=True``: a null is an absent
            key, since the reader refuses chunks with a JSON ``null``) or a Parquet file (a null
            is a value; every row holds every column).
        lines: each row's 1-based line (Parquet: row).
        maker: the row path's state; its kind is set from this batch when it had none.
        jsonl: whether the batch was parsed from JSON text (see ``batch``).
        key_order: JSONL with several extra fields: given their names, each row's order of them
            (indices into the names), or None when the text does not say it for sure. Without
            it such a batch is refused (the columns do not keep each row's key order).
    """
    if len(lines) == 0:
        return []  # no row: the kind is not taken from the columns alone
    names = list(batch.schema.names)
    if len(set(names)) != len(names) or any("\x00" in n for n in names):
        return None
    kind = _kind_of(names, maker)
    if kind is None or kind == "rating" or any(name not in names for name in _REQUIRED[kind]):
        return None
    cols = {
        n: (c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c)
        for n, c in zip(names, batch.columns, strict=True)
    }
    decoded: dict[str, list[Any]] = {}
    if not jsonl:
        if not all(_text_clean(c) for c in cols.values()):
            return None
        found = _decode_arrays(cols)
        if found is None:
            return None
        decoded = found
    cls = _MODELS[kind]
    spec = _SPECS[kind]
    extras = [n for n in names if n not in cls.model_fields and n != "kind"]
    for name in _COERCED:
        if name in cols and not (_is_str(cols[name].type) and (not jsonl or cols[name].null_count == 0)):
            return None
    orders = None
    if jsonl:
        if not all(cols[n].null_count == 0 and _json_exact(cols[n]) for n in extras):
            return None
        if len(extras) > 1:
            if key_order is None or set(extras) & _nested_names(batch.schema):
                return None
            orders = key_order(extras)
            if orders is None:
                return None
    values = _field_values(cols, decoded, spec, jsonl)
    if values is None:
        return None
    ids = _ids(cols.get("id"), lines, jsonl) if "id" not in decoded else _ids_of(decoded["id"], lines)
    if ids is None:
        return None
    if kind == "ranking" and not _ranking_ok(values["responses"], values["ranks"]):
        return None
    maker.kind = kind
    extra_values = [(n, decoded[n] if n in decoded else cols[n].to_pylist()) for n in extras]
    return _construct(cls, kind, ids, lines, values, extra_values, names, orders)


def _field_values(
    cols: dict[str, pa.Array], decoded: dict[str, list[Any]], spec: dict[str, int], jsonl: bool
) -> dict[str, list[Any]] | None:
    """Each model field's values (messages made :class:`Message`), or None if one is not valid as it is."""
    values: dict[str, list[Any]] = {}
    for name, s in spec.items():
        if name in decoded:
            if not all(_PY_CHECKS[s](v) for v in decoded[name]):
                return None
            values[name] = [_py_value(v, s) for v in decoded[name]]
        elif name in cols:
            if not _field_ok(cols[name], s, jsonl):
                return None
            values[name] = _values(cols[name], s)
    return values


# ---------------------------------------------------------------------------- text cells holding JSON
def _decode_arrays(cols: dict[str, pa.Array]) -> dict[str, list[Any]] | None:
    """CSV and Parquet: the columns with text the row reader decodes as a JSON array, decoded as it does.

    None when a decoded value holds a NUL or lone surrogate (from an escape: the row reader
    reports it) or sits in a field whose numbers the row reader turns into text.
    """
    out: dict[str, list[Any]] = {}
    for name, col in cols.items():
        if not _looks_like_array(col):
            continue
        if name in _COERCED:
            return None
        vals = [_maybe_json(v) if isinstance(v, str) else v for v in col.to_pylist()]
        if any(not isinstance(v, str) and text_problem(v) is not None for v in vals):
            return None
        out[name] = vals
    return out


def _py_msgs(v: Any) -> bool:
    return type(v) is list and all(
        type(m) is dict and type(m.get("role")) is str and type(m.get("content")) is str for m in v
    )


_PY_CHECKS: dict[int, Callable[[Any], bool]] = {
    _STR: lambda v: type(v) is str,
    _MSGS: _py_msgs,
    _STR_OR_MSGS: lambda v: type(v) is str or _py_msgs(v),
    _RESPONSES: lambda v: type(v) is list and all(type(r) is str or _py_msgs(r) for r in v),
    _RANKS: lambda v: type(v) is list and all(r is None or type(r) is int for r in v),
    _OPT_STR: lambda v: v is None or type(v) is str,
}


def _py_value(v: Any, spec: int) -> Any:
    if spec == _RESPONSES:
        return [r if type(r) is str else [_message(d) for d in r] for r in v]
    if spec in (_MSGS, _STR_OR_MSGS) and type(v) is list:
        return [_message(d) for d in v]
    return v


def _nested_names(schema: pa.Schema) -> set[str]:
    """Field names of every object below the top level (a key of that name may sit in a message)."""
    out: set[str] = set()

    def walk(t: pa.DataType) -> None:
        if _is_list(t):
            walk(t.value_type)
        elif pa.types.is_struct(t):
            for i in range(t.num_fields):
                out.add(t.field(i).name)
                walk(t.field(i).type)

    for field in schema:
        walk(field.type)
    return out


def _construct(
    cls: type[Record],
    kind: str,
    ids: list[str],
    lines: Sequence[int],
    values: dict[str, list[Any]],
    extras: list[tuple[str, list[Any]]],
    names: list[str],
    orders: list[list[int]] | None = None,
) -> list[Record]:
    """Records built as ``model_validate`` builds them: fields in model order, extras in row order."""
    order = list(cls.model_fields)
    columns: list[Any] = []
    for name in order:
        if name == "id":
            columns.append(ids)
        elif name == "line":
            columns.append(lines)
        elif name == "kind":
            columns.append(repeat(kind))
        elif name in values:
            columns.append(values[name])
        else:
            columns.append(repeat(cls.model_fields[name].default))
    fields_set = frozenset({"id", "line", *names} - {"kind"})
    if orders is not None and all(o == orders[0] for o in orders):
        extras, orders = [extras[i] for i in orders[0]], None  # one key order in every row
    extra_names = [n for n, _ in extras]
    extra_columns = [v for _, v in extras]
    n = len(ids)
    # Every step is a map() over whole columns: the loops run in C, not in bytecode.
    out: list[Record] = list(map(_new, repeat(cls, n)))
    _fill(out, "__dict__", map(dict, map(zip, repeat(order), zip(*columns, strict=False))))
    if not extra_columns:
        extra_dicts: Iterable[dict[str, Any]] = starmap(dict, repeat((), n))
    elif orders is None:
        extra_dicts = map(dict, map(zip, repeat(extra_names), zip(*extra_columns, strict=True)))
    else:
        rows = zip(*extra_columns, strict=True)
        extra_dicts = ({extra_names[i]: row[i] for i in o} for row, o in zip(rows, orders, strict=True))
    _fill(out, "__pydantic_extra__", extra_dicts)
    _fill(out, "__pydantic_fields_set__", map(set, repeat(fields_set, n)))
    _fill(out, "__pydantic_private__", repeat(None, n))
    return out


def _fill(objects: list[Any], name: str, values: Iterable[Any]) -> None:
    """Set one attribute of every object, bypassing the model's ``__setattr__`` (as model_construct does)."""
    deque(map(_set, objects, repeat(name), values), maxlen=0)
