"""Report writers (JSON, Markdown, HTML, JUnit); every file is written atomically.

The writers themselves live in :mod:`harness.files` (below every stage); they are named here too
for the report modules.
"""

from __future__ import annotations

from harness.files import write_atomic, write_json

__all__ = ["md_escape", "write_atomic", "write_json"]


def md_escape(text: str, limit: int | None = 200) -> str:
    """Escape text for a Markdown table cell, shortened to ``limit`` characters."""
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")
