"""``report.html``: one self-contained file that works offline (inline CSS and SVG, no script).

Sections: verdict banner; a summary listing every suite with its verdict, failing first, each
linked to its section; per suite the rules, base vs candidate per criterion (a table, then interval
plots of the means and of the paired difference), fixed and broken items side by side with both
outputs, leakage, judge calibration, repeats, excluded items; the manifest. Rendered from the gate
view (``gate_view.py``) through ``templates/gate.html.j2`` with autoescaping on, so model outputs
cannot inject markup. Tables scroll inside their own container and plots keep a minimum width, so
the page reads on a 400 px screen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from harness.report.gate_view import as_document, gate_view
from harness.report.templating import render

if TYPE_CHECKING:
    from harness.compare.models import GateResult

__all__ = ["render_html"]


def render_html(result: GateResult | Mapping[str, Any]) -> str:
    """The whole gate as one self-contained HTML page, from the gate or its ``harness.comparison/v1`` document.

    Example:
        >>> from harness.compare.models import GateResult
        >>> "Gate: INCONCLUSIVE" in render_html(GateResult(verdict="inconclusive", comparisons=[]))
        True
    """
    return render("gate.html.j2", view=gate_view(as_document(result)))
