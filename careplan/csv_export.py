"""CSV for spreadsheets: every export (audit, lapsed members, the till's template) is
written here, so each opens the same way in Excel or WPS: a byte-order mark (so the
Chinese reads), CRLF lines, and no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

CSV_CHUNK = 2000  # rows a chunk: an export streams, it is never held whole

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAYBE_FORMULA = re.compile(r'(?:^|,)"?[=+\-@\t\r]', re.MULTILINE)


def defused(row: Iterable[Any]) -> list[Any]:
    """A cell a spreadsheet would run as a formula (a member named "=HYPERLINK(...)")
    is written with a leading apostrophe, which shows it as the text it is (OWASP)."""
    return [f"'{v}" if type(v) is str and v.startswith(FORMULA_START) else v for v in row]


def csv_lines(header: list[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """CSV text in chunks, led by a byte-order mark so spreadsheet programs read Chinese.
    (The csv module writes None as an empty field.)"""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    buf.write("\ufeff")
    writer.writerow(header)
    rows = iter(rows)
    while chunk := list(islice(rows, CSV_CHUNK)):
        start = buf.tell()
        writer.writerows(chunk)
        # One scan of the written text finds any cell that may start a formula; only then
        # (rarely) is the chunk written again cell by cell. Cheap for 100,000-row exports.
        if _MAYBE_FORMULA.search(buf.getvalue(), start):
            buf.seek(start)
            buf.truncate()
            writer.writerows(map(defused, chunk))
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue()
