"""The columnar ratings reader gives exactly what the careful row-by-row reader gives, lines included."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.agreement import reading as R
from harness.agreement.ratings import build_groups
from harness.columns import read_csv_columns
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
