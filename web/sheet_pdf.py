"""Guidance sheets as PDF: one Jinja2 template per sheet, laid out by WeasyPrint.

Each sheet is laid out on its own (its own language, its own page count) and the pages
are joined into one document, so a batch reports progress sheet by sheet and fonts are
subset once for the whole PDF. The fonts are Debian's Noto Sans CJK, found through
fontconfig and embedded (subset) in every PDF: a sheet must print the same everywhere.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from functools import cache
from typing import TYPE_CHECKING

from markupsafe import Markup

from careplan.sheets.sheets import Sheet, Trend
from careplan.vocab import Paper
from web.charts import Series, line_chart
from web.i18n import gettext_for
from web.templating import env

if TYPE_CHECKING:  # weasyprint takes most of a second to import: loaded at the first PDF,
    # so `careplan serve`, the CLI and every worker start without it.
    from weasyprint import Document
    from weasyprint.text.fonts import FontConfiguration

FONT_FAMILY = "Noto Sans CJK SC"
TEMPLATE = "sheets/sheet.html"


class FontMissing(RuntimeError):
    pass


@cache
def check_font() -> str:
    """Fail loudly, once, if the CJK font is not installed: WeasyPrint would otherwise
    fall back to whatever it finds and print boxes where the Chinese should be."""
    fc_list = shutil.which("fc-list")
    found = subprocess.run(
        [fc_list or "fc-list", f":family={FONT_FAMILY}", "file"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not found:
        raise FontMissing(
            f"the font {FONT_FAMILY!r} is not installed: run `make install` "
            "(it installs Debian's fonts-noto-cjk)"
        )
    return found.splitlines()[0].rstrip(":")


@cache
def _fonts() -> FontConfiguration:
    from weasyprint.text.fonts import FontConfiguration

    # One configuration for the process: fontconfig's font list is read once, not per sheet.
    check_font()
    return FontConfiguration()


CHART_MIN_READINGS = 3  # two readings read better as two table rows than as a line


def trend_chart(trend: Trend, language: str) -> Markup:
    if len(trend.readings) < CHART_MIN_READINGS:
        return Markup("")
    series = [
        Series(
            label,
            [
                (datetime.combine(r.on, time(12), UTC), r.values[key])
                for r in trend.readings
                if key in r.values
            ],
        )
        for key, label in trend.parts
    ]
    # Large labels: the chart prints about 0.8 of its size, and its readers are elderly.
    return line_chart(
        series, title=trend.title, unit=trend.unit, date_fmt="%m-%d", font_size=18,
        language=language,
    )  # fmt: skip


def sheet_html(sheet: Sheet, paper: Paper) -> str:
    """The complete, self-contained HTML of one sheet (styles inline, no external files)."""
    return env.get_template(TEMPLATE).render(
        sheet=sheet,
        paper=paper,
        lang=sheet.language,
        _=gettext_for(sheet.language),
        chart=trend_chart,
        font_family=FONT_FAMILY,
    )


def layout(html: str) -> Document:
    from weasyprint import HTML

    return HTML(string=html).render(font_config=_fonts())


def render_pdf(
    sheets: Sequence[Sheet], paper: Paper, progress: Callable[[int], None] | None = None
) -> bytes:
    """All sheets as one PDF, calling `progress(n)` after each sheet is laid out."""
    if not sheets:
        raise ValueError("no sheets to render")
    documents = []
    for n, sheet in enumerate(sheets, start=1):
        documents.append(layout(sheet_html(sheet, paper)))
        if progress is not None:
            progress(n)
    pages = [page for doc in documents for page in doc.pages]
    pdf = documents[0].copy(pages).write_pdf()
    assert pdf is not None
    return pdf
