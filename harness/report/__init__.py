"""Reports: views rendered through Jinja2 templates (``templates/``), see docs/reports.md.

Files are written atomically by :mod:`harness.files` (below every stage), named here too for the
report modules.
"""

from __future__ import annotations

from harness.files import write_atomic, write_json
from harness.report.formatting import md_escape

__all__ = ["md_escape", "write_atomic", "write_json"]
