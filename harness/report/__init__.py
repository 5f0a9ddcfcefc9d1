"""Report writers (JSON, Markdown, HTML, JUnit); every file is written atomically.

The writers and :func:`md_escape` live below every stage (:mod:`harness.files`,
:mod:`harness.text`); they are named here too for the report modules.
"""

from __future__ import annotations

from harness.files import write_atomic, write_json
from harness.text import md_escape

__all__ = ["md_escape", "write_atomic", "write_json"]
