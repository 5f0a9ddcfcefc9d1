"""Leakage checks as users meet them: holdout loading, scan_leakage, validate_file, reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, InputError, InputFileError, SchemaError
from harness.leakage import embed, load_holdout, scan_leakage
from harness.leakage.embed import embed_available, resolve_paraphrase
from harness.report.validation import marked, render_markdown
from harness.validate import validate_file

Q1 = "Which planet in the solar system has the longest day when it is counted in Earth hours?"
Q2 = "Explain why the sky looks blue at noon but red and orange at sunset on a clear day."
REF2 = "Air molecules scatter short blue wavelengths far more than long red ones, so the path length matters."


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def holdout(tmp_path: Path) -> Path:
    return _jsonl(
        tmp_path / "holdout.jsonl",
        [
            {"id": "q1", "prompt": Q1, "reference": "Venus"},
            {"id": "q2", "prompt": Q2, "reference": REF2},
            {
                "id": "q3",
                "messages": [{"role": "user", "content": "List three prime numbers larger than one hundred."}],
            },
        ],
    )


# ---------------------------------------------------------------------------- holdout loading
def test_load_holdout_jsonl_and_suite_folder(tmp_path, holdout):
    items = load_holdout(holdout)
    assert [i.id for i in items] == ["q1", "q2", "q3"]
    assert set(items[1].texts) == {"prompt", "reference"} and set(items[2].texts) == {"messages[0]"}
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "data").mkdir()
    (suite / "data" / "qs.jsonl").write_text(holdout.read_text())
    (suite / "suite.yaml").write_text("name: astro\nitems: data/qs.jsonl\n")
    assert [i.id for i in load_holdout(suite)] == ["q1", "q2", "q3"]
    assert load_holdout(suite)[0].source == suite / "data" / "qs.jsonl"
    default = tmp_path / "default"
    default.mkdir()
    (default / "items.jsonl").write_text('{"prompt": "one two three four five six"}\n')
    (default / "suite.yaml").write_text("name: d\n")
    assert [i.id for i in load_holdout(default)] == ["L1"]


@pytest.mark.parametrize(
    ("content", "error", "where"),
    [
        ('{"id": "a", "prompt": "x y z"}\n{"id": "a", "prompt": "u v w"}\n', SchemaError, ":2, field 'id'"),
        ('{"id": "a", "answer": "x"}\n', SchemaError, ":1, field 'prompt'"),
        ('{"id": "a", "prompt": 3}\n', SchemaError, ":1, field 'prompt'"),
        ('{"id": "a", "prompt": "x"}\n{oops\n', SchemaError, ":2"),
        ('{"id": "a", "messages": [{"role": "user"}]}\n', SchemaError, "field 'messages[0]'"),
    ],
)
def test_bad_holdout_rows_name_file_line_and_field(tmp_path, content, error, where):
    p = tmp_path / "h.jsonl"
    p.write_text(content)
    with pytest.raises(error) as exc:
        load_holdout(p)
    assert str(p) in str(exc.value) and where in str(exc.value)


def test_bad_suite_folders(tmp_path):
    with pytest.raises(InputFileError, match="no such holdout"):
        load_holdout(tmp_path / "nope")
    with pytest.raises(InputFileError, match=r"no suite\.yaml"):
        load_holdout(tmp_path)
    (tmp_path / "suite.yaml").write_text("items: [1, 2]\n")
    with pytest.raises(ConfigError, match="field 'items'"):
        load_holdout(tmp_path)
    (tmp_path / "suite.yaml").write_text("items: missing.jsonl\n")
    with pytest.raises(InputFileError, match=r"missing\.jsonl"):
        load_holdout(tmp_path)
    (tmp_path / "suite.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_holdout(tmp_path)


# ---------------------------------------------------------------------------- scanning
def test_every_text_field_on_both_sides(tmp_path, holdout):
    chat = _jsonl(
        tmp_path / "chat.jsonl",
        [
            {"id": "c1", "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": Q1.upper()}]},
            {
                "id": "c2",
                "messages": [
                    {"role": "user", "content": "What is two plus two?"},
                    {"role": "assistant", "content": "Four."},
                ],
            },
        ],
    )
    pref = _jsonl(
        tmp_path / "pref.jsonl",
        [
            {
                "id": "p1",
                "prompt": "Tell me about light.",
                "chosen": "Sure. " + REF2,
                "rejected": "No idea at all, sorry friend.",
            },
            {
                "id": "p2",
                "prompt": "Numbers?",
                "chosen": "Some numbers.",
                "rejected": "list three prime numbers larger than one hundred",
            },
        ],
    )
    r = scan_leakage(chat, [holdout], paraphrase=False)
    assert [(f.ids, f.holdout_ids, f.data["field"], f.data["holdout_field"]) for f in r.findings] == [
        (["c1"], ["q1"], "messages[1]", "prompt")
    ]
    r = scan_leakage(pref, [holdout], paraphrase=False)
    got = {(f.ids[0], f.holdout_ids[0], f.data["field"], f.data["holdout_field"], f.check) for f in r.findings}
    assert got == {
        ("p1", "q2", "chosen", "reference", "leakage.ngram"),
        ("p2", "q3", "rejected", "messages[0]", "leakage.exact"),
    }
    assert r.leaked_holdout_ids == {str(holdout): {"q2", "q3"}}


def test_short_answers_are_not_leaks_but_short_questions_are(tmp_path, holdout):
    train = _jsonl(
        tmp_path / "t.jsonl",
        [
            {"prompt": "Hottest planet?", "completion": "Venus"},  # the reference alone: too short to mean anything
            {"prompt": "List three prime numbers larger than one hundred!", "completion": "101, 103, 107"},
        ],
    )
    r = scan_leakage(train, [holdout], paraphrase=False)
    assert [(f.ids, f.holdout_ids, f.check) for f in r.findings] == [(["L2"], ["q3"], "leakage.exact")]
    assert r.n_examples == 2 and r.n_texts == 4


def test_leaked_ids_are_keyed_by_each_holdout_as_given(tmp_path, holdout):
    other = _jsonl(
        tmp_path / "other.jsonl", [{"id": "z", "prompt": "A question nobody copied into the training data."}]
    )
    train = _jsonl(tmp_path / "t.jsonl", [{"prompt": Q2, "completion": "because"}])
    r = scan_leakage(train, [holdout, str(other)], paraphrase=False)
    assert r.leaked_holdout_ids == {str(holdout): {"q2"}, str(other): set()}
    assert r.all_leaked_ids() == {(str(holdout), "q2")}
    assert r.holdouts == {str(holdout): 3, str(other): 1}


def test_scan_is_lenient_with_rows_that_fail_the_schema(tmp_path, holdout):
    train = tmp_path / "t.jsonl"
    train.write_text(json.dumps({"prompt": Q1}) + "\n{broken\n" + json.dumps({"completion": Q2, "extra": 1}) + "\n")
    r = scan_leakage(train, [holdout], paraphrase=False)
    assert sorted(f.holdout_ids[0] for f in r.findings) == ["q1", "q2"]
    report = validate_file(train, holdouts=[holdout], paraphrase=False)
    assert "schema.missing_field" in {f.check for f in report.findings}


def test_workers_give_the_same_findings(tmp_path, holdout):
    rows = [
        {"id": f"r{i}", "prompt": f"filler question number {i} about nothing", "completion": "ok then"}
        for i in range(300)
    ]
    rows[17]["completion"] = Q2
    rows[250]["prompt"] = Q1.replace("longest", "Longest,")
    rows[251] = dict(rows[250], id="r251")
    train = _jsonl(tmp_path / "t.jsonl", rows)
    one = validate_file(train, holdouts=[holdout], paraphrase=False, workers=1, chunk_size=32)
    two = validate_file(train, holdouts=[holdout], paraphrase=False, workers=2, chunk_size=32)
    key = [(f.check, f.ids, f.holdout_ids, f.message) for f in one.findings]
    assert key == [(f.check, f.ids, f.holdout_ids, f.message) for f in two.findings]
    assert [f.ids for f in one.findings if f.check.startswith("leakage.") and f.holdout_ids] == [
        ["r17"],
        ["r250"],
        ["r251"],
    ]
    assert [f.ids for f in one.findings if f.check == "duplicates.exact"] == [["r250", "r251"]]


# ---------------------------------------------------------------------------- within-train near duplicates
def test_within_train_near_duplicates(tmp_path):
    base = (
        "The scheduler keeps a queue of pending tasks and wakes the oldest one whenever a worker becomes free, "
        "so long jobs never starve short ones and every task eventually runs to completion."
    )
    words = base.split()
    near = " ".join([*words[:10], "quickly", *words[11:]])
    rows = [
        {"id": "a", "prompt": "Describe it.", "completion": base},
        {"id": "b", "prompt": "Describe it.", "completion": near},
        {"id": "c", "prompt": "DESCRIBE  it.", "completion": base.upper()},  # exact duplicate of a
        {"id": "d", "prompt": "Describe it.", "completion": "A completely different answer about cooking rice."},
    ]
    rows += [
        {"id": f"x{i}", "prompt": f"Unrelated prompt {i} on topic {i * 13}", "completion": f"Answer {i}."}
        for i in range(30)
    ]
    report = validate_file(_jsonl(tmp_path / "t.jsonl", rows))
    (near_f,) = [f for f in report.findings if f.check == "duplicates.near"]
    assert set(near_f.ids) == {"a", "b", "c"} and near_f.severity == "warning"
    assert near_f.data["similarity_min"] >= 0.8
    (exact_f,) = [f for f in report.findings if f.check == "duplicates.exact"]
    assert exact_f.ids == ["a", "c"]
    assert "duplicates.near" in report.checks


# ---------------------------------------------------------------------------- paraphrase on / off
def test_paraphrase_off_says_why_when_the_extra_is_missing(tmp_path, holdout, monkeypatch):
    monkeypatch.setattr(embed, "model_dir", lambda: None)
    on, status = resolve_paraphrase(None)
    assert not on and "'embed'" in status and "pip install" in status
    with pytest.raises(InputError, match="extra 'embed'"):
        resolve_paraphrase(True)
    train = _jsonl(tmp_path / "t.jsonl", [{"prompt": Q1, "completion": "Venus"}])
    report = validate_file(train, holdouts=[holdout])
    assert "extra 'embed'" in report.stats["leakage"]["methods"]["paraphrase"]
    (note,) = [f for f in report.findings if f.check == "leakage.summary"]
    assert "paraphrase: off" in note.message and "extra 'embed'" in note.message
    assert "extra 'embed'" in render_markdown(report)
    with pytest.raises(InputError, match="extra 'embed'"):
        validate_file(train, holdouts=[holdout], paraphrase=True)


def test_paraphrase_turned_off_explicitly(tmp_path, holdout):
    train = _jsonl(tmp_path / "t.jsonl", [{"prompt": Q1, "completion": "Venus"}])
    report = validate_file(train, holdouts=[holdout], paraphrase=False)
    assert report.stats["leakage"]["methods"]["paraphrase"].startswith("off (turned off")


@pytest.mark.skipif(not embed_available(), reason="the 'embed' extra is not installed")
def test_embeddings_match_sentence_transformers_and_catch_a_paraphrase(tmp_path, holdout):
    from sentence_transformers import SentenceTransformer

    from harness.leakage.embed import Embedder, model_dir

    texts = [Q1, Q2, "What planet has the longest day, measured in hours on Earth?", "I like green tea."]
    ours = Embedder().encode(texts)
    ref = SentenceTransformer(str(model_dir()), device="cpu").encode(texts, normalize_embeddings=True)
    assert (ours * ref).sum(axis=1).min() > 0.9999
    assert float(ours[0] @ ours[2]) > 0.8 > float(ours[0] @ ours[3])
    train = _jsonl(tmp_path / "t.jsonl", [{"prompt": texts[2], "completion": "Venus, by far."}])
    r = scan_leakage(train, [holdout])
    assert [(f.check, f.holdout_ids) for f in r.findings] == [("leakage.paraphrase", ["q1"])]
    assert r.findings[0].data["evidence"]["cosine"] >= 0.8


# ---------------------------------------------------------------------------- reports
def test_markdown_shows_pairs_side_by_side_with_the_span_marked(tmp_path, holdout):
    train = _jsonl(
        tmp_path / "t.jsonl", [{"id": "t9", "prompt": "As asked before: " + Q2 + " Thanks!", "completion": "ok"}]
    )
    report = validate_file(train, holdouts=[holdout], paraphrase=False)
    md = render_markdown(report)
    assert "### Leaked pairs" in md
    row = next(line for line in md.splitlines() if line.startswith("| `t9`"))
    train_cell, holdout_cell = row.split(" | ")[0], row.split(" | ")[1]
    assert "As asked before: **Explain why the sky" in train_cell and "sunset on a clear day**. Thanks!" in train_cell
    assert holdout_cell.startswith("`q2` prompt: **Explain why the sky")


def test_marked_escapes_markdown():
    cell = marked({"text": "a | b *c* [d](e) `f`", "mark": [4, 9]})
    assert cell == "a \\| **b \\*c\\*** \\[d\\](e) \\`f\\`"
