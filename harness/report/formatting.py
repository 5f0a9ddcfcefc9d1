"""Number and text formatting shared by every report (below all renderers: no report imports another)."""

from __future__ import annotations

from typing import Any

from harness.text import md_escape

__all__ = ["fmt", "fmt_ci", "fmt_p", "marked", "md_cell", "md_escape"]

_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>|#"})


def fmt(x: float | None, digits: int = 3) -> str:
    """A number for a report, or an em dash for none.

    >>> fmt(0.12345), fmt(None)
    ('0.123', '—')
    """
    return "—" if x is None else f"{x:.{digits}f}"


def fmt_p(p: float | None) -> str:
    """A p-value: three significant digits, ``<0.001`` below that.

    >>> fmt_p(0.0004), fmt_p(0.01234), fmt_p(None)
    ('<0.001', '0.0123', '—')
    """
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3g}"


def fmt_ci(ci: list[float] | None, digits: int = 3) -> str:
    """An interval as ``[lo, hi]``.

    >>> fmt_ci([0.1, 0.25]), fmt_ci(None)
    ('[0.100, 0.250]', '—')
    """
    return "—" if not ci else f"[{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"


def md_cell(text: str) -> str:
    """Escape text for a Markdown table cell (no emphasis, links or HTML can leak through).

    >>> md_cell("a *b*  [c]")
    'a \\\\*b\\\\* \\\\[c\\\\]'
    """
    return " ".join(text.split()).translate(_MD_SPECIAL) if text.strip() else ""


def marked(excerpt: dict[str, Any]) -> str:
    """An excerpt as a table cell with its matched span in bold.

    >>> marked({"text": "say *hi* to me", "mark": [4, 8]})
    'say **\\\\*hi\\\\*** to me'
    """
    text, (a, b) = excerpt["text"], excerpt["mark"]
    span = text[a:b]
    lead = span[: len(span) - len(span.lstrip())]
    trail = span[len(span.rstrip()) :]
    core = md_cell(span)
    before, after = md_cell(text[:a] + lead), md_cell(trail + text[b:])
    if not core:
        return md_cell(text)
    sep_b = " " if (text[:a] + lead)[-1:].isspace() else ""
    sep_a = " " if (trail + text[b:])[:1].isspace() else ""
    return f"{before}{sep_b}**{core}**{sep_a}{after}"
