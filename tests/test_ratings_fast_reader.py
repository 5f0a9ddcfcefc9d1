"""The columnar ratings reader gives exactly what the careful row-by-row reader gives, lines included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.agreement import reading as R
from harness.agreement.ratings import build_groups
from harness.columns import read_csv_coded, read_csv_columns
from harness.errors import InputError

BODIES = {
    "plain": "item_id,rater_id,score\na,r1,1\na,r2,2\nb,r1,3\nb,r2,3\n",
    "blank lines": "\nitem_id,rater_id,score\n\na,r1,1\n\n\na,r2,2\nb,r1,3\n",
    "crlf and bom": "\ufeffitem_id,rater_id,score\r\na,r1,1\r\n\r\na,r2,2\r\nb,r1,3\r\n",
    "quoted newline": 'item_id,rater_id,score,criterion\n"a\nx",r1,1,c\n"a\nx",r2,2,c\nb,r1,3,c\n',
    "extras": "item_id,rater_id,score,criterion,gold,timestamp,shown_order,note\n"
    "a,r1,A,c,,2024-01-01,AB,x\na,r2,B,c,A,2024-01-02,BA,y\nb,r1,tie,c,,,,z\n",
    "no final newline": "item_id,rater_id,score\na,r1,1\na,r2,2",
}


def _careful(path: Path) -> list[R.Rating]:
    fast = R._load_long_csv
    try:
        R._load_long_csv = lambda p: None  # type: ignore[assignment]
        return R._load_long(path, None)
    finally:
        R._load_long_csv = fast


@pytest.mark.parametrize("name", list(BODIES))
def test_fast_reader_equals_careful_reader(tmp_path: Path, name: str) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(BODIES[name].encode("utf-8"))
    fast = R._load_long_csv(path)
    assert fast is not None, "the fast path declined a plain file"
    careful = _careful(path)
    rows = R.Ratings(columns=fast).ratings
    assert rows == careful
    assert [tuple(map(type, r)) for r in rows] == [tuple(map(type, r)) for r in careful]
    # the columns coded from the careful reader's list are the fast reader's columns
    assert R.Ratings(careful).columns.item_id.values == fast.item_id.values
    assert R.Ratings(careful).columns.score.values == fast.score.values


@pytest.mark.parametrize(
    "body",
    [
        "item_id,rater_id,score\na,r1,1\na,r2\n",  # ragged row
        "item_id,rater_id,score\na,r1,\na,r2,2\n",  # empty score
        b"item_id,rater_id,score\na,r1,\xff\n",  # not UTF-8
    ],
)
def test_fast_reader_leaves_problems_to_the_careful_reader(tmp_path: Path, body: str | bytes) -> None:
    path = tmp_path / "r.csv"
    path.write_bytes(body if isinstance(body, bytes) else body.encode())
    assert R._load_long_csv(path) is None
    with pytest.raises(InputError) as err:
        R.load_ratings(path)
    assert str(err.value).startswith((f"{path}:2", f"{path}:3"))


def test_csv_columns_lines_random(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    lines, expect = ["a,b"], []
    for k in range(500):
        if rng.random() < 0.2:
            lines.append("")
        lines.append(f"x{k},{k}")
        expect.append(len(lines))
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    table = read_csv_columns(path)
    assert table is not None and table.lines == expect and table.columns["a"][7] == "x7"


def test_duplicate_rating_names_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("item_id,rater_id,score\na,r1,1\na,r2,2\na,r1,1\nb,r1,2\nb,r2,2\na,r1,3\n")
    with pytest.raises(InputError) as err:
        build_groups(R.load_ratings(path), level="nominal")
    assert str(err.value).startswith(f"{path}:7,") and "also on line 2" in str(err.value)
    path.write_text("item_id,rater_id,score\na,r1,1\na,r2,2\na,r1,1\nb,r1,2\nb,r2,2\n")
    (group,) = build_groups(R.load_ratings(path), level="nominal")
    assert group.duplicates_ignored == 1 and group.lines[0, 0] == 2


JSONL_BODIES = {
    "strings": '{"item_id": "a", "rater_id": "r1", "score": "3"}\n{"item_id": "a", "rater_id": "r2", "score": "4"}\n',
    "numbers": '{"item_id": 1, "rater_id": 2.0, "score": 3}\n\n{"item_id": 1, "rater_id": 7, "score": 4.5}\n',
    "extras": '{"item_id": "a", "rater_id": "r1", "score": "A", "criterion": 2, "gold": 1, "timestamp": "2024-01-01",'
    ' "shown_order": "AB", "note": [1, 2]}\n{"item_id": "a", "rater_id": "r2", "score": "B", "gold": "nan",'
    ' "position": 1.0, "criterion": ""}\n',
    "bom": '\ufeff{"item_id": "a", "rater_id": "r1", "score": 1}\n{"item_id": "b", "rater_id": "r1", "score": 2}',
}


def _careful_jsonl(path: Path) -> list[R.Rating]:
    fast = R._load_long_jsonl
    try:
        R._load_long_jsonl = lambda p: None  # type: ignore[assignment]
        return R._load_long(path, None)
    finally:
        R._load_long_jsonl = fast


@pytest.mark.parametrize("name", list(JSONL_BODIES))
def test_fast_jsonl_reader_equals_careful_reader(tmp_path: Path, name: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(JSONL_BODIES[name].encode("utf-8"))
    fast = R._load_long_jsonl(path)
    assert fast is not None, "the fast path declined a plain file"
    careful = _careful_jsonl(path)
    assert fast == careful
    assert [tuple(map(type, r)) for r in fast] == [tuple(map(type, r)) for r in careful]


@pytest.mark.parametrize(
    "line",
    [
        '{"item_id": "a", "rater_id": "r1", "score": ""}',
        '{"item_id": null, "rater_id": "r1", "score": 1}',
        '{"item_id": true, "rater_id": "r1", "score": 1}',
        '{"item_id": "a", "rater_id": "r1", "score": NaN}',
        '{"item_id": "a", "rater_id": "r1", "score": [1]}',
        '{"item_id": "a", "rater_id": "r1"',
        '["a", "r1", 1]',
    ],
)
def test_fast_jsonl_reader_leaves_problems_to_the_careful_reader(tmp_path: Path, line: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text('{"item_id": "a", "rater_id": "r0", "score": 1}\n' + line + "\n")
    assert R._load_long_jsonl(path) is None
    try:
        ratings = R.load_ratings(path)
    except InputError as err:
        assert str(err).startswith(f"{path}:2")
    else:  # the careful reader accepts it (a boolean id becomes text): both agree on what it is
        assert ratings.ratings[1].line == 2


# ---------------------------------------------------------------------------- the columnar reader
_CELLS = st.sampled_from(["a", "b", "ab", " a", "a ", "x" * 9, "y" * 17, "é", "日本", "1", "1.0", "2", "", "nan", "[1]",
                          "i12345678", "r", "tie", "A", "B", "AB", "2024-01-01"])  # fmt: skip


@st.composite
def _csv_bodies(draw: st.DrawFn) -> bytes:
    extra = draw(st.lists(st.sampled_from(["criterion", "gold", "timestamp", "shown_order", "note"]), unique=True))
    header = ["item_id", "rater_id", "score", *extra]
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.booleans()) and draw(st.booleans()):
            rows.append("")  # a blank line
        cells = [draw(_CELLS) for _ in header]
        if draw(st.integers(0, 20)) == 0:
            cells = cells[:-1]  # a ragged row
        rows.append(",".join(cells))
    bom = "\ufeff" if draw(st.booleans()) else ""
    end = eol if draw(st.booleans()) else ""
    return (bom + eol.join([",".join(header), *rows]) + end).encode()


@pytest.mark.parametrize("engine", ["numpy", "pyarrow"])
@settings(max_examples=100, deadline=None)
@given(body=_csv_bodies())
def test_columnar_reader_equals_careful_reader_on_random_files(
    tmp_path_factory: pytest.TempPathFactory, engine: str, body: bytes
) -> None:
    import harness.columns as columns

    limit = columns._NUMPY_MAX_BYTES
    columns._NUMPY_MAX_BYTES = limit if engine == "numpy" else -1  # small files through pyarrow's coding too
    try:
        _check_columnar_reader(tmp_path_factory.mktemp("r") / "r.csv", body)
    finally:
        columns._NUMPY_MAX_BYTES = limit


def _check_columnar_reader(path: Path, body: bytes) -> None:
    path.write_bytes(body)
    fast = R._load_long_csv(path)
    if fast is None:  # declined: the careful reader decides (and names file, line and field)
        return
    careful = _careful(path)
    rows = R.Ratings(columns=fast).ratings
    assert rows == careful
    assert [tuple(map(type, r)) for r in rows] == [tuple(map(type, r)) for r in careful]
    coded = read_csv_coded(path)
    table = read_csv_columns(path)  # pyarrow declines a file with a header alone and no final newline
    assert coded is not None
    if table is None:
        assert not rows
        return
    assert coded.lines.tolist() == table.lines
    for name, cells in table.columns.items():
        column = coded.columns[name]
        assert column.values == list(dict.fromkeys(cells))  # each value once, in order of first appearance
        assert [column.values[k] for k in column.codes.tolist()] == cells


def test_columnar_reader_declines_what_pyarrow_would_refuse(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    for body in (b"item_id,rater_id,score\na,r1,1,9\n", b"item_id,rater_id,score\na,r1\n", b"item_id,item_id,score\n",
                 b"item_id,rater_id,score\na,r\xe9,1\n"):  # fmt: skip
        path.write_bytes(body)
        assert read_csv_coded(path) is None and read_csv_columns(path) is None


def test_ratings_hold_a_list_or_columns() -> None:
    rows = [R.Rating("a", "x", 1.0, line=2), R.Rating("a", "y", 2.0, "c", line=3), R.Rating("b", "x", 1.0, line=4)]
    listed = R.Ratings(rows, "f.csv")
    assert len(listed) == 3 and listed.ratings == rows
    cols = listed.columns
    assert cols.item_id.values == ["a", "b"] and cols.item_id.codes.tolist() == [0, 0, 1]
    assert cols.criterion is not None and cols.criterion.values == [None, "c"] and cols.gold is None
    assert R.Ratings(columns=cols).ratings == rows and len(R.Ratings(columns=cols)) == 3
    with pytest.raises(TypeError):
        R.Ratings(rows, columns=cols)


def test_a_long_cell_does_not_blow_up_the_byte_matrix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """numpy's coder holds a column as rows x widest-cell bytes: one long cell sends the file to pyarrow."""
    import harness.columns as columns

    path = tmp_path / "r.csv"
    rows = [f"i{i},r{i % 3},{i % 4}" for i in range(2000)] + ["i0," + "x" * 40_000 + ",1"]
    path.write_text("item_id,rater_id,score\n" + "\n".join(rows) + "\n")
    calls = []
    arrow = columns._coded_arrow
    monkeypatch.setattr(columns, "_coded_arrow", lambda raw: calls.append(1) or arrow(raw))
    coded, table = read_csv_coded(path), read_csv_columns(path)
    assert calls == [1] and coded is not None and table is not None
    for name, cells in table.columns.items():
        assert [coded.columns[name].values[k] for k in coded.columns[name].codes.tolist()] == cells
