"""Record loaders: formats, ids, and every kind of bad input named in the foundation issue."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from harness.errors import InputError, InputFileError
from harness.records import (
    ChatRecord,
    PreferenceRecord,
    RatingRecord,
    RowProblem,
    SFTRecord,
    detect_format,
    iter_records,
)


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return p


def _split(items):
    recs = [i for i in items if not isinstance(i, RowProblem)]
    probs = [i for i in items if isinstance(i, RowProblem)]
    return recs, probs


def test_sft_jsonl_ids_from_field_or_line(tmp_path):
    p = _write(
        tmp_path, "a.jsonl", '{"id": "x1", "prompt": "a", "completion": "b"}\n\n{"prompt": "c", "completion": "d"}\n'
    )
    recs, probs = _split(list(iter_records(p)))
    assert probs == []
    assert [r.id for r in recs] == ["x1", "L3"]
    assert all(isinstance(r, SFTRecord) for r in recs)
    assert recs[1].line == 3


def test_chat_and_preference_forms(tmp_path):
    chat = _write(
        tmp_path,
        "c.jsonl",
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}) + "\n",
    )
    (rec,) = list(iter_records(chat))
    assert isinstance(rec, ChatRecord) and rec.messages[1].content == "hello"
    msgs = [{"role": "user", "content": "q"}]
    pref = _write(
        tmp_path,
        "p.jsonl",
        json.dumps({"prompt": msgs, "chosen": [{"role": "assistant", "content": "a"}], "rejected": "b"}) + "\n",
    )
    (rec,) = list(iter_records(pref))
    assert isinstance(rec, PreferenceRecord) and rec.rejected == "b" and rec.prompt[0].role == "user"


def test_bom_crlf_and_csv_pass(tmp_path):
    p = _write(
        tmp_path,
        "bom.jsonl",
        b'\xef\xbb\xbf{"prompt": "a", "completion": "b"}\r\n{"prompt": "c", "completion": "d"}\r\n',
    )
    recs, probs = _split(list(iter_records(p)))
    assert probs == [] and [r.prompt for r in recs] == ["a", "c"]
    c = _write(
        tmp_path, "d.csv", b'\xef\xbb\xbfid,prompt,completion\r\nq1,"Hello, there","multi\r\nline"\r\nq2,x,y\r\n'
    )
    assert detect_format(c) == "csv"
    recs, probs = _split(list(iter_records(c)))
    assert probs == []
    assert [r.id for r in recs] == ["q1", "q2"]
    assert recs[0].completion == "multi\nline"


def test_parquet_and_forced_format(tmp_path):
    p = tmp_path / "d.parquet"
    pd.DataFrame({"prompt": ["a", "b"], "completion": ["c", "d"]}).to_parquet(p)
    assert detect_format(p) == "parquet"
    recs, _ = _split(list(iter_records(p)))
    assert [r.id for r in recs] == ["L1", "L2"]
    with pytest.raises(InputError, match="'format' parameter of read_rows must be one of"):
        list(iter_records(p, format="xml"))


def test_csv_messages_column_is_json(tmp_path):
    msgs = json.dumps([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    p = tmp_path / "chat.csv"
    pd.DataFrame({"id": ["c1"], "messages": [msgs]}).to_csv(p, index=False)
    (rec,) = list(iter_records(p))
    assert isinstance(rec, ChatRecord) and rec.messages[0].role == "user"


@pytest.mark.parametrize(
    ("content", "check", "line", "field"),
    [
        ('{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": \n', "schema.invalid_json", 2, None),
        ('{"prompt": "a", "completion": "b"}\n{"prompt": "a"}\n', "schema.missing_field", 2, "completion"),
        (
            '{"prompt": "a", "completion": "b"}\n{"prompt": "a", "completion": 5}\n',
            "schema.wrong_type",
            2,
            "completion",
        ),
        ('{"prompt": "a", "completion": "b"}\n[1, 2]\n', "schema.wrong_type", 2, None),
        ('{"prompt": "a", "completion": "b"}\n{"messages": []}\n', "schema.mixed_kinds", 2, None),
        ('{"foo": 1}\n', "schema.unknown_kind", 1, None),
    ],
)
def test_bad_rows_named_by_line_and_field(tmp_path, content, check, line, field):
    p = _write(tmp_path, "bad.jsonl", content)
    _, probs = _split(list(iter_records(p)))
    assert [(q.check, q.line, q.field) for q in probs] == [(check, line, field)]


def test_non_utf8_line_is_a_problem_not_a_crash(tmp_path):
    p = _write(
        tmp_path, "enc.jsonl", b'{"prompt": "a", "completion": "b"}\n{"prompt": "\xff\xfe", "completion": "x"}\n'
    )
    recs, probs = _split(list(iter_records(p)))
    assert len(recs) == 1
    assert probs[0].check == "schema.encoding" and probs[0].line == 2


def test_all_errors_collected_not_only_first(tmp_path):
    lines = ['{"prompt": "ok", "completion": "ok"}'] + ["{broken"] * 30
    p = _write(tmp_path, "many.jsonl", "\n".join(lines) + "\n")
    _, probs = _split(list(iter_records(p)))
    assert len(probs) == 30 and probs[-1].line == 31


def test_missing_path_directory_and_empty_file(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        detect_format(tmp_path / "nope.jsonl")
    with pytest.raises(InputFileError, match="is a directory"):
        detect_format(tmp_path)
    with pytest.raises(InputError, match="empty"):
        detect_format(_write(tmp_path, "e.jsonl", "  \n"))


def test_twenty_megabyte_single_line(tmp_path):
    big = "word " * 4_000_000
    p = _write(tmp_path, "big.jsonl", json.dumps({"prompt": "p", "completion": big}) + "\n")
    (rec,) = list(iter_records(p))
    assert len(rec.completion) == len(big)


def test_ratings_nan_and_empty_scores(tmp_path):
    p = _write(tmp_path, "r.csv", "item_id,rater_id,score\n1,a,3\n1,b,\n2,a,NaN\n2,b,4\n")
    recs, probs = _split(list(iter_records(p)))
    assert all(isinstance(r, RatingRecord) for r in recs) and len(recs) == 2
    assert [(q.check, q.line, q.field) for q in probs] == [
        ("schema.missing_score", 3, "score"),
        ("schema.missing_score", 4, "score"),
    ]
    # a NaN in JSON is read as a float NaN: empty score too
    j = _write(tmp_path, "r.jsonl", '{"item_id": 1, "rater_id": "a", "score": NaN}\n')
    _, probs = _split(list(iter_records(j)))
    assert probs[0].check == "schema.missing_score"
