"""The runnable examples in the docstrings of the evaluation modules run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "harness.cache",
    "harness.configfile",
    "harness.evaluate",
    "harness.intervals",
    "harness.models.base",
    "harness.models.fake",
    "harness.models.outputs",
    "harness.rubric",
    "harness.scorers",
    "harness.scorers.human",
    "harness.scorers.refusal",
    "harness.scorers.structured",
    "harness.scorers.text",
    "harness.suite",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
