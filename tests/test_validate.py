"""Each validation check on a positive and a negative case."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from harness.validate import default_checks, validate_file
from harness.validate.pii import _scan, find_pii, luhn_valid


def _jsonl(tmp_path: Path, rows: list[dict], name: str = "d.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def _checks(report, severity: str | None = None) -> list[str]:
    return sorted(f.check for f in report.findings if severity is None or f.severity == severity)


def _sft(i: int, **kw) -> dict:
    row = {"prompt": f"Question number {i} about topic {i * 7}?", "completion": f"Answer {i}: it depends on {i}."}
    row.update(kw)
    return row


def test_clean_file_has_only_the_length_note(tmp_path):
    report = validate_file(_jsonl(tmp_path, [_sft(i) for i in range(20)]))
    assert _checks(report) == ["length.distribution"]
    assert report.n_records == 20 and report.blocking() == []


def test_duplicate_ids(tmp_path):
    report = validate_file(_jsonl(tmp_path, [_sft(1, id="a"), _sft(2, id="b"), _sft(3, id="a")]))
    (f,) = [f for f in report.findings if f.check == "schema.duplicate_id"]
    assert f.ids == ["a"] and f.lines == [1, 3] and f.severity == "error"


def test_empty_and_whitespace_fields(tmp_path):
    report = validate_file(_jsonl(tmp_path, [_sft(1), _sft(2, completion=" \t\n"), _sft(3, prompt="")]))
    empties = [f for f in report.findings if f.check == "schema.empty_field"]
    assert sorted((f.lines[0], f.data["field"]) for f in empties) == [(2, "completion"), (3, "prompt")]


def test_exact_duplicates_after_normalisation(tmp_path):
    rows = [
        _sft(1),
        _sft(2),
        {"prompt": "QUESTION  number 1 about topic 7?", "completion": "answer 1: it depends on 1."},
        # NFKC: full-width letters fold to ASCII
        {"prompt": "Ｑuestion number 2 about topic 14?", "completion": "Answer 2: it depends on 2."},
    ]
    report = validate_file(_jsonl(tmp_path, rows))
    groups = sorted(f.lines for f in report.findings if f.check == "duplicates.exact")
    assert groups == [[1, 3], [2, 4]]
    near_miss = validate_file(_jsonl(tmp_path, [_sft(1), _sft(1, completion="Answer 1: it depends on 2.")], "n.jsonl"))
    assert "duplicates.exact" not in _checks(near_miss)


def test_lengths_outliers_and_truncation(tmp_path):
    rows = [_sft(i) for i in range(30)] + [_sft(99, completion="word " * 2000)]
    report = validate_file(_jsonl(tmp_path, rows), checks=default_checks(max_length=100))
    outliers = [f for f in report.findings if f.check == "length.outlier"]
    assert [f.lines for f in outliers] == [[31]]
    (trunc,) = [f for f in report.findings if f.check == "length.truncated"]
    assert trunc.lines == [31] and trunc.data["unit"] == "words"
    assert report.stats["length"]["max"] > 2000
    none = validate_file(
        _jsonl(tmp_path, [_sft(i) for i in range(30)], "c.jsonl"), checks=default_checks(max_length=100)
    )
    assert not {"length.outlier", "length.truncated"} & set(_checks(none))


def test_lengths_in_tokens_of_a_given_counter(tmp_path):
    rows = [_sft(i) for i in range(5)]
    report = validate_file(_jsonl(tmp_path, rows), checks=default_checks(count=len, unit="chars", max_length=10))
    (trunc,) = [f for f in report.findings if f.check == "length.truncated"]
    assert trunc.data["unit"] == "chars" and len(trunc.ids) == 5


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe@example.com today", "email"),
        ("call +1 (415) 555-0132 now", "phone"),
        ("call 020 7946 0958", "phone"),
        ("card 4111 1111 1111 1111 exp 12/27", "card"),
        ("card 5500-0000-0000-0004", "card"),
        ("server at 203.0.113.42 is down", "ip"),
        ("v6 2001:db8:85a3::8a2e:370:7334 too", "ip"),
    ],
)
def test_pii_found_and_masked(text, kind):
    matches = list(find_pii(text))
    assert [m.kind for m in matches] == [kind]
    digits = "".join(c for c in text[matches[0].start : matches[0].end] if c.isdigit())
    # the masked form never contains the full value
    assert text[matches[0].start : matches[0].end] not in matches[0].masked
    if kind == "card":
        assert matches[0].masked.endswith(digits[-4:]) and digits[:6] not in matches[0].masked


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3.4 of the library",
        "card 4111 1111 1111 1112 fails Luhn",
        "released 2024-03-15",
        "pi is 3.14159",
        "order ORD-48213",
        "a 2-3 day delivery",
        "ratio 16:9",
    ],
)
def test_pii_negatives(text):
    assert [m.kind for m in find_pii(text)] == []


def test_luhn():
    assert luhn_valid("79927398713") and not luhn_valid("79927398710")


def test_pii_masked_in_reports(tmp_path):
    p = _jsonl(tmp_path, [_sft(1, completion="reach me at maria.keller@example.org or 4539 1488 0343 6467")])
    doc = json.dumps(validate_file(p).to_document())
    assert "maria.keller" not in doc and "4539 1488" not in doc
    assert "pii.email" in doc and "pii.card" in doc


def _chat(*roles: str) -> dict:
    return {"messages": [{"role": r, "content": f"turn {i}"} for i, r in enumerate(roles)]}


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (("system", "user", "assistant"), []),
        (("user", "assistant", "user", "assistant"), []),
        (("user", "user", "assistant"), ["chat.alternation"]),
        (("user", "assistant", "user"), ["chat.last_turn"]),
        (("system", "user"), ["chat.no_assistant_turn"]),
        (("user", "robot", "assistant"), ["chat.unknown_role"]),
        (("user", "assistant", "system", "user", "assistant"), ["chat.system_position"]),
    ],
)
def test_chat_structure(tmp_path, roles, expected):
    report = validate_file(_jsonl(tmp_path, [_chat(*roles)]))
    assert [c for c in _checks(report) if c.startswith("chat.")] == expected


def _pref(prompt: str, chosen: str, rejected: str, **kw) -> dict:
    return {"prompt": prompt, "chosen": chosen, "rejected": rejected, **kw}


def test_preference_identical_empty_conflict_cycle(tmp_path):
    rows = [
        _pref("p1", "Good answer.", "good  ANSWER."),  # identical after normalisation
        _pref("p2", "", "something"),  # empty side
        _pref("p3", "A", "B"),
        _pref("p3", "B", "A"),  # contradiction
        _pref("p4", "x", "y"),
        _pref("p4", "y", "z"),
        _pref("p4", "z", "x"),  # cycle
        _pref("p5", "x", "y"),
        _pref("p5", "y", "z"),
        _pref("p5", "x", "z"),  # consistent order
    ]
    report = validate_file(_jsonl(tmp_path, rows))
    by = {f.check: f for f in report.findings}
    assert by["preference.identical"].lines == [1]
    assert by["preference.empty_side"].lines == [2] and by["preference.empty_side"].data["field"] == "chosen"
    assert sorted(by["duplicates.conflicting"].lines) == [3, 4]
    cycles = [f for f in report.findings if f.check == "preference.intransitive"]
    assert [sorted(f.lines) for f in cycles] == [[5, 6, 7]]


def test_preference_length_bias_matches_scipy(tmp_path):
    rows = [_pref(f"p{i}", "long chosen answer " * 3, "short") for i in range(18)]
    rows += [_pref(f"q{i}", "short", "long rejected answer " * 3) for i in range(4)]
    report = validate_file(_jsonl(tmp_path, rows))
    (f,) = [f for f in report.findings if f.check == "preference.length_bias"]
    expected = binomtest(18, 22, 0.5)
    assert f.severity == "warning"
    assert f.data["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
    assert f.data["n"] == 22 and f.data["share_chosen_longer"] == pytest.approx(18 / 22)
    lo, hi = f.data["ci"]
    assert lo < 18 / 22 < hi
    balanced = [_pref(f"p{i}", "long answer " * 3, "short") for i in range(10)]
    balanced += [_pref(f"q{i}", "short", "long answer " * 3) for i in range(10)]
    (g,) = [
        f for f in validate_file(_jsonl(tmp_path, balanced, "b.jsonl")).findings if f.check == "preference.length_bias"
    ]
    assert g.severity == "info" and g.data["p_value"] == pytest.approx(1.0)


def test_schema_errors_capped_and_counted(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"prompt": "a", "completion": "b"}\n' + "{oops\n" * 250)
    report = validate_file(p, max_schema_errors=100)
    assert len([f for f in report.findings if f.check.startswith("schema.")]) == 100
    assert report.truncated["schema.invalid_json"] == 150
    assert report.counts()["error"] == 250


def test_bundled_examples_show_their_planted_problems():
    root = Path(__file__).parent.parent / "examples"
    sft = validate_file(root / "tickets_train.jsonl")
    checks = set(_checks(sft))
    assert {"schema.empty_field", "duplicates.exact", "pii.email", "pii.card", "pii.phone"} <= checks
    pref = validate_file(root / "preferences.jsonl")
    assert {"preference.identical", "duplicates.conflicting", "preference.intransitive"} <= set(_checks(pref))


_PII_PIECES = st.sampled_from(
    ["jane.doe", "@", "example.com", "4111 1111 1111 1111", "5500-0000-0000-0004", "+1 (415) ",
     "555-0132", "203.0.113.42", "2001:db8:85a3::8a2e:370:7334", "::1", ":", ".", "-", " ", "(",
     ")", "version ", "v", "4222222222222", "123 456 789", "1.2.3.4", "fe80:1:2:3::5",
     "0", "7", "12", "٣٤٥", "１２３", "ab", "F", "é", "\n"]
)


@settings(max_examples=400, deadline=None)
@example("card 4222222222222")
@example("call 123 456 789")
@example("at 1.2.3.4")
@example("at fe80::1:2")
@example("to a@b.co")
@example("call ١٢٣ ٤٥٦ ٧٨٩")
@given(st.lists(_PII_PIECES | st.text(max_size=6), max_size=30).map("".join))
def test_pii_gates_change_no_match(text):
    """The cheap gates (an @, enough digits, dots, colons) skip only texts no pattern can match:
    the gated scan equals every pattern run on every text, Unicode digits included."""
    everything = _scan(text, email=True, card=True, ipv4=True, ipv6=True, phone=True)
    assert list(find_pii(text)) == list(everything)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "A ", "b", "b\u00a0c", "B  C", "d", "e"]), max_size=40))
def test_exact_duplicates_groups_as_a_dict_of_digests_would(texts):
    """The digest-sorting grouping gives the groups, members and order of a dict keyed by digest
    (groups by first appearance, members in file order)."""
    from collections import defaultdict

    from harness.records import SFTRecord
    from harness.text import digest, normalize
    from harness.validate.checks import ExactDuplicates

    check, ref = ExactDuplicates(), defaultdict(list)
    for i, t in enumerate(texts):
        record = SFTRecord(id=f"r{i}", line=i + 1, prompt=t, completion="x")
        list(check.observe(record))
        ref[digest(normalize(t) + "\x1f" + "x")].append((f"r{i}", i + 1))
    want = [([m[0] for m in ms], [m[1] for m in ms]) for ms in ref.values() if len(ms) > 1]
    assert [(f.ids, f.lines) for f in check.finish()] == want
    assert dict(check.groups) == dict(ref)
