"""Charts drawn on the server as SVG: geometry computed here, markup in templates/charts.html.

Two shapes cover the console: paired horizontal bars (a segment's share beside all users'
share, per attribute value or lifecycle stage) and lines over model versions (one per
metric). SVG needs no script and no asset, so the charts work offline and print.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

LABEL_WIDTH = 130
BAR_AREA = 320
VALUE_WIDTH = 60
ROW_HEIGHT = 22
BAR_HEIGHT = 8


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: int  # 0: the segment, 1: all users
    value: float


@dataclass(frozen=True)
class BarRow:
    label: str
    label_y: float
    bars: list[Bar]
    value_text: str


@dataclass(frozen=True)
class PairedBars:
    width: int
    height: int
    label_width: int
    rows: list[BarRow]


def _percent(value: float) -> str:
    return f"{value:.0%}" if value >= 0.1 or value == 0 else f"{value:.1%}"


def paired_bars(rows: Sequence[tuple[str, float, float]]) -> PairedBars:
    """(label, segment share, overall share) per row; shares in [0, 1], scaled to the largest."""
    top = max((max(a, b) for _, a, b in rows), default=0.0) or 1.0
    out = []
    for i, (label, inside, overall) in enumerate(rows):
        y = i * ROW_HEIGHT + 3
        bars = [
            Bar(LABEL_WIDTH, y + s * (BAR_HEIGHT + 1), BAR_AREA * v / top, BAR_HEIGHT, s, v)
            for s, v in enumerate((inside, overall))
        ]
        text = f"{_percent(inside)} / {_percent(overall)}"
        out.append(BarRow(label, y + BAR_HEIGHT + 3, bars, text))
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH + 30
    return PairedBars(width, max(len(rows), 1) * ROW_HEIGHT + 4, LABEL_WIDTH, out)


@dataclass(frozen=True)
class Line:
    name: str
    points: str  # "x,y x,y ..." for <polyline>
    dots: list[tuple[float, float, str]]  # x, y, tooltip
    colour: int


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    left: int
    top: int
    plot_height: int
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    lines: list[Line] = field(default_factory=list)


def lines_over_versions(
    versions: Sequence[str], series: Mapping[str, Sequence[float | None]], *, width: int = 640
) -> LineChart:
    """One line per metric across `versions` (oldest first); a missing value breaks no line,
    the point is just left out."""
    left, top, plot_height, bottom = 50, 10, 180, 60
    plot_width = width - left - 20
    values = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    high = max(values, default=1.0) or 1.0
    high = math.ceil(high * 10) / 10 if high <= 1 else high * 1.1

    def x_of(i: int) -> float:
        return left + (
            plot_width * i / (len(versions) - 1) if len(versions) > 1 else plot_width / 2
        )

    def y_of(v: float) -> float:
        return top + plot_height * (1 - v / high)

    lines = []
    for colour, (name, vs) in enumerate(series.items()):
        dots = [
            (round(x_of(i), 1), round(y_of(v), 1), f"{name} {versions[i]}: {v:.4f}")
            for i, v in enumerate(vs)
            if v is not None and math.isfinite(v)
        ]
        points = " ".join(f"{x},{y}" for x, y, _ in dots)
        lines.append(Line(name, points, dots, colour % 6))
    ticks = [(round(y_of(high * k / 4), 1), f"{high * k / 4:.2f}") for k in range(5)]
    labels = [(round(x_of(i), 1), v[-12:]) for i, v in enumerate(versions)]
    return LineChart(
        width, top + plot_height + bottom, left, top, plot_height, ticks, labels, lines
    )
