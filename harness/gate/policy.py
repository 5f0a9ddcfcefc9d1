"""The release policy: rules a comparison must meet, and what each rule's verdict means.

A policy comes from a suite's ``gate`` block or a ``--policy`` YAML file. Either shape works::

    gate:                         # or a bare list of rules
      confidence: 0.95
      rules:
        - {criterion: field_accuracy, require: improvement}
        - {criterion: overall, require: no_regression, margin: 0.02}
        - {criterion: valid_json, require: at_least, value: 0.9}
        - {criterion: refusal, require: no_new_failures, max: 0}
        - {criterion: overall, require: no_regression, margin: 0.05, by: category}
        - {criterion: overall, require: max_gap, max_gap: 0.2, by: category}
      slices: [category, language]   # item fields every comparison is also shown by

Rule semantics (``lo``/``hi`` are the bounds of the two-sided interval at ``confidence``):

* ``improvement``: pass when lo(Δ) > 0, fail when hi(Δ) <= 0, else inconclusive.
* ``no_regression`` with ``margin`` m: pass when lo(Δ) > −m, fail when hi(Δ) < −m, else inconclusive.
* ``at_least`` with ``value`` v, on the candidate's mean: pass when lo >= v, fail when hi < v.
* ``no_new_failures`` with ``max`` k: fail when more than k items pass under the base and fail
  under the candidate, else pass.
* ``by: FIELD`` on any of these: the rule is judged in every slice of the items (items sharing a
  value of FIELD; items without it form the slice ``(missing)``) and holds only if it holds in
  every slice; it fails if it fails in any.
* ``max_gap`` g with ``by: FIELD``: the spread of Δ between the best and the worst slice (max − min
  over slices of at least 2 items), with a stratified bootstrap interval: pass when hi < g, fail
  when lo > g.

A rule over no scored items is inconclusive, never pass.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.configfile import load_yaml
from harness.errors import ConfigError, did_you_mean

__all__ = [
    "REQUIREMENTS",
    "Decision",
    "Policy",
    "Rule",
    "decide",
    "load_policy",
    "policy_from_gate",
]

REQUIREMENTS = ("improvement", "no_regression", "at_least", "no_new_failures", "max_gap")
Verdict = Literal["pass", "fail", "inconclusive"]



class Decision(NamedTuple):
    """A rule's verdict and the one-line reason for it."""

    verdict: Verdict
    reason: str


_RULE_KEYS = {"criterion", "require", "margin", "value", "max", "threshold", "name", "by", "max_gap"}
_POLICY_KEYS = {"confidence", "rules", "resamples", "method", "seed", "pass_threshold", "slices", "redteam"}
_ONLY_FOR = {"margin": "no_regression", "value": "at_least", "max": "no_new_failures", "max_gap": "max_gap"}


class Rule(BaseModel):
    """One requirement on one criterion (``overall`` is the rubric's weighted score)."""

    model_config = ConfigDict(extra="forbid")

    criterion: str = Field(min_length=1)
    require: Literal["improvement", "no_regression", "at_least", "no_new_failures", "max_gap"]
    margin: float | None = Field(default=None, ge=0.0, description="no_regression: tolerated drop (default 0)")
    value: float | None = Field(default=None, ge=0.0, le=1.0, description="at_least: the candidate mean's floor")
    max: int | None = Field(default=None, ge=0, description="no_new_failures: tolerated new failures (default 0)")
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="an item passes at or above this score (default: the policy's)"
    )
    name: str | None = None
    by: str | None = Field(default=None, min_length=1, description="judge the rule in every slice of this item field")
    max_gap: float | None = Field(
        default=None, ge=0.0, le=2.0, description="max_gap: the largest tolerated spread of Δ between slices"
    )

    @model_validator(mode="after")
    def _fields_fit_requirement(self) -> Rule:
        for key, owner in _ONLY_FOR.items():
            if getattr(self, key) is not None and self.require != owner:
                raise ValueError(f"'{key}' applies to require: {owner} only, not {self.require}")
        if self.require == "at_least" and self.value is None:
            raise ValueError("require: at_least needs 'value' (the floor of the candidate's mean, in [0, 1])")
        if self.require == "max_gap" and (self.max_gap is None or self.by is None):
            raise ValueError("require: max_gap needs 'max_gap' (the largest tolerated spread) and 'by' (the field)")
        return self

    @property
    def label(self) -> str:
        """A short readable name: ``accuracy no_regression (margin 0.02)``."""
        if self.name:
            return self.name
        extra = {
            "no_regression": f" (margin {self.margin or 0:g})",
            "at_least": f" ({self.value:g})" if self.value is not None else "",
            "no_new_failures": f" (max {self.max or 0})",
            "max_gap": f" ({self.max_gap:g})" if self.max_gap is not None else "",
        }.get(self.require, "")
        by = f" by {self.by}" if self.by else ""
        return f"{self.criterion} {self.require}{extra}{by}"

    @property
    def null(self) -> float | None:
        """The boundary value the rule's test is about (None for counting rules)."""
        if self.require == "improvement":
            return 0.0
        if self.require == "no_regression":
            return -(self.margin or 0.0)
        if self.require == "at_least":
            return self.value
        if self.require == "max_gap":
            return self.max_gap
        return None


