"""``harness.text.normalize`` collapses whitespace with ``str.split`` instead of a ``\\s+`` regex:
the same result for every text (the duplicate and leakage digests depend on it)."""

from __future__ import annotations

import re
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from harness.text import normalize

_WS = re.compile(r"\s+")


def regex_normalize(text: str) -> str:
    """The earlier definition: NFKC, case-folded, ``\\s+`` runs to one space, stripped."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def test_split_and_regex_agree_on_what_whitespace_is():
    """Every code point: str.isspace (what str.split splits on) is exactly regex \\s."""
    differ = [c for c in range(sys.maxunicode + 1) if bool(_WS.fullmatch(chr(c))) != chr(c).isspace()]
    assert differ == []


_SPACES = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()] + ["\u200b", "\ufeff"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(_SPACES) | st.text(st.characters(codec=None), max_size=5), max_size=20).map("".join))
def test_normalize_equals_the_regex_definition(text):
    assert normalize(text) == regex_normalize(text)
