"""The batch reader of training records yields exactly what the row-by-row reader yields.

Property tests write random files (every record kind, JSONL and Parquet and CSV; random extra
fields, missing fields, wrong types, odd Unicode, nulls, repeated keys, blank lines, CRLF, a BOM,
lines that are not JSON) and compare ``iter_records(path)`` (batches) with
``iter_records(path, batched=False)`` (row by row, pydantic per row) item by item: the same
record classes, fields, values and their types, extra fields in the same order, fields set, ids
and lines, and the same problems. Other tests check that clean batches do take the fast path
(else the comparison would hold trivially) and that a bad batch falls back alone.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import harness.record_batches as rb
import harness.record_columns as rc
import harness.rows as rows_mod
from harness.errors import HarnessError
from harness.records import KINDS, RowProblem, iter_records


# ---------------------------------------------------------------------------- comparing items
def shape(x: Any) -> Any:
    """Everything of an item that could differ: classes, values with their types, key orders."""
    if hasattr(x, "__pydantic_fields_set__"):
        return (
            type(x).__name__,
            [(k, shape(v)) for k, v in x.__dict__.items()],
            [(k, shape(v)) for k, v in (x.__pydantic_extra__ or {}).items()],
            sorted(x.__pydantic_fields_set__),
            x.__pydantic_private__,
        )
    if isinstance(x, list):
        return ["list", *(shape(v) for v in x)]
    if isinstance(x, dict):
        return ["dict", *((k, shape(v)) for k, v in x.items())]
    if isinstance(x, float) and math.isnan(x):
        return ("float", "nan")
    return (type(x).__name__, repr(x))


def read_all(path: Path, **kw: Any) -> tuple[list[Any], str | None]:
    out: list[Any] = []
    try:
        for item in iter_records(path, **kw):
            out.append(shape(item))
    except HarnessError as exc:
        return out, f"{type(exc).__name__}: {exc}"
    return out, None


def assert_same(path: Path, **kw: Any) -> list[Any]:
    fast = read_all(path, **kw)
    slow = read_all(path, batched=False, **kw)
    assert fast == slow
    return fast[0]


# ---------------------------------------------------------------------------- random rows
ODD = [
    "\ud800",
    "\udc00",
    "\x00",
    "\u2028",
    "\x85",
    "\ufeff",
    "😀",
    "é",
    "\r",
    "\n",
    "\t",
    '"',
    "\\",
    "null",
    "[1, 2]",
    ' ["x"] ',
    "\x1c[]",
    "2024-01-01",
    "2024-01-01T10:00:00",
    "NaN",
    "1",
    ",",
    ":",
]
texts = st.one_of(st.text(max_size=8), st.sampled_from(ODD), st.lists(st.sampled_from(ODD), max_size=3).map("".join))
plain = st.text(alphabet="abcdefgh xyz,.?", max_size=10)
scalars = st.one_of(
    texts,
    st.integers(-5, 5),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([1.0, 2.5, -0.0, 1e300]),
)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(plain, inner, max_size=3), max_leaves=6
)
EXTRA_KEYS = ["source", "meta", "score", "line", "kind", "category", "rater_id", "timestamp", "tags", "é", "id"]


@st.composite
def messages(draw: Any, clean: bool) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        m: dict[str, Any] = {"role": draw(st.sampled_from(["system", "user", "assistant"])), "content": draw(plain)}
        if not clean:
            if draw(st.booleans()):
                m["content"] = draw(st.one_of(texts, json_values))
            if draw(st.integers(0, 5)) == 0:
                del m["role"]
        if draw(st.integers(0, 3)) == 0:
            m[draw(st.sampled_from(["name", "weight", "meta"]))] = draw(json_values if not clean else plain)
        if draw(st.booleans()):
            m = dict(reversed(list(m.items())))
        out.append(m)
    return out


@st.composite
def str_or_messages(draw: Any, clean: bool) -> Any:
    return draw(messages(clean)) if draw(st.booleans()) else draw(plain if clean else texts)


@st.composite
def record(draw: Any, kind: str, clean: bool) -> list[tuple[str, Any]]:
    """One row as a list of key/value pairs (a key may repeat: JSON allows it, json keeps the last)."""
    fields: dict[str, Any]
    if kind == "rating":
        fields = {"item_id": draw(plain), "rater_id": draw(plain), "score": draw(st.integers(1, 5) | plain)}
    elif kind == "sft":
        fields = {"prompt": draw(plain), "completion": draw(plain)}
    elif kind == "chat":
        fields = {"messages": draw(messages(clean))}
    elif kind == "preference":
        fields = {name: draw(str_or_messages(clean)) for name in ("prompt", "chosen", "rejected")}
    else:
        k = draw(st.integers(2, 4))
        responses = draw(st.lists(plain, min_size=k, max_size=k, unique=True))
        ranks = draw(st.lists(st.integers(1, k), min_size=k, max_size=k))
        fields = {"prompt": draw(str_or_messages(clean)), "responses": responses, "ranks": ranks}
        if draw(st.booleans()):
            fields["rater_id"] = draw(plain)
    if draw(st.integers(0, 2)):
        fields["id"] = draw(st.one_of(plain, st.integers(0, 99)) if clean else st.one_of(texts, scalars, json_values))
    if clean:
        if draw(st.booleans()):
            fields[draw(st.sampled_from(["source", "tags"]))] = draw(st.one_of(plain, st.integers(), st.lists(plain)))
    else:
        for key in draw(st.lists(st.sampled_from(EXTRA_KEYS), max_size=3)):
            fields[key] = draw(json_values)
        for name in list(fields):
            roll = draw(st.integers(0, 12))
            if roll == 0:
                del fields[name]
            elif roll == 1:
                fields[name] = draw(json_values)
    items = list(fields.items())
    items = draw(st.permutations(items)) if items else items
    if not clean and items and draw(st.integers(0, 8)) == 0:
        items.insert(draw(st.integers(0, len(items))), (items[0][0], draw(json_values)))
    return items


def dump(items: list[tuple[str, Any]], rnd: random.Random) -> str:
    ascii_ = rnd.random() < 0.5
    sep, colon = rnd.choice([(", ", ": "), (",", ":"), (" ,  ", " :")])
    return (
        "{"
        + sep.join(json.dumps(k, ensure_ascii=ascii_) + colon + json.dumps(v, ensure_ascii=ascii_) for k, v in items)
        + "}"
    )


JUNK = [
    "",
    "",
    "   ",
    "\t",
    "not json",
    "[1, 2]",
    "1",
    "{}",
    '{"prompt": "a"} {"completion": "b"}',
    "\ufeff{}",
    '{"prompt": "a", "completion": "b",}',
    '{"prompt": NaN, "completion": "b"}',
    "\x0c{}",
    "{'a': 1}",
]


@st.composite
def jsonl_file(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["sft", "chat", "preference", "ranking"]))
    rnd = random.Random(draw(st.integers(0, 2**32)))
    lines = []
    for _ in range(draw(st.integers(0, 14))):
        roll = draw(st.integers(0, 9))
        if roll == 0:
            lines.append(draw(st.sampled_from(JUNK)))
        else:
            other = draw(st.sampled_from(KINDS)) if roll == 1 else kind
            lines.append(dump(draw(record(other, clean=roll > 4)), rnd))
    out = b""
    for line in lines:
        end = draw(st.sampled_from(["\n", "\n", "\r\n", "\r\r\n", "\r"]))
        out += (line + end).encode("utf-8", "surrogatepass")
    if draw(st.booleans()) and out.endswith(b"\n"):
        out = out[:-1]
    if draw(st.integers(0, 4)) == 0:
        out = b"\xef\xbb\xbf" + out
    return out


def small_chunks(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(rb, "CHUNK_BYTES", size)


SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


# ---------------------------------------------------------------------------- properties
@SETTINGS
@given(data=jsonl_file(), chunk=st.sampled_from([16, 200, 4096]), kind=st.sampled_from([None, None, *KINDS]))
def test_jsonl_batches_equal_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, chunk: int, kind: str | None
) -> None:
    small_chunks(monkeypatch, chunk)
    path = tmp_path / "d.jsonl"
    path.write_bytes(data)
    built = count_built(monkeypatch)
    assert_same(path, format="jsonl", kind=kind)
    event(f"batches built from columns: {min(sum(built), 3)}+")


def count_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records built from columns (to see in the statistics that the property reaches the fast path)."""
    built: list[int] = []
    real = rc.build_records

    def counting(*args: Any, **kw: Any) -> Any:
        out = real(*args, **kw)
        if out:
            built.append(1)
        return out

    monkeypatch.setattr(rc, "build_records", counting)
    return built


