"""The Jinja2 environment every report renders through: templates ship in ``harness/report/templates``.

HTML templates (``*.html.j2``) are autoescaped; Markdown templates (``*.md.j2``) are not, and escape
table cells explicitly with the ``md`` filter. Undefined names raise, so a template cannot print an
empty cell silently for a field the view model lacks.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.report.formatting import fmt, fmt_ci, fmt_p, marked, md_cell, md_escape

__all__ = ["environment", "overlay", "render"]


def _to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str)


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The shared environment (built once): package loader, autoescape for HTML, report filters."""
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False, default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(md=md_escape, cell=md_cell, marked=marked, fmt=fmt, fmt_ci=fmt_ci, fmt_p=fmt_p, to_json=_to_json)
    return env


def overlay(**filters: Any) -> Environment:
    """The shared environment with a report's own filters added (the shared one is left unchanged)."""
    env = environment().overlay()
    env.filters = {**env.filters, **filters}
    return env


def render(template: str, **context: Any) -> str:
    """Render one template of ``harness/report/templates`` with ``context``."""
    return environment().get_template(template).render(**context)
