"""Suites and rubrics validate at load time; every error names the file and the key or line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.errors import ConfigError, HarnessError, InputFileError, SchemaError
from harness.eval.suite import load_rubric, load_suite

RUBRIC = """name: r
criteria:
  - id: ok
    description: correct
    scale: binary
    scorer: {type: exact}
  - id: quality
    weight: 2
    scale:
      levels: {1: bad, 3: fair, 5: good}
    scorer: {type: human}
"""


def write_suite(root: Path, suite_yaml: str, items: list[dict] | str, rubric: str = RUBRIC) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "rubric.yaml").write_text(rubric)
    (root / "suite.yaml").write_text(suite_yaml)
    text = items if isinstance(items, str) else "".join(json.dumps(i) + "\n" for i in items)
    (root / "items.jsonl").write_text(text)
    return root


ITEMS = [{"id": "a", "prompt": "2+2?", "reference": "4"}, {"id": "b", "messages": [{"role": "user", "content": "hi"}]}]


def test_suite_loads_with_relative_paths_gate_and_template(tmp_path):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "ratings.csv").write_text("item_id,rater_id,score\na,r1,3\n")
    root = write_suite(
        tmp_path / "s",
        "name: s\nrubric: rubric.yaml\nprompt_template: 'Q: {prompt}'\nhuman_ratings: ratings.csv\n"
        "generation: {max_new_tokens: 16}\n"
        "gate:\n  confidence: 0.9\n  rules:\n    - {criterion: ok, require: no_regression, margin: 0.05}\n"
        "    - {criterion: overall, require: improvement}\n",
        ITEMS,
    )
    s = load_suite(root)
    assert [i.id for i in s.items] == ["a", "b"]
    assert s.request_prompt(s.items[0]) == "Q: 2+2?"
    assert s.request_prompt(s.items[1]) == [{"role": "user", "content": "hi"}]
    assert s.gate.confidence == 0.9 and s.gate.rules[0].margin == 0.05
    assert s.generation.max_new_tokens == 16 and s.generation.temperature == 0.0
    rec = s.to_record()
    assert rec["rubric"]["criteria"][1]["scale"]["levels"][0]["anchor"] == "bad"
    assert rec["gate"]["rules"][1]["criterion"] == "overall"
    assert rec["human_ratings"].endswith("ratings.csv") and rec["human_ratings_file"]["hash"]
    assert len(rec["items_hash"]) == 32


def test_gate_as_a_plain_list_defaults(tmp_path):
    root = write_suite(
        tmp_path,
        "name: s\nrubric: rubric.yaml\ngate:\n  - {criterion: ok, require: no_new_failures}\n"
        "  - {criterion: ok, require: at_least, value: 0.5}\n",
        ITEMS,
    )
    s = load_suite(root / "suite.yaml")
    assert s.gate.confidence == 0.95
    assert s.gate.rules[0].max == 0 and s.gate.rules[1].value == 0.5


@pytest.mark.parametrize(
    ("suite_yaml", "field", "message"),
    [
        ("name: s\nrubric: missing.yaml\n", "rubric", "does not exist"),
        ("name: s\nrubric: rubric.yaml\ngate: [{criterion: okk, require: improvement}]\n", "gate.rules[0].criterion",
         "Did you mean 'ok'"),
        ("name: s\nrubric: rubric.yaml\ngate: [{criterion: ok, require: better}]\n", "gate.rules[0].require", ""),
        ("name: s\nrubric: rubric.yaml\ngate: [{criterion: ok, require: at_least}]\n", "gate.rules[0]",
         "needs 'value'"),
        ("name: s\nrubric: rubric.yaml\ngenerationn: {}\n", "generationn", "Extra inputs"),
        ("name: s\nrubric: rubric.yaml\ngeneration: {max_new_tokens: 0}\n", "generation.max_new_tokens", ""),
        ("name: s\nrubric: rubric.yaml\nprompt_template: 'no placeholder'\n", None, "{prompt}"),
        ("rubric: rubric.yaml\n", "name", "Field required"),
    ],
)  # fmt: skip
def test_suite_errors_name_file_and_key(tmp_path, suite_yaml, field, message):
    root = write_suite(tmp_path, suite_yaml, ITEMS)
    with pytest.raises(ConfigError) as exc:
        load_suite(root)
    assert exc.value.file == str(root / "suite.yaml")
    if field:
        assert exc.value.field == field
    assert message in str(exc.value)


def test_items_errors_name_file_line_field(tmp_path):
    bad = '{"id": "a", "prompt": "x"}\n{"id": "b"}\n'
    with pytest.raises(SchemaError) as exc:
        load_suite(write_suite(tmp_path / "1", "name: s\nrubric: rubric.yaml\n", bad))
    assert exc.value.line == 2 and "exactly one of 'prompt'" in str(exc.value)
    dup = '{"id": "a", "prompt": "x"}\n{"id": "a", "prompt": "y"}\n'
    with pytest.raises(SchemaError, match="used twice") as exc:
        load_suite(write_suite(tmp_path / "2", "name: s\nrubric: rubric.yaml\n", dup))
    assert exc.value.line == 2 and exc.value.field == "id"
    broken = '{"id": "a", "prompt": "x"}\n{"id": \n'
    with pytest.raises(SchemaError) as exc:
        load_suite(write_suite(tmp_path / "3", "name: s\nrubric: rubric.yaml\n", broken))
    assert exc.value.line == 2
    badmsg = '{"id": "a", "messages": [{"role": "robot", "content": "x"}]}\n'
    with pytest.raises(SchemaError, match="role"):
        load_suite(write_suite(tmp_path / "4", "name: s\nrubric: rubric.yaml\n", badmsg))


def test_missing_suite_folder_and_yaml_syntax(tmp_path):
    with pytest.raises(InputFileError):
        load_suite(tmp_path / "nope")
    (tmp_path / "e").mkdir()
    with pytest.raises(InputFileError, match=r"no suite\.yaml"):
        load_suite(tmp_path / "e")
    root = write_suite(tmp_path / "y", "name: [unclosed\n", ITEMS)
    with pytest.raises(ConfigError, match="invalid YAML") as exc:
        load_suite(root)
    assert exc.value.line is not None


@pytest.mark.parametrize(
    ("rubric", "field", "message"),
    [
        ("name: r\ncriteria: []\n", "criteria", "at least 1"),
        ("name: r\ncriteria:\n  - {id: a, scorer: {type: exactt}}\n", "criteria[0].scorer.type",
         "Did you mean 'exact'"),
        ("name: r\ncriteria:\n  - {id: a, scorer: {type: exact, casesensitive: true}}\n",
         "criteria[0].scorer.casesensitive", "Extra inputs"),
        ("name: r\ncriteria:\n  - {id: a, scorer: {type: regex, pattern: '('}}\n", "criteria[0].scorer.pattern",
         "invalid regular expression"),
        ("name: r\ncriteria:\n  - {id: a, scorer: {type: exact}}\n  - {id: a, scorer: {type: exact}}\n", None,
         "used twice"),
        ("name: r\ncriteria:\n  - {id: overall, scorer: {type: exact}}\n", "criteria[0].id", "reserved"),
        ("name: r\ncriteria:\n  - {id: a, scale: {levels: {1: x}}, scorer: {type: exact}}\n", "criteria[0].scale",
         "two levels"),
        ("name: r\ncriteria:\n  - {id: a, scale: continuous, scorer: {type: judge, model: smollm2-135m}}\n",
         "criteria[0].scorer", "binary' or 'levels"),
        ("name: r\ncriteria:\n  - {id: a, calibration_floor: 0.8, scorer: {type: exact}}\n", "criteria[0]",
         "only for criteria with a judge"),
        ("name: r\ncriteria:\n  - {id: a, weight: 0, scorer: {type: exact}}\n", None, "weight above 0"),
    ],
)  # fmt: skip
def test_rubric_errors_name_file_and_key(tmp_path, rubric, field, message):
    p = tmp_path / "r.yaml"
    p.write_text(rubric)
    with pytest.raises(ConfigError) as exc:
        load_rubric(p)
    assert exc.value.file == str(p)
    if field:
        assert exc.value.field == field
    assert message in str(exc.value)


def test_judge_floor_default_and_levels_mapping(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text(
        "name: r\ncriteria:\n  - id: h\n    scale:\n      levels:\n        - {value: 1, anchor: poor}\n"
        "        - {value: 4, anchor: great, label: top}\n    scorer: {type: judge, model: smollm2-135m}\n"
    )
    c = load_rubric(p).criteria[0]
    assert c.calibration_floor == 0.667
    assert c.scale.level_fraction(4) == 1.0 and [lv.name for lv in c.scale.levels] == ["1", "top"]


def test_bundled_suites_load():
    root = Path(__file__).parent.parent
    for name in ("tickets", "general", "safety"):
        s = load_suite(root / "suites" / name)
        assert len(s.items) >= 20 and s.gate.rules
    with pytest.raises(HarnessError):
        load_suite(root / "suites" / "nope")