VALID = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)


@st.composite
def clean_rows(draw: Any, kind: str) -> list[dict[str, Any]]:
    """Rows as a dataset writer makes them: one key set and one type per column, no nulls."""
    id_kind = draw(st.sampled_from(["none", "str", "int", "some"]))
    pool = [
        ("source", VALID),
        ("n", st.integers(-(2**63), 2**63 - 1)),
        ("tags", st.lists(VALID, max_size=2)),
        ("ok", st.booleans()),
        ("w", st.floats(0.01, 0.99)),
        ('é \\ "q"', VALID),
    ]
    extras = draw(st.lists(st.sampled_from(pool), max_size=3, unique_by=lambda e: e[0]))
    as_messages = {name: draw(st.booleans()) for name in ("prompt", "chosen", "rejected", "responses")}
    msg_extra = draw(st.sampled_from([None, "name"]))

    def msgs() -> list[dict[str, Any]]:
        out = []
        for _ in range(draw(st.integers(1, 3))):
            m = {"role": draw(st.sampled_from(["user", "assistant"])), "content": draw(VALID)}
            if msg_extra:
                m[msg_extra] = draw(VALID)
            out.append(dict(draw(st.permutations(list(m.items())))))
        return out

    def text_or_msgs(name: str) -> Any:
        return msgs() if as_messages[name] else draw(VALID)

    rows = []
    for i in range(draw(st.integers(1, 12))):
        if kind == "sft":
            row: dict[str, Any] = {"prompt": draw(VALID), "completion": draw(VALID)}
        elif kind == "chat":
            row = {"messages": msgs()}
        elif kind == "preference":
            row = {name: text_or_msgs(name) for name in ("prompt", "chosen", "rejected")}
        else:
            k = draw(st.integers(2, 4))
            row = {
                "prompt": text_or_msgs("prompt"),
                "responses": [f"r{j} " + draw(VALID) for j in range(k)],
                "ranks": draw(st.lists(st.integers(1, k), min_size=k, max_size=k)),
            }
            if as_messages["responses"]:
                row["responses"] = [[{"role": "assistant", "content": t}] for t in row["responses"]]
        if id_kind == "str" or (id_kind == "some" and draw(st.booleans())):
            row["id"] = draw(VALID)
        elif id_kind == "int":
            row["id"] = i
        for name, values in extras:
            row[name] = draw(values)
        rows.append(dict(draw(st.permutations(list(row.items())))))
    return rows


