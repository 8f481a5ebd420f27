"""The frequency × spend scatter as server-rendered SVG (as web/charts.py draws trends):
a dot per member for a store, a shaded grid of counts for a region or the chain, so
200,000 members draw as a few hundred rectangles."""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from html import escape

from markupsafe import Markup

from careplan.value.tiers import X_CELLS, Y_CELLS, Chart, Cuts

WIDTH, HEIGHT = 640, 360
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
COLOURS = {"hh": "#1f5fa8", "hl": "#2e7d32", "lh": "#b26a00", "ll": "#777777"}
CELL = "#1f5fa8"


def _x(visits: float, x_max: int) -> float:
    return LEFT + min(visits, x_max + 0.5) / (x_max + 0.5) * PLOT_W


def _y(spend: float, y_max: float) -> float:
    return TOP + PLOT_H - min(spend, y_max) / y_max * PLOT_H


def _quadrant(cuts: Cuts, visits: int, spend: Decimal) -> str:
    f, s = cuts.visits.is_high(visits), cuts.spend.is_high(spend)
    return ("h" if f else "l") + ("h" if s else "l")


def _axes(chart: Chart, words: dict[str, str], money: Callable[[float], str]) -> list[str]:
    y_max = float(chart.y_max)
    base = TOP + PLOT_H
    parts = [
        f'<line x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}" stroke="#999"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{base}" stroke="#999"/>',
        f'<text x="{LEFT + PLOT_W / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12">'
        f"{escape(words['x'])}</text>",
        f'<text x="14" y="{TOP + PLOT_H / 2}" text-anchor="middle" font-size="12" '
        f'transform="rotate(-90 14 {TOP + PLOT_H / 2})">{escape(words["y"])}</text>',
    ]
    for visits in sorted({1, max(1, chart.x_max // 2), chart.x_max}):
        parts.append(f'<text x="{_x(visits, chart.x_max):.1f}" y="{base + 16}" '
                     f'text-anchor="middle" font-size="11">{visits}</text>')  # fmt: skip
    for frac in (0.0, 0.5, 1.0):
        y = _y(y_max * frac, y_max)
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
                     f"{escape(money(y_max * frac))}</text>")  # fmt: skip
    return parts


def _lines(chart: Chart, cuts: Cuts) -> list[str]:
    """The quadrants' lines: half-way between the last "low" visit count and the first
    "high" one; the spend line at the cut itself."""
    first_high = int(cuts.visits.value) + (1 if cuts.visits.strict else 0)
    x = _x(first_high - 0.5, chart.x_max)
    y = _y(float(cuts.spend.value), float(chart.y_max))
    dash = 'stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"'
    return [
        f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + PLOT_H}" {dash}/>',
        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" {dash}/>',
    ]


def _dots(chart: Chart, cuts: Cuts) -> list[str]:
    y_max = float(chart.y_max)
    return [
        f'<circle cx="{_x(v, chart.x_max):.1f}" cy="{_y(float(s), y_max):.1f}" r="3" '
        f'fill="{COLOURS[_quadrant(cuts, v, s)]}" fill-opacity="0.55"/>'
        for v, s in chart.dots
    ]


def _cells(chart: Chart, members: Callable[[int], str]) -> list[str]:
    """Each cell shaded by the log of its count (a few crowded cells would otherwise
    leave the rest blank), its count in its tooltip."""
    if not chart.cells:
        return []
    top = math.log1p(max(chart.cells.values()))
    width = max(1, math.ceil(chart.x_max / X_CELLS))
    y_max = float(chart.y_max)
    parts = []
    for (i, j), count in sorted(chart.cells.items()):
        x0, x1 = _x(i * width + 0.5, chart.x_max), _x((i + 1) * width + 0.5, chart.x_max)
        y1, y0 = _y(j * y_max / Y_CELLS, y_max), _y((j + 1) * y_max / Y_CELLS, y_max)
        shade = 0.12 + 0.88 * math.log1p(count) / top
        parts.append(
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" height="{y1 - y0:.1f}" '
            f'fill="{CELL}" fill-opacity="{shade:.2f}">'
            f"<title>{escape(members(count))}</title></rect>"
        )
    return parts


def scatter(
    chart: Chart,
    cuts: Cuts,
    *,
    title: str,
    words: dict[str, str],
    money: Callable[[float], str],
    members: Callable[[int], str],
) -> Markup:
    """`words`: the axes' names ("x", "y") and the quadrants' ("hh"…) in the reader's
    language; `money` writes an amount, `members` a cell's count."""
    parts = [
        f'<svg class="chart scatter" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        *(_dots(chart, cuts) if chart.dots else _cells(chart, members)),
        *_axes(chart, words, money),
        *_lines(chart, cuts),
    ]
    corners = {"hh": (WIDTH - RIGHT - 4, TOP + 14, "end"), "lh": (LEFT + 6, TOP + 14, "start"),
               "hl": (WIDTH - RIGHT - 4, TOP + PLOT_H - 6, "end"),
               "ll": (LEFT + 6, TOP + PLOT_H - 6, "start")}  # fmt: skip
    for key, (x, y, anchor) in corners.items():
        parts.append(f'<text x="{x}" y="{y}" text-anchor="{anchor}" font-size="12" '
                     f'fill="{COLOURS[key]}">{escape(words[key])}</text>')  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))