class Policy(BaseModel):
    """A gate: rules plus the statistics' settings."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)
    resamples: int = Field(default=10_000, ge=100, le=1_000_000, description="bootstrap resamples")
    method: Literal["bca", "percentile"] = "bca"
    seed: int = 0
    pass_threshold: float = Field(default=0.5, ge=0.0, le=1.0, description="an item passes at or above this score")
    source: str | None = Field(default=None, description="where the policy was read from")
    slices: list[str] = Field(default_factory=list, description="item fields every comparison is also shown by")

    @field_validator("rules")
    @classmethod
    def _unique_rules(cls, rules: list[Rule]) -> list[Rule]:
        seen: set[str] = set()
        for i, r in enumerate(rules):
            key = r.model_dump_json(exclude={"name"})
            if key in seen:
                raise ValueError(f"rule {i} repeats an earlier rule ({r.label})")
            seen.add(key)
        return rules


def _check_keys(data: dict[str, Any], allowed: set[str], where: str, *, file: str | None) -> None:
    for key in data:
        if key not in allowed:
            raise ConfigError(
                f"unknown key '{key}'; expected one of {sorted(allowed)}.{did_you_mean(str(key), allowed)}",
                file=file,
                field=f"{where}.{key}" if where else str(key),
            )


def policy_from_gate(gate: Any, *, source: str | None = None, where: str = "gate") -> Policy:
    """Build a :class:`Policy` from a suite's ``gate`` block (a list of rules or a mapping).

    Args:
        gate: the block as read from YAML: a list of rules, or a mapping with ``rules`` and
            optional ``confidence``, ``resamples``, ``method``, ``seed``, ``pass_threshold``.
        source: the file it came from, named in errors.
        where: the key path of the block in that file, named in errors.

    Raises:
        ConfigError: naming the file and key of the first problem.

    Example:
        >>> p = policy_from_gate([{"criterion": "accuracy", "require": "improvement"}])
        >>> p.rules[0].label, p.confidence
        ('accuracy improvement', 0.95)
    """
    if gate is None:
        return Policy(source=source)
    data: dict[str, Any]
    if isinstance(gate, list):
        data = {"rules": gate}
    elif isinstance(gate, dict):
        data = dict(gate)
        _check_keys(data, _POLICY_KEYS, where, file=source)
        data.pop("redteam", None)  # harness redteam's rules (harness.redteam.expand), not the comparison's
    else:
        raise ConfigError(f"expected a list of rules or a mapping, got {type(gate).__name__}", file=source, field=where)
    rules = data.get("rules", [])
    if not isinstance(rules, list):
        raise ConfigError("expected a list of rules", file=source, field=f"{where}.rules")
    for i, rule in enumerate(rules):
        at = f"{where}.rules[{i}]" if isinstance(gate, dict) else f"{where}[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"expected a mapping, got {type(rule).__name__}", file=source, field=at)
        _check_keys(rule, _RULE_KEYS, at, file=source)
        req = rule.get("require")
        if req is not None and req not in REQUIREMENTS:
            raise ConfigError(
                f"'require' must be one of {list(REQUIREMENTS)}; got {req!r}.{did_you_mean(str(req), REQUIREMENTS)}",
                file=source,
                field=f"{at}.require",
            )
        try:
            Rule.model_validate(rule)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err["loc"])
            raise ConfigError(
                err["msg"].removeprefix("Value error, "), file=source, field=f"{at}.{loc}" if loc else at
            ) from exc
    try:
        return Policy.model_validate({**data, "source": source})
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ConfigError(err["msg"].removeprefix("Value error, "), file=source, field=f"{where}.{loc}") from exc


def load_policy(path: str | Path) -> Policy:
    """Load a policy YAML file: a ``gate`` mapping, a mapping with ``rules``, or a list of rules.

    A suite's ``suite.yaml`` works too (its ``gate`` key is read).

    Raises:
        InputFileError: when the file cannot be read.
        ConfigError: for invalid YAML or an invalid rule (file and key named).
    """
    path = Path(path)
    data = load_yaml(path, what="policy file")
    where = ""
    if isinstance(data, dict) and "gate" in data:
        data, where = data["gate"], "gate"
    policy = policy_from_gate(data, source=str(path), where=where or "policy")
    if not policy.rules:
        raise ConfigError("the policy has no rules", file=path, field=where or "rules")
    return policy


def decide(
    rule: Rule, *, n: int, low: float | None, high: float | None, new_failures: int | None = None
) -> Decision:
    """Apply a rule's semantics to its interval (or its count of new failures).

    Args:
        rule: the rule.
        n: number of scored paired items the statistic rests on.
        low: lower bound of the interval of the rule's statistic (None when undefined).
        high: upper bound (None when undefined).
        new_failures: items passing under the base and failing under the candidate.

    Returns:
        The verdict and a one-line reason.

    Example:
        >>> decide(Rule(criterion="a", require="improvement"), n=40, low=0.02, high=0.11)
        Decision(verdict='pass', reason='lower bound 0.02 > 0')
    """
    if n == 0:
        return Decision("inconclusive", "no scored items")
    if rule.require == "no_new_failures":
        k = rule.max or 0
        if new_failures is None:
            return Decision("inconclusive", "new failures could not be counted")
        if new_failures > k:
            return Decision("fail", f"{new_failures} new failures > max {k}")
        return Decision("pass", f"{new_failures} new failures <= max {k}")
    if low is None or high is None:
        return Decision("inconclusive", "no confidence interval (fewer than 2 scored items)")
    lo, hi = f"{low:.4g}", f"{high:.4g}"
    if rule.require == "improvement":
        if low > 0:
            return Decision("pass", f"lower bound {lo} > 0")
        if high <= 0:
            return Decision("fail", f"upper bound {hi} <= 0")
        return Decision("inconclusive", f"interval [{lo}, {hi}] contains 0")
    if rule.require == "no_regression":
        m = rule.margin or 0.0
        if low > -m:
            return Decision("pass", f"lower bound {lo} > -{m:g}")
        if high < -m:
            return Decision("fail", f"upper bound {hi} < -{m:g}")
        return Decision("inconclusive", f"interval [{lo}, {hi}] reaches -{m:g}")
    if rule.require == "max_gap":
        g = rule.max_gap if rule.max_gap is not None else 0.0
        if high < g:
            return Decision("pass", f"upper bound {hi} < {g:g}")
        if low > g:
            return Decision("fail", f"lower bound {lo} > {g:g}")
        return Decision("inconclusive", f"interval [{lo}, {hi}] contains {g:g}")
    v = rule.value if rule.value is not None else 0.0
    if low >= v:
        return Decision("pass", f"lower bound {lo} >= {v:g}")
    if high < v:
        return Decision("fail", f"upper bound {hi} < {v:g}")
    return Decision("inconclusive", f"interval [{lo}, {hi}] contains {v:g}")
