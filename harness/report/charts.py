"""Geometry of the report's interval plots; the SVG itself is drawn by the ``charts.html.j2`` macros.

Every size is in SVG user units, which the report renders at 1:1 on a wide screen and never below
``MIN_SCALE`` on a narrow one (the CSS gives the plots a minimum width), so 12-unit tick labels stay
at least 10 px tall. Horizontal padding leaves room for half the widest tick label at either end,
so "−0.25" is never clipped to "0.25".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Chart", "Interval", "Marker", "Tick", "delta_chart", "delta_span", "means_chart", "tick_label"]

WIDTH = 340.0
PAD = 26.0
FONT = 12.0  # at a plot's CSS min-width (300 px for 340 units) 12 units render at 10.6 px
GREY, BLUE, GREEN, RED, AMBER = "#6b7280", "#2563eb", "#15803d", "#b91c1c", "#b45309"


@dataclass
class Tick:
    """A vertical grid line with its label under the plot."""

    x: float
    label: str
    zero: bool = False


@dataclass
class Interval:
    """A point estimate (dot) with its interval (whiskers) on one row of a plot."""

    y: float
    colour: str
    title: str
    cx: float | None = None
    x1: float | None = None
    x2: float | None = None


@dataclass
class Marker:
    """A dashed reference line (a no-regression margin)."""

    x: float
    title: str


@dataclass
class Chart:
    """One plot: axis ticks, interval rows and reference markers, in user units."""

    height: float
    label: str
    ticks: list[Tick]
    intervals: list[Interval]
    markers: list[Marker] = field(default_factory=list)
    width: float = WIDTH
    font: float = FONT

    @property
    def grid_bottom(self) -> float:
        """Where grid lines end (just above the tick labels)."""
        return self.height - self.font - 4

    @property
    def label_y(self) -> float:
        """Baseline of the tick labels (room left for descenders)."""
        return self.height - 3


def tick_label(v: float) -> str:
    """A tick value with a true minus sign.

    >>> tick_label(-0.25), tick_label(0.0), tick_label(0.5)
    ('−0.25', '0', '0.5')
    """
    text = f"{abs(v):g}"
    return text if v >= 0 or text == "0" else "−" + text


def _x(v: float, lo: float, hi: float) -> float:
    return round(PAD + (min(max(v, lo), hi) - lo) / (hi - lo) * (WIDTH - 2 * PAD), 1)


def _interval(y: float, mean: float | None, ci: Sequence[float] | None, lo: float, hi: float, colour: str,
              title: str) -> Interval:
    out = Interval(y=y, colour=colour, title=title)
    if ci:
        out.x1, out.x2 = _x(ci[0], lo, hi), _x(ci[1], lo, hi)
    if mean is not None:
        out.cx = _x(mean, lo, hi)
    return out


def means_chart(base: float | None, base_ci: Sequence[float] | None, cand: float | None,
                cand_ci: Sequence[float] | None, *, base_title: str, cand_title: str) -> Chart:
    """Base (grey) and candidate (blue) means with their intervals on a 0-1 axis."""
    ticks = [Tick(_x(t, 0.0, 1.0), tick_label(t)) for t in (0.0, 0.25, 0.5, 0.75, 1.0)]
    rows = [_interval(12, base, base_ci, 0.0, 1.0, GREY, base_title),
            _interval(28, cand, cand_ci, 0.0, 1.0, BLUE, cand_title)]
    return Chart(height=56, label="base and candidate means with intervals", ticks=ticks, intervals=rows)


def delta_span(values: Sequence[float], margins: Sequence[float]) -> float:
    """The half-width of a difference axis shared by a suite's plots: the next step above every value.

    >>> delta_span([0.03, -0.12], [0.05])
    0.2
    """
    big = max([0.05, *(abs(v) for v in values), *margins])
    return next((s for s in (0.05, 0.1, 0.2, 0.25, 0.5, 1.0) if big <= s), 1.0)


def delta_chart(delta: float | None, ci: Sequence[float] | None, span: float, margins: Sequence[float], *,
                title: str) -> Chart:
    """The paired difference with its interval on a symmetric axis, margins as dashed lines.

    Green when the interval is above zero, red when below, amber when it straddles zero.
    """
    lo, hi = -span, span
    ticks = [Tick(_x(t, lo, hi), tick_label(t), zero=t == 0.0) for t in (lo, lo / 2, 0.0, hi / 2, hi)]
    colour = GREEN if ci and ci[0] > 0 else RED if ci and ci[1] < 0 else AMBER
    markers = [Marker(_x(-m, lo, hi), f"margin −{m:g}") for m in margins]
    row = _interval(14, delta, ci, lo, hi, colour, title)
    return Chart(height=42, label="paired difference with interval", ticks=ticks, intervals=[row], markers=markers)
