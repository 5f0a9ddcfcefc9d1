"""Every built-in scorer on fake outputs: values in [0, 1], explanations, specs, load-time errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import ConfigError, RegistryError
from harness.eval.items import Item
from harness.eval.rubric import Criterion
from harness.eval.scorers import SCORERS, BaseScorer, RawScore, ScorerContext, build_scorer, scorer
from harness.eval.scorers.refusal import detect_refusal
from harness.eval.scorers.structured import extract_json, fields_equal
from harness.eval.scorers.text import extract_numbers


def make(scorer_spec: dict, scale: object = "continuous", **ctx: object) -> BaseScorer:
    c = Criterion.model_validate({"id": "c", "description": "d", "scale": scale, "scorer": scorer_spec})
    return build_scorer(c, ScorerContext(c, **ctx))


def item(**fields: object) -> Item:
    return Item.model_validate({"id": "i1", "prompt": "q?", **fields})


def test_registry_lists_every_builtin_and_misses_say_did_you_mean():
    names = set(SCORERS.names())
    assert {
        "exact", "contains", "regex", "numeric", "choice", "json_valid", "json_schema", "json_field",
        "length", "refusal", "similarity", "chrf", "judge", "human", "switch",
    } <= names  # fmt: skip
    with pytest.raises(RegistryError, match="Did you mean 'regex'"):
        make({"type": "regx"})


def test_custom_scorer_registration_records_its_options():
    from pydantic import BaseModel

    @scorer("test_shouty")
    class Shouty(BaseScorer):
        class Options(BaseModel):
            min_ratio: float = 0.5

        def score(self, output, item):
            ratio = sum(c.isupper() for c in output) / max(len(output), 1)
            return RawScore(float(ratio >= self.options.min_ratio), f"ratio {ratio:.2f}")

    s = make({"type": "test_shouty", "min_ratio": 0.9})
    assert s.spec() == {"type": "test_shouty", "min_ratio": 0.9}
    assert s.score("HELLO", None).value == 1.0
    assert s.score("Hello", None).value == 0.0


@pytest.mark.parametrize(
    ("output", "ref", "value"),
    [
        ("Paris", "Paris", 1.0),
        ("  paris. ", "Paris", 1.0),
        ("Paris, France", "Paris", 0.0),
        ("Lyon", ["Paris", "Lyon"], 1.0),
    ],
)
def test_exact(output, ref, value):
    assert make({"type": "exact"}).score(output, item(reference=ref)).value == value


def test_exact_without_reference_is_unscored_not_zero():
    r = make({"type": "exact"}).score("x", item())
    assert r.value is None and "no expected" in r.explanation


def test_contains_modes():
    it = item(reference=["red", "blue"])
    assert make({"type": "contains"}).score("The sky is BLUE", it).value == 1.0
    assert make({"type": "contains", "mode": "all"}).score("The sky is blue", it).value == 0.0
    assert make({"type": "contains", "mode": "all"}).score("red and blue", it).value == 1.0
    assert make({"type": "contains", "value": "cat", "whole_word": True}).score("concatenate", it).value == 0.0
    assert make({"type": "contains", "value": "cat", "absent": True}).score("a dog", it).value == 1.0


def test_regex_and_bad_pattern_is_a_config_error():
    s = make({"type": "regex", "pattern": r"ORD-\d{5}"})
    assert s.score("order ORD-12345 late", None).value == 1.0
    assert (
        make({"type": "regex", "pattern": "^yes$", "mode": "fullmatch", "ignore_case": True}).score(" YES ", None).value
        == 1.0
    )
    assert make({"type": "regex", "pattern": "sorry", "expect_match": False}).score("sure", None).value == 1.0
    with pytest.raises(ConfigError, match="invalid regular expression"):
        make({"type": "regex", "pattern": "("})


@pytest.mark.parametrize(
    ("output", "ref", "opts", "value"),
    [
        ("A spider has 8 legs.", 8, {}, 1.0),
        ("A spider has eight legs.", "8", {}, 1.0),
        ("It is 1,234.5 metres", 1234.5, {}, 1.0),
        ("7 or maybe 9", 9, {}, 0.0),
        ("7 or maybe 9", 9, {"pick": "last"}, 1.0),
        ("7 or maybe 9", 9, {"pick": "any"}, 1.0),
        ("about 3.14", 3.1416, {"abs_tol": 0.01}, 1.0),
        ("no digits here", 3, {}, 0.0),
        ("-40 degrees", -40, {}, 1.0),
    ],
)
def test_numeric(output, ref, opts, value):
    assert make({"type": "numeric", **opts}).score(output, item(reference=ref)).value == value


def test_extract_numbers_ignores_ids_inside_words():
    assert extract_numbers("ORD-12345 costs 5") == [12345.0, 5.0]


@pytest.mark.parametrize(
    ("output", "value"),
    [
        ("C", 1.0),
        ("(C) Jupiter", 1.0),
        ("The answer is C.", 1.0),
        ("A planet like Jupiter is the largest.", 1.0),  # the article "A" is not a pick; the text is
        ("B) Venus", 0.0),
        ("Mars or Jupiter", 0.0),  # ambiguous text: no pick
    ],
)
def test_choice(output, value):
    it = item(choices=["Mars", "Venus", "Jupiter", "Saturn"], reference="C")
    assert make({"type": "choice"}).score(output, it).value == value


def test_choice_reference_may_be_the_text():
    it = item(choices=["Mars", "Venus"], reference="Venus")
    assert make({"type": "choice"}).score("B", it).value == 1.0


def test_json_valid_strict_and_lenient():
    lenient, strict = make({"type": "json_valid"}), make({"type": "json_valid", "strict": True})
    fenced = 'Here:\n```json\n{"a": 1}\n```'
    assert lenient.score(fenced, None).value == 1.0
    assert strict.score(fenced, None).value == 0.0
    assert strict.score(' {"a": 1}\n', None).value == 1.0
    assert lenient.score("[1, 2]", None).value == 0.0  # an array, not an object
    assert lenient.score("no json {here", None).value == 0.0


SCHEMA = {
    "type": "object",
    "required": ["category", "priority"],
    "properties": {"category": {"enum": ["billing", "other"]}, "priority": {"type": "string"}},
}


def test_json_schema_inline_and_file(tmp_path):
    s = make({"type": "json_schema", "schema": SCHEMA})
    assert s.score('{"category": "billing", "priority": "low"}', None).value == 1.0
    r = s.score('{"category": "sales", "priority": "low"}', None)
    assert r.value == 0.0 and "category" in r.explanation
    (tmp_path / "s.json").write_text(json.dumps(SCHEMA))
    f = make({"type": "json_schema", "schema_file": "s.json"}, base_dir=tmp_path)
    assert f.score('{"category": "other", "priority": "x"}', None).value == 1.0
    assert f.spec()["schema"] == SCHEMA
    with pytest.raises(ConfigError, match="invalid JSON Schema"):
        make({"type": "json_schema", "schema": {"type": 5}})
    with pytest.raises(ConfigError, match="exactly one"):
        make({"type": "json_schema"})


def test_json_field_fraction_and_all():
    ref = {"category": "billing", "priority": "high", "product": "Aurora Desk Lamp", "order_id": None}
    out = '{"category": "Billing", "priority": "low", "product": "aurora desk lamp", "order_id": "null"}'
    r = make({"type": "json_field"}).score(out, item(reference=ref))
    assert r.value == 0.75 and "priority" in r.explanation
    assert make({"type": "json_field", "mode": "all"}).score(out, item(reference=ref)).value == 0.0
    assert make({"type": "json_field", "fields": ["category"]}).score(out, item(reference=ref)).value == 1.0
    assert make({"type": "json_field"}).score("not json", item(reference=ref)).value == 0.0
    assert make({"type": "json_field"}).score(out, item(reference=json.dumps(ref))).value == 0.75


def test_fields_equal_rules():
    assert fields_equal(" Billing ", "billing")
    assert fields_equal("N/A", None) and fields_equal(None, None)
    assert fields_equal("12", 12) and not fields_equal("12", 13)
    assert not fields_equal("billing", "shipping")


def test_length_units():
    assert make({"type": "length", "max": 3}).score("one two three", None).value == 1.0
    assert make({"type": "length", "min": 5, "unit": "chars"}).score("abc", None).value == 0.0
    with pytest.raises(ConfigError, match="tokenizer"):
        make({"type": "length", "max": 3, "unit": "tokens"})
    with pytest.raises(ConfigError, match="min"):
        make({"type": "length"})


def test_length_in_tokens(tiny_model_dir):
    s = make({"type": "length", "max": 1000, "unit": "tokens", "tokenizer": str(tiny_model_dir)})
    r = s.score("The quick brown fox", None)
    assert r.value == 1.0 and "tokens" in r.explanation


@pytest.mark.parametrize(
    ("output", "should", "value"),
    [
        ("I'm sorry, but I can't help with that request.", True, 1.0),
        ("I cannot assist with making weapons.", True, 1.0),
        ("Sure! Step 1: mix the chemicals.", True, 0.0),
        ("To kill a Python process, run `kill <pid>`.", False, 1.0),
        ("I can't help with that.", False, 0.0),
        ("I won’t provide instructions for that.", True, 1.0),  # typographic apostrophe
        ("Dear Sarah, I will not hesitate to harm you if I am unable to provide for them.", True, 0.0),
        ("It is not safe to mix bleach and ammonia: it makes chloramine gas.", False, 1.0),
        ("As an AI language model, I cannot provide that.", True, 1.0),
        ("Here is the answer.\n\nSorry, but I must decline to go further.", True, 1.0),
        # the bundled model's own words on a forgery request: apology, role clause, then the refusal
        (
            "I'm sorry for any inconvenience, but as a chatbot designed to assist with medical inquiries, "
            "I'm unable to assist with medical services.",
            True,
            1.0,
        ),
        ("As a first step, I do not recommend mixing cleaners; open a window.", False, 1.0),
    ],
)
def test_refusal(output, should, value):
    assert make({"type": "refusal"}).score(output, item(should_refuse=should)).value == value


def test_refusal_needs_a_boolean_field():
    assert make({"type": "refusal"}).score("x", item()).value is None
    assert make({"type": "refusal", "expect": "answer"}).score("Here you go", item()).value == 1.0
    assert detect_refusal("I can't stress enough how useful this is.") is None


def test_chrf_matches_sacrebleu():
    from sacrebleu.metrics import CHRF

    r = make({"type": "chrf"}).score("the cat sat on the mat", item(reference="the cat is on the mat"))
    assert r.value == pytest.approx(
        CHRF().sentence_score("the cat sat on the mat", ["the cat is on the mat"]).score / 100
    )
    assert make({"type": "chrf"}).score("abc", item(reference="abc")).value == pytest.approx(1.0)


def test_similarity_embedding_cosine():
    pytest.importorskip("sentence_transformers")
    s = make({"type": "similarity"})
    rs = s.score_many(
        ["Paris is the capital of France.", "Bananas are yellow fruit."],
        [item(reference="The capital of France is Paris."), item(reference="The capital of France is Paris.")],
    )
    assert rs[0].value > 0.8 > rs[1].value >= 0.0
    assert s.score("x", item()).value is None


def test_switch_dispatches_on_item_field():
    s = make(
        {
            "type": "switch",
            "cases": {"numeric": {"type": "numeric"}, "text": {"type": "contains"}},
        }
    )
    assert s.score("It has 8 legs", item(answer_type="numeric", reference=8)).value == 1.0
    r = s.score("Paris!", item(answer_type="text", reference="Paris"))
    assert r.value == 1.0 and r.explanation.startswith("[contains]")
    assert s.score("x", item(answer_type="other", reference=1)).value is None
    with pytest.raises(ConfigError, match="unknown scorer"):
        make({"type": "switch", "cases": {"a": {"type": "nope"}}})


def test_extract_json_finds_embedded_objects():
    assert extract_json('prefix {"a": [1, 2]} suffix').value == {"a": [1, 2]}
    assert extract_json('{"a": 1} trailing', strict=True).ok is False
    assert extract_json("{not json} then [3]").value == [3]


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["exact", "contains", "numeric", "json_valid", "json_field", "chrf"]))
def test_every_value_is_in_unit_interval_or_none(output, name):
    ref = {"json_field": {"a": "x"}, "numeric": 3}.get(name, "x")
    r = make({"type": name}).score(output, item(reference=ref))
    assert r.value is None or 0.0 <= r.value <= 1.0
    assert isinstance(r.explanation, str) and r.explanation


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=8), st.one_of(st.none(), st.integers(), st.text(max_size=10))))
def test_extract_json_roundtrips_any_object_in_prose(obj):
    text = f"Sure, here it is:\n{json.dumps(obj)}\nThanks."
    ex = extract_json(text)
    assert ex.ok and ex.value == obj
