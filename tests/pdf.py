"""Reading PDFs back as a person would: their text, fonts and pages, with poppler-utils
(installed by `make`)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path


def _poppler(tool: str, pdf: bytes, *args: str) -> str:
    done = subprocess.run(
        [tool, *args, "-", "-"] if tool == "pdftotext" else [tool, *args, "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()


def text(pdf: bytes, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return _poppler("pdftotext", pdf, "-layout", *pages)


def flat(value: str) -> str:
    """Text without whitespace: lines wrap wherever the page is full."""
    return re.sub(r"\s+", "", value)


@dataclass(frozen=True)
class Font:
    name: str
    embedded: bool


def fonts(pdf: bytes) -> list[Font]:
    rows = _poppler("pdffonts", pdf).splitlines()[2:]
    found = []
    for row in rows:
        parts = row.split()
        # name type... emb sub uni object ID: emb is the fifth field from the end
        found.append(Font(parts[0], parts[-5] == "yes"))
    return found


def info(pdf: bytes) -> dict[str, str]:
    out = _poppler("pdfinfo", pdf)
    return {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def page_size_mm(pdf: bytes) -> tuple[int, int]:
    """The first page's size in whole millimetres ("595.276 x 841.89 pts" is 210 x 297)."""
    w, _x, h, *_ = info(pdf)["Page size"].split()
    return round(float(w) / 72 * 25.4), round(float(h) / 72 * 25.4)


def pages(pdf: bytes) -> int:
    return int(info(pdf)["Pages"])


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    top: float  # points from the top of the page
    height: float  # points; for Noto Sans CJK, 1.448 x the font size (ascent + descent)


def words(pdf: bytes) -> list[Word]:
    """Every word with its box, from pdftotext's bounding boxes."""
    html = _poppler("pdftotext", pdf, "-bbox")
    found = []
    page = 0
    for line in html.splitlines():
        if "<page " in line:
            page += 1
        m = re.search(r'yMin="([\d.]+)" xMax="[\d.]+" yMax="([\d.]+)">(.*)</word>', line)
        if m:
            top, bottom = float(m.group(1)), float(m.group(2))
            found.append(Word(page, m.group(3), top, bottom - top))
    return found


def gray_page(pdf: bytes, *, dpi: int = 30) -> tuple[int, int, bytes]:
    """The first page rendered by pdftoppm in grey levels: (width, height, pixels)."""
    raw = subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-gray", "-f", "1", "-l", "1", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    ).stdout
    # A binary PGM: "P5\n<width> <height>\n255\n" then one byte per pixel.
    magic, width, height, _max, pixels = raw.split(maxsplit=4)
    assert magic == b"P5"
    return int(width), int(height), pixels


def to_png(pdf: bytes, out: Path, *, dpi: int = 60) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    source = out.with_suffix(".pdf")
    source.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(source), str(out)], check=True)
    return sorted(out.parent.glob(out.name + "*.png"))