@SETTINGS
@given(
    kind=st.sampled_from(["sft", "chat", "preference", "ranking"]),
    data=st.data(),
    seed=st.integers(0, 2**32),
    crlf=st.booleans(),
    bom=st.booleans(),
    blank=st.booleans(),
)
def test_clean_jsonl_takes_the_batch_path(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    data: st.DataObject,
    seed: int,
    crlf: bool,
    bom: bool,
    blank: bool,
) -> None:
    """Clean rows are built from columns, never read row by row, and equal the row path's records."""
    rows = data.draw(clean_rows(kind))
    rnd = random.Random(seed)
    end = "\r\n" if crlf else "\n"
    text = "".join(dump(list(r.items()), rnd) + end + (end if blank else "") for r in rows)
    path = tmp_path / "d.jsonl"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    calls: list[int] = []
    monkeypatch.setattr(rb, "jsonl_row", lambda line, raw: calls.append(line) or rows_mod.jsonl_row(line, raw))
    items = assert_same(path, format="jsonl")
    assert len(items) == len(rows)
    assert calls == [], f"a clean {kind} file was read row by row"


# ---------------------------------------------------------------------------- Parquet
@st.composite
def parquet_rows(draw: Any) -> list[dict[str, Any]]:
    kind = draw(st.sampled_from(["sft", "chat", "preference", "ranking"]))
    rows = draw(clean_rows(kind))
    names = sorted({k for r in rows for k in r})
    for name in names:  # lists stored as JSON text (the row reader decodes them)
        if draw(st.integers(0, 2)) == 0 and any(isinstance(r.get(name), list) for r in rows):
            ascii_ = draw(st.booleans())
            for r in rows:
                if name in r:
                    r[name] = json.dumps(r[name], ensure_ascii=ascii_)
    for r in rows:
        for name in names:
            roll = draw(st.integers(0, 14))
            if roll == 0:
                r[name] = None
            elif roll == 1 and isinstance(r.get(name), str):
                r[name] = draw(st.sampled_from([" [1, 2] ", "[x]", "a\x00b", "\u2028[]\x85", "[", ""]))
    if draw(st.booleans()):
        extra = draw(st.sampled_from(["kind", "line", "meta", "category", "score"]))
        value = draw(
            st.sampled_from(
                [
                    st.just(None),
                    st.integers(0, 3),
                    VALID,
                    st.fixed_dictionaries({"a": VALID}),
                    st.floats(allow_nan=True),
                ]
            )
        )
        for r in rows:
            r[extra] = draw(value)
    return rows


