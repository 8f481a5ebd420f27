"""Trend charts of health checks as server-rendered SVG: no script, no CDN, prints well."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from web.i18n import gettext_for, in_brackets

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36
COLOURS = ("#1f5fa8", "#c0392b", "#2e7d32")


@dataclass(frozen=True)
class Series:
    label: str
    points: Sequence[tuple[datetime, float]]


def _scale(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:
        return lo - 1, hi + 1
    pad = (hi - lo) * 0.1
    return lo - pad, hi + pad


def _tick(value: float, span: float) -> str:
    # Enough decimals that the three axis labels differ (7.45, 7.50, 7.55, not 7.5 thrice).
    decimals = 1 if span >= 2 else 2 if span >= 0.2 else 3
    return f"{value:.{decimals}f}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    unit: str,
    date_fmt: str,
    language: str,
    font_size: int = 11,
) -> Markup:
    """One line per component (systolic and diastolic share a chart); x is time. The
    legend's unit in the language's brackets: "收缩压（mmHg）", "Systolic (mmHg)"."""
    points = [p for s in series for p in s.points]
    if not points:
        return Markup("")
    t0 = min(t for t, _ in points).timestamp()
    t1 = max(t for t, _ in points).timestamp()
    lo, hi = _scale(min(v for _, v in points), max(v for _, v in points))
    span_t = (t1 - t0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xy(t: datetime, v: float) -> tuple[float, float]:
        x = LEFT + (t.timestamp() - t0) / span_t * plot_w if t1 > t0 else LEFT + plot_w / 2
        return round(x, 1), round(TOP + (hi - v) / (hi - lo) * plot_h, 1)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'stroke="#999"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        v = lo + (hi - lo) * frac
        y = TOP + (1 - frac) * plot_h
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="{font_size}">'
            f"{_tick(v, hi - lo)}</text>"
            f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="#eee"/>'
        )
    for t in sorted({t for t, _ in points})[:: max(1, len(points) // 6) or 1]:
        x, _y = xy(t, lo)
        label = escape(t.strftime(date_fmt))
        parts.append(
            f'<text x="{x}" y="{HEIGHT - 12}" text-anchor="middle" font-size="{font_size}">'
            f"{label}</text>"
        )
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        coords = [xy(t, v) for t, v in sorted(s.points)]
        path = " ".join(f"{x},{y}" for x, y in coords)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"/>')
        for (x, y), (_t, v) in zip(coords, sorted(s.points), strict=True):
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="3.5" fill="{colour}"><title>{escape(s.label)} '
                f"{v:g} {escape(unit)}</title></circle>"
            )
        parts.append(
            f'<text x="{LEFT + 8 + i * 10 * font_size}" y="{TOP + font_size}" '
            f'font-size="{font_size + 1}" fill="{colour}">'
            f"{escape(s.label)}{escape(in_brackets(gettext_for(language), unit))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


BAR_ROW, BAR_LABEL, BAR_NUMBER = 26, 150, 64


def bar_chart(bars: Sequence[tuple[str, int]], *, title: str, font_size: int = 12) -> Markup:
    """Horizontal bars, one a row, each with its label on the left and its count at its
    end (the member analysis: age bands, new members per month). The table beside it
    carries the same numbers for a screen reader and for copying."""
    if not bars:
        return Markup("")
    top = max(n for _, n in bars) or 1
    height = TOP + len(bars) * BAR_ROW + 4
    plot_w = WIDTH - BAR_LABEL - BAR_NUMBER
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, n) in enumerate(bars):
        y = TOP + i * BAR_ROW
        w = round(n / top * plot_w, 1)
        parts.append(
            f'<text x="{BAR_LABEL - 8}" y="{y + BAR_ROW / 2 + 4:.1f}" text-anchor="end" '
            f'font-size="{font_size}">{escape(label)}</text>'
            f'<rect x="{BAR_LABEL}" y="{y + 4}" width="{w}" height="{BAR_ROW - 8}" '
            f'fill="{COLOURS[0]}"/>'
            f'<text x="{BAR_LABEL + w + 6:.1f}" y="{y + BAR_ROW / 2 + 4:.1f}" '
            f'font-size="{font_size}">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
