"""Reading a CSV file so that a record it cannot hold is named by its line and column.

Two things in a record make it unreadable: a field longer than the csv module's limit
(131,072 characters; csv.Error), and a NUL character, which is never valid text and
which PostgreSQL refuses to store. Both raise BadRecord, and the files careplan reads
(till exports, bulk enrolment) report it as their other bad lines are reported.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator

from careplan.errors import N_
from careplan.validation import NUL, NUL_MESSAGE

TOO_LONG = N_("longer than a CSV field may be (131,072 characters)")
UNREADABLE = N_("not readable as CSV (a stray quote or line break)")
_MARKS = re.compile(r'[",]')


class BadRecord(Exception):
    """`line` as csv.reader counts (the header is line 1); `column` from 0."""

    def __init__(self, line: int, column: int, message: str) -> None:
        super().__init__(message)
        self.line, self.column, self.message = line, column, message


def records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of each record, the number being the record's last line."""
    record: list[str] = []  # the lines of the record being read, to find the column at fault
    reader = csv.reader(_kept(lines, record))
    try:
        for row in reader:
            yield reader.line_num, row
            record.clear()
    except csv.Error as exc:
        text, too_long = "".join(record), str(exc).startswith("field larger")
        message = TOO_LONG if too_long else UNREADABLE
        raise BadRecord(reader.line_num, _long_column(text), message) from None


def _kept(lines: Iterable[str], record: list[str]) -> Iterator[str]:
    # A generator costs the reader next to nothing per line (a class's __next__ was a
    # fifth of the reading time); so does the NUL scan, in C.
    for number, line in enumerate(lines, start=1):
        record.append(line)
        if NUL in line:
            text = "".join(record)
            raise BadRecord(number, _column_at(text, text.index(NUL)), NUL_MESSAGE)
        yield line


def _column_at(text: str, at: int) -> int:
    """The column the record's text is in at index `at`: commas outside quotes before it
    (a doubled quote toggles twice)."""
    column, quoted = 0, False
    for mark in _MARKS.finditer(text, 0, at):
        if mark.group() == '"':
            quoted = not quoted
        elif not quoted:
            column += 1
    return column


def _long_column(text: str) -> int:
    """The first column whose field runs past the csv module's limit (else the last)."""
    limit, column, start, quoted = csv.field_size_limit(), 0, 0, False
    for mark in _MARKS.finditer(text):
        if mark.start() - start > limit:
            break
        if mark.group() == '"':
            quoted = not quoted
        elif not quoted:
            column, start = column + 1, mark.end()
    return column
