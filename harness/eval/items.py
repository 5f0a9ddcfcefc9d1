"""Item: one entry of a suite (a prompt or chat messages, a reference, any fields scorers read)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.models.base import Prompt
from harness.records import ROLES

__all__ = ["Item"]


class Item(BaseModel):
    """One suite item: a prompt (text or chat messages), a reference and any scorer fields."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1)
    prompt: str | None = None
    messages: list[dict[str, Any]] | None = None
    reference: Any = None

    @model_validator(mode="after")
    def _one_prompt(self) -> Item:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of 'prompt' (text) or 'messages' (chat)")
        if self.prompt is not None and not self.prompt.strip():
            raise ValueError("'prompt' is empty")
        for i, m in enumerate(self.messages or []):
            if not isinstance(m, dict) or not isinstance(m.get("content"), str) or m.get("role") not in ROLES:
                raise ValueError(f"messages[{i}] needs 'role' ({', '.join(ROLES)}) and 'content' text")
        return self

    def prompt_value(self) -> Prompt:
        """The prompt text, or the chat messages."""
        return self.prompt if self.prompt is not None else [dict(m) for m in self.messages or []]

    def to_record(self) -> dict[str, Any]:
        """The item as JSON data."""
        return self.model_dump(mode="json", exclude_none=True)
