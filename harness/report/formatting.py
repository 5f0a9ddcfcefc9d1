"""Number and text formatting shared by every report (below all renderers: no report imports another)."""

from __future__ import annotations

__all__ = ["fmt", "fmt_ci", "fmt_p", "md_escape"]


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


def md_escape(text: str, limit: int | None = 200) -> str:
    """Escape text for a Markdown table cell, shortened to ``limit`` characters.

    >>> md_escape("a|b `c`")
    'a\\\\|b \\\\`c\\\\`'
    """
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")
