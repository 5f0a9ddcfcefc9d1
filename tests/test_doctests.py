"""The runnable examples in the docstrings of the evaluation modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "harness.eval.cache",
    "harness.configfile",
    "harness.eval.evaluate",
    "harness.stats.intervals",
    "harness.stats.bootstrap",
    "harness.stats.params",
    "harness.slicing",
    "harness.validate.balance",
    "harness.gate.judge",
    "harness.gate.verdict",
    "harness.models.base",
    "harness.models.factory",
    "harness.models.fake",
    "harness.models.outputs",
    "harness.models.serving",
    "harness.cli.serving",
    "harness.report.run",
    "harness.eval.rubric",
    "harness.eval.scorers",
    "harness.eval.scorers.human",
    "harness.eval.ratings",
    "harness.eval.scorers.refusal",
    "harness.eval.scorers.structured",
    "harness.eval.scorers.text",
    "harness.eval.suite",
    "harness.documents",
    "harness.documents.base",
    "harness.provenance",
    "harness.compare.criteria",
    "harness.eval.reward_eval",
    "harness.eval.scorers.reward",
    "harness.rankings",
    "harness.validate.ranking",
    "harness.train.losses",
    "harness.files",
    "harness.records",
    "harness.rows",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