@SETTINGS
@given(rows=parquet_rows(), batch=st.sampled_from([2, 5, 4096]), kind=st.sampled_from([None, None, *KINDS]))
def test_parquet_batches_equal_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: list[dict[str, Any]], batch: int, kind: str | None
) -> None:
    monkeypatch.setattr(rows_mod, "PARQUET_BATCH", batch)
    monkeypatch.setattr(rb, "PARQUET_BATCH", batch)
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return  # no Parquet file holds these rows
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    built = count_built(monkeypatch)
    assert_same(path, kind=kind)
    event(f"batches built from columns: {min(sum(built), 3)}+")


@SETTINGS
@given(kind=st.sampled_from(["sft", "chat", "preference", "ranking"]), data=st.data())
def test_clean_parquet_takes_the_batch_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, data: st.DataObject
) -> None:
    rows = data.draw(clean_rows(kind))
    try:
        table = pa.Table.from_pylist(rows)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        return
    path = tmp_path / "d.parquet"
    pq.write_table(table, path)
    calls: list[int] = []
    monkeypatch.setattr(rb, "parquet_row", lambda row, obj: calls.append(row) or rows_mod.parquet_row(row, obj))
    items = assert_same(path)
    assert len(items) == len(rows)
    if all("id" in r for r in rows) or not any("id" in r for r in rows):
        assert calls == [], f"a clean {kind} Parquet file was read row by row"


CSV_JUNK = [b"", b" , ,", b'"unclosed,x', b"a,b,c,d,e,f", b"\xff\xfe,x", b"x\x00y,z", b"[1],[2]", b"\r"]


@st.composite
def csv_file(draw: Any) -> bytes:
    kind = draw(st.sampled_from(["sft", "chat", "preference", "ranking"]))
    rows = draw(clean_rows(kind))
    header = sorted({k for r in rows for k in r})
    if draw(st.booleans()):
        header.append(draw(st.sampled_from(["", "source", "id", " pad "])))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    out = [buf.getvalue().encode()]
    for r in rows:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        cells = [r.get(h, "") for h in header]
        cells = [c if isinstance(c, str) else json.dumps(c) for c in cells]
        if draw(st.integers(0, 6)) == 0:
            cells[draw(st.integers(0, len(cells) - 1))] = draw(st.sampled_from(ODD[2:]))
        writer.writerow(cells)
        out.append(buf.getvalue().encode("utf-8", "surrogatepass"))
        if draw(st.integers(0, 8)) == 0:
            out.append(draw(st.sampled_from(CSV_JUNK)) + b"\n")
    return b"".join(out)


@SETTINGS
@given(data=csv_file(), batch=st.sampled_from([1, 3, 4096]), kind=st.sampled_from([None, None, *KINDS]))
def test_csv_batches_equal_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data: bytes, batch: int, kind: str | None
) -> None:
    monkeypatch.setattr(rb, "CSV_BATCH", batch)
    path = tmp_path / "d.csv"
    path.write_bytes(data)
    built = count_built(monkeypatch)
    assert_same(path, format="csv", kind=kind)
    event(f"batches built from columns: {min(sum(built), 3)}+")


