"""Babel catalogues (zh_CN, en): the language of each request, and its gettext.

Message ids are English; the zh_CN catalogue translates every one (a test keeps the
catalogue complete). Catalogues are read from the .po files at start-up, so there is
no compiled artefact to forget to build.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

HERE = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("zh", "en")
LOCALE_OF = {"zh": "zh_CN", "en": "en"}
DEFAULT = "zh"


def N_(message: str) -> str:
    """Marks a message for extraction; translated where it is shown."""
    return message


def po_path(language: str) -> Path:
    return HERE / LOCALE_OF[language] / "LC_MESSAGES" / "messages.po"


@cache
def translations(language: str) -> Translations:
    with po_path(language).open("rb") as f:
        catalog = read_po(f, locale=LOCALE_OF[language])
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def gettext_for(language: str) -> Callable[..., str]:
    t = translations(language if language in LANGUAGES else DEFAULT)

    def _(message: str, **values: Any) -> str:
        text = t.gettext(message)
        return text % values if values else text

    return _


# Punctuation in the reader's language: "：" and "（…）" in Chinese, ": " and " (…)" in English.
COLON, OPEN, CLOSE = N_(": "), N_(" ("), N_(")")


def in_brackets(_: Callable[..., str], text: str) -> str:
    """An aside in the reader's brackets (`_` is their gettext): "（mmHg）", " (mmHg)"."""
    return f"{_(OPEN)}{text}{_(CLOSE)}"


def negotiate(accept_language: str | None) -> str:
    """The first of zh/en the browser asks for (q-values honoured); Chinese otherwise."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower()))
    for _q, _i, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary in LANGUAGES and _q < 0:
            return primary
    return DEFAULT
