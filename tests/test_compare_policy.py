"""Policy loading (file and key in every error) and the exact semantics of each rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.errors import ConfigError, InputFileError
from harness.gate.policy import Policy, Rule, decide, load_policy, policy_from_gate

IMPROVE = Rule(criterion="a", require="improvement")
NO_REG = Rule(criterion="a", require="no_regression", margin=0.02)
AT_LEAST = Rule(criterion="a", require="at_least", value=0.8)
NO_NEW = Rule(criterion="a", require="no_new_failures", max=1)


@pytest.mark.parametrize(
    ("rule", "low", "high", "verdict"),
    [
        (IMPROVE, 0.001, 0.2, "pass"),
        (IMPROVE, 0.0, 0.2, "inconclusive"),  # lower bound must be strictly above 0
        (IMPROVE, -0.1, 0.0, "fail"),  # upper bound <= 0 fails
        (IMPROVE, -0.1, -0.01, "fail"),
        (IMPROVE, -0.1, 0.001, "inconclusive"),
        (NO_REG, -0.019, 0.05, "pass"),
        (NO_REG, -0.02, 0.05, "inconclusive"),  # lower bound must be strictly above -m
        (NO_REG, -0.1, -0.02, "inconclusive"),  # upper bound must be strictly below -m to fail
        (NO_REG, -0.1, -0.021, "fail"),
        (AT_LEAST, 0.8, 0.9, "pass"),  # lower bound >= v passes
        (AT_LEAST, 0.79, 0.9, "inconclusive"),
        (AT_LEAST, 0.6, 0.8, "inconclusive"),  # upper bound < v fails, == v does not
        (AT_LEAST, 0.6, 0.79, "fail"),
    ],
)
def test_interval_rules(rule: Rule, low: float, high: float, verdict: str) -> None:
    assert decide(rule, n=50, low=low, high=high).verdict == verdict


@pytest.mark.parametrize(("new", "verdict"), [(0, "pass"), (1, "pass"), (2, "fail")])
def test_no_new_failures(new: int, verdict: str) -> None:
    assert decide(NO_NEW, n=30, low=None, high=None, new_failures=new).verdict == verdict


@pytest.mark.parametrize("rule", [IMPROVE, NO_REG, AT_LEAST, NO_NEW])
def test_no_scored_items_is_inconclusive_never_pass(rule: Rule) -> None:
    d = decide(rule, n=0, low=0.5, high=0.9, new_failures=0)
    assert d.verdict == "inconclusive" and "no scored items" in d.reason


def test_missing_interval_is_inconclusive() -> None:
    assert decide(IMPROVE, n=1, low=None, high=None).verdict == "inconclusive"


def test_gate_block_shapes() -> None:
    rules = [{"criterion": "acc", "require": "improvement"}, {"criterion": "overall", "require": "no_regression"}]
    as_list = policy_from_gate(rules)
    as_map = policy_from_gate({"confidence": 0.9, "rules": rules})
    assert [r.label for r in as_list.rules] == ["acc improvement", "overall no_regression (margin 0)"]
    assert as_list.confidence == 0.95 and as_map.confidence == 0.9
    assert policy_from_gate(None).rules == []


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return p


def test_load_policy_from_suite_yaml(tmp_path: Path) -> None:
    rule = "{criterion: acc, require: at_least, value: 0.5}"
    p = _write(tmp_path, f"name: s\nitems: items.jsonl\ngate:\n  rules:\n    - {rule}\n")
    pol = load_policy(p)
    assert pol.rules[0].value == 0.5 and pol.source == str(p)


R = "rules:\n  - "


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        (R + "{criterion: a, require: improvment}\n", "policy.rules[0].require", "Did you mean 'improvement'"),
        (R + "{criterion: a, require: no_regression, margn: 0.1}\n", "policy.rules[0].margn", "Did you mean 'margin'"),
        (R + "{criterion: a, require: at_least}\n", "policy.rules[0]", "needs 'value'"),
        (R + "{criterion: a, require: improvement, margin: 0.1}\n", "policy.rules[0]", "applies to require: no_reg"),
        (R + "{criterion: a, require: no_regression, margin: -1}\n", "policy.rules[0].margin", "greater than or equal"),
        (R + "{criterion: a, require: at_least, value: 80}\n", "policy.rules[0].value", "less than or equal"),
        ("confidence: 1.5\nrules:\n  - {criterion: a, require: improvement}\n", "policy.confidence", "less than 1"),
        ("confidense: 0.9\nrules: []\n", "policy.confidense", "Did you mean 'confidence'"),
        ("gate:\n  - {criterion: a, require: improvement}\n  - {criterion: a, require: improvement}\n", "gate.rules",
         "repeats an earlier rule"),
        ("rules: []\n", "rules", "no rules"),
        ("rules: [\n", None, "invalid YAML"),
    ],
)
def test_bad_policy_names_file_and_key(tmp_path: Path, text: str, field: str | None, message: str) -> None:
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_policy(p)
    assert err.value.file == str(p)
    assert message in str(err.value)
    if field is not None:
        assert err.value.field == field


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such policy file"):
        load_policy(tmp_path / "nope.yaml")


def test_rule_null_values() -> None:
    assert IMPROVE.null == 0.0 and NO_REG.null == -0.02 and AT_LEAST.null == 0.8 and NO_NEW.null is None
    assert Policy().resamples == 10_000
