"""Reports: views rendered through Jinja2 templates (``templates/``), see docs/reports.md.

Files are written atomically by :mod:`harness.files`, below every stage.
"""

from __future__ import annotations

from harness.report.formatting import md_escape

__all__ = ["md_escape"]