def test_csv_equal_rows_and_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "d.csv"
    path.write_text('id,prompt,completion\n1,"a, b",c\n\n,"multi\nline",d\n2,e\n3,"say ""hi""",f\n', encoding="utf-8")
    calls: list[int] = []
    monkeypatch.setattr(rb, "csv_row", lambda line, h, cells: calls.append(line) or rows_mod.csv_row(line, h, cells))
    items = assert_same(path)
    assert [i[0] for i in items] == ["SFTRecord", "SFTRecord", "RowProblem", "SFTRecord"]
    assert [r.line for r in iter_records(path) if not isinstance(r, RowProblem)] == [2, 4, 7]
    assert calls == []


def test_csv_messages_as_json_text(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells holding JSON arrays are decoded as the row reader decodes them, in batches."""
    rows = [
        ["c1", json.dumps([{"role": "user", "content": "hi, you"}, {"content": "yo", "role": "assistant", "n": 1}])],
        ["c2", " [] "],
        ["c3", json.dumps([{"role": "user", "content": "é \ud83d\ude00"}])],
    ]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["id", "messages"], *rows])
    path = tmp_path / "d.csv"
    path.write_text(buf.getvalue(), encoding="utf-8")
    calls: list[int] = []
    monkeypatch.setattr(rb, "csv_row", lambda line, h, cells: calls.append(line) or rows_mod.csv_row(line, h, cells))
    assert_same(path)
    assert calls == []
    recs = list(iter_records(path))
    assert [len(r.messages) for r in recs] == [2, 0, 1] and recs[0].messages[1].n == 1
    rows.append(["c4", json.dumps([{"role": "user", "content": "\u0000"}])])  # a NUL from an escape
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["id", "messages"], *rows])
    path.write_text(buf.getvalue(), encoding="utf-8")
    items = assert_same(path)
    assert items[-1][0] == "RowProblem" and calls == [2, 3, 4, 5]


# ---------------------------------------------------------------------------- fallbacks
CLEAN = '{"id": "a%d", "prompt": "p", "completion": "c", "source": "s"}'
TRICKY = {
    "null value": '{"prompt": "p", "completion": "c", "source": null}',
    "null id": '{"id": null, "prompt": "p", "completion": "c", "source": "s"}',
    "repeated key": '{"prompt": "p", "completion": "c", "source": "s", "source": "t"}',
    "int among strings": '{"prompt": "p", "completion": "c", "source": 3}',
    "float that is an int": '{"prompt": "p", "completion": "c", "source": 3.0}',
    "big int": '{"prompt": "p", "completion": "c", "source": 123456789012345678901234567890}',
    "NaN": '{"prompt": "p", "completion": "c", "source": NaN}',
    "-NaN": '{"prompt": "p", "completion": "c", "source": -NaN}',
    "lone surrogate": '{"prompt": "p\\ud800", "completion": "c", "source": "s"}',
    "surrogate pair": '{"prompt": "p\\ud83d\\ude00", "completion": "c", "source": "s"}',
    "escaped backslash before u": '{"prompt": "p\\\\ud800", "completion": "c", "source": "s"}',
    "NUL escape": '{"prompt": "p\\u0000", "completion": "c", "source": "s"}',
    "missing field": '{"prompt": "p", "source": "s"}',
    "wrong type": '{"prompt": ["p"], "completion": "c", "source": "s"}',
    "two extra fields": '{"prompt": "p", "completion": "c", "source": "s", "n": 1}',
    "two extra fields, other order": '{"n": 1, "prompt": "p", "completion": "c", "source": "s"}',
    "extra key escaped": '{"prompt": "p", "completion": "c", "n": 1, "\\u0073ource": "s"}',
    "extra key in a value": '{"prompt": "p, \\"n\\": 2", "completion": "c", "n": 1, "source": "s"}',
    "date-like text": '{"prompt": "p", "completion": "c", "source": "2024-01-01"}',
    "two objects": '{"prompt": "p", "completion": "c"} {"prompt": "q", "completion": "d"}',
    "trailing comma": '{"prompt": "p", "completion": "c",}',
    "kind and line keys": '{"prompt": "p", "completion": "c", "source": "s", "kind": 3, "line": [1]}',
    "other kind": '{"messages": [], "source": "s"}',
    "rating row": '{"item_id": "i", "rater_id": "r", "score": 3}',
    "blank with spaces": "   ",
    "lone CR": '{"prompt": "p",\r "completion": "c", "source": "s"}',
    "id number": '{"id": 7, "prompt": "p", "completion": "c", "source": "s"}',
    "id fraction": '{"id": 7.5, "prompt": "p", "completion": "c", "source": "s"}',
    "empty id": '{"id": "", "prompt": "p", "completion": "c", "source": "s"}',
}
FAST = {
    "null id",
    "surrogate pair",
    "escaped backslash before u",
    "date-like text",
    "kind and line keys",
    "empty id",
}


@pytest.mark.parametrize("case", sorted(TRICKY))
def test_tricky_line_equal_and_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    """A tricky line among clean ones: the same items as row by row; only its chunk is read row by row."""
    small_chunks(monkeypatch, 300)
    lines = [CLEAN % i for i in range(30)]
    lines[15] = TRICKY[case]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    calls: list[int] = []
    monkeypatch.setattr(rb, "jsonl_row", lambda line, raw: calls.append(line) or rows_mod.jsonl_row(line, raw))
    assert_same(path)
    row_read = set(calls)
    if case in FAST and case != "null id":  # null: any JSON null sends its chunk to the row path
        assert 16 not in row_read, f"{case}: read row by row"
    elif case not in FAST:
        assert 16 in row_read
    assert 1 not in row_read and 30 not in row_read, "clean chunks away from the tricky line were read row by row"


def test_extra_fields_in_any_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Several extra fields, in another order on each line, are built from columns in each line's order."""
    lines = [
        '{"prompt": "p, \\"n\\": 2", "completion": "c", "n": 1, "source": "s"}',
        '{"source": "t", "prompt": "q", "n": 2, "completion": "d"}',
        '{"n": 3, "prompt": "r", "completion": "e", "\\u00e9": "x", "source": "u"}',
        '{"n": 4, "\u00e9": "y", "prompt": "r", "completion": "e", "source": "u"}',
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines[:2]) + "\n", encoding="utf-8")
    calls: list[int] = []
    monkeypatch.setattr(rb, "jsonl_row", lambda line, raw: calls.append(line) or rows_mod.jsonl_row(line, raw))
    assert_same(path)
    assert [list(r.__pydantic_extra__) for r in iter_records(path)] == [["n", "source"], ["source", "n"]]
    assert calls == []
    path.write_text("\n".join(lines[2:]) + "\n", encoding="utf-8")  # a key escaped in one row, not the other
    assert_same(path)
    assert [list(r.__pydantic_extra__) for r in iter_records(path)] == [["n", "é", "source"], ["n", "é", "source"]]
    assert calls == []


def test_line_numbers_with_blank_lines_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"prompt": "a", "completion": "b"}\r\n\r\n\n{"prompt": "c", "completion": "d"}')
    recs = list(iter_records(path))
    assert [(r.id, r.line) for r in recs] == [("L1", 1), ("L4", 4)]
    assert_same(path)


def test_too_long_line_raises_at_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in (rows_mod, rb):
        monkeypatch.setattr(mod, "MAX_RECORD_BYTES", 200)
    small_chunks(monkeypatch, 64)
    lines = [CLEAN % i for i in range(6)]
    lines[3] = '{"prompt": "' + "x" * 300 + '", "completion": "c"}'
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    items, error = read_all(path)
    assert len(items) == 3 and error is not None and "d.jsonl:4:" in error
    assert (items, error) == read_all(path, batched=False)
    path.write_text("\n".join(lines[:4]), encoding="utf-8")  # the long line last, without a line feed
    assert read_all(path) == read_all(path, batched=False)


def test_strip_chars_are_those_of_str_strip() -> None:
    assert set(rc.STRIP_CHARS) == {chr(c) for c in range(0x110000) if chr(c).isspace()}
