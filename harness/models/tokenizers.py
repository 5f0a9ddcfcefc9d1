"""Token counting for length checks (imports transformers only when a tokenizer is asked for)."""

from __future__ import annotations

from collections.abc import Callable

from harness.models.loading import load_tokenizer
from harness.models.spec import parse_spec


def token_counter(spec: str) -> Callable[[str], int]:
    """A function counting the tokens of a text under the tokenizer of a model spec."""
    tok = load_tokenizer(parse_spec(spec))

    def count(text: str) -> int:
        return len(tok(text, add_special_tokens=False)["input_ids"])

    return count
