"""The runnable examples in the agreement docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "harness.agreement",
        "harness.agreement.coefficients",
        "harness.agreement.analytic",
        "harness.agreement.bootstrap",
        "harness.agreement.diagnostics",
        "harness.agreement.document",
        "harness.agreement.ratings",
        "harness.agreement.concordance",
        "harness.agreement.reading",
        "harness.columns",
        "harness.gcpause",
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
