"""Text checked as text (issue 14, part 4): any Unicode in any text field, and the output is valid JSON.

Lone UTF-16 surrogates and NUL are legal JSON escapes but not text: they are reported as
``schema.invalid_text`` naming line and field, and every document the harness prints or writes
stays valid UTF-8 JSON. The property tests put random Unicode (surrogates included: hypothesis'
``st.characters(codec=None)`` draws from every code point) into every text field of training
records and ratings and run the real CLI entry point.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness.records import iter_records, read_rows, text_problem

ANY_TEXT = st.text(st.characters(codec=None), max_size=12)  # every code point, lone surrogates and NUL too


def mostly(plain: st.SearchStrategy, weight: int = 60) -> st.SearchStrategy:
    """Mostly plain values (so that files often pass), now and then any text at all."""
    return st.one_of(*[plain] * weight, ANY_TEXT)


def cli(capfd: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from harness.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capfd.readouterr()
    return int(info.value.code or 0), out, err


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)  # ASCII escapes: "\ud800" survives as an escape


# ---------------------------------------------------------------------------- unit
@pytest.mark.parametrize(
    ("row", "field", "what"),
    [
        ({"prompt": "a\ud800", "completion": "b"}, "prompt", "surrogate U+D800"),
        ({"prompt": "a", "completion": "\udfff"}, "completion", "surrogate U+DFFF"),
        ({"messages": [{"role": "user", "content": "x\x00"}]}, "messages[0].content", "NUL"),
        ({"prompt": "a", "completion": "b", "k\ud801": 1}, "k\ud801", "field name"),
    ],
)
def test_text_problem_names_the_field(tmp_path, row, field, what):
    p = tmp_path / "d.jsonl"
    p.write_text(_jsonl([{"prompt": "fine", "completion": "ok"}, row]), encoding="utf-8")
    problems = [r.problem for r in read_rows(p) if r.problem is not None]
    assert len(problems) == 1
    assert (problems[0].check, problems[0].line, problems[0].field) == ("schema.invalid_text", 2, field)
    assert what in problems[0].message


def test_valid_pairs_and_astral_text_pass(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(_jsonl([{"prompt": "😀 é \u2028 \ufeff", "completion": "\U0010fffd"}]), encoding="utf-8")
    assert [r.id for r in iter_records(p)] == ["L1"]
    assert text_problem("\ud83d\ude00") is not None  # two lone halves in a Python str are still lone


def test_nul_in_csv_names_line_and_field(tmp_path, capfd):
    p = tmp_path / "r.csv"
    p.write_bytes(b"item_id,rater_id,score\n" + b"".join(b"i%d,a,1\ni%d,b,1\n" % (k, k) for k in range(400))
                  + b"i9,b\x00x,2\n")  # fmt: skip  (past the first 4 KiB: not the binary-file check)
    code, _out, err = cli(capfd, "agreement", str(p), "--level", "nominal", "--bootstrap", "0")
    assert code == 2
    assert f"{p}:802" in err and "field 'rater_id'" in err and "NUL" in err


def test_validate_json_and_out_with_surrogates(tmp_path, capfd):
    p = tmp_path / "d.jsonl"
    p.write_text(_jsonl([{"prompt": "a\ud800", "completion": "b"}, {"prompt": "q", "completion": "r"}]))
    code, out, err = cli(capfd, "validate", str(p), "--json", "--out", str(tmp_path / "o"))
    assert code == 1, err  # an error finding
    out.encode("utf-8")
    doc = json.loads(out)
    assert [f["check"] for f in doc["findings"] if f["severity"] == "error"] == ["schema.invalid_text"]
    json.loads((tmp_path / "o" / "validation.json").read_bytes().decode("utf-8"))
    (tmp_path / "o" / "validation.md").read_bytes().decode("utf-8")


# ---------------------------------------------------------------------------- properties
def _check_run(code: int, out: str, err: str, outdir: Path) -> None:
    event(f"exit {code}")  # --hypothesis-show-statistics shows how the examples spread
    assert code in (0, 1, 2, 3), err
    assert "Traceback" not in err and "internal error" not in err, err
    if code != 2:
        json.loads(out.encode("utf-8").decode("utf-8"))  # stdout is valid UTF-8 JSON
        for f in outdir.glob("*.json"):
            json.loads(f.read_bytes().decode("utf-8"))
        for f in outdir.glob("*.md"):
            f.read_bytes().decode("utf-8")
    else:
        assert err.startswith("error:"), err


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(
        st.one_of(
            st.fixed_dictionaries({"id": ANY_TEXT, "prompt": ANY_TEXT, "completion": ANY_TEXT}),
            st.fixed_dictionaries({"prompt": ANY_TEXT, "chosen": ANY_TEXT, "rejected": ANY_TEXT}),
            st.fixed_dictionaries(
                {"messages": st.lists(st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant"]),
                                                              "content": ANY_TEXT}), min_size=1, max_size=3)}
            ),
        ),
        min_size=1,
        max_size=6,
    ),
    ascii_escapes=st.booleans(),
)
def test_validate_any_unicode_gives_valid_json(capfd, rows, ascii_escapes):
    d = Path(tempfile.mkdtemp())
    p = d / "train.jsonl"
    text = "".join(json.dumps(r, ensure_ascii=ascii_escapes) + "\n" for r in rows)
    p.write_bytes(text.encode("utf-8", "surrogatepass"))  # raw surrogate bytes too: not valid UTF-8
    code, out, err = cli(capfd, "validate", str(p), "--json", "--out", str(d / "out"))
    _check_run(code, out, err, d / "out")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ratings=st.lists(
        st.fixed_dictionaries({"item_id": mostly(st.sampled_from(["i1", "i2", "i3"])),
                               "rater_id": mostly(st.sampled_from(["a", "b", "c"])),
                               "score": mostly(st.integers(1, 3)), "criterion": mostly(st.just("c"))}),
        min_size=1, max_size=12, unique_by=lambda r: (r["item_id"], r["rater_id"]),
    ),
    as_csv=st.booleans(),
)
def test_agreement_any_unicode_gives_valid_json(capfd, ratings, as_csv):
    d = Path(tempfile.mkdtemp())
    if as_csv:
        import csv
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["item_id", "rater_id", "score", "criterion"])
        w.writeheader()
        w.writerows(ratings)
        p = d / "r.csv"
        p.write_bytes(buf.getvalue().encode("utf-8", "surrogatepass"))
    else:
        p = d / "r.jsonl"
        p.write_text(_jsonl(ratings), encoding="utf-8")
    args = ["--level", "nominal", "--bootstrap", "0", "--by", "criterion", "--json", "--out", str(d / "out")]
    code, out, err = cli(capfd, "agreement", str(p), *args)
    _check_run(code, out, err, d / "out")
