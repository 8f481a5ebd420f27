"""A period of days asked for by a report (measured adherence, the audit): its defaults,
and the one check that refuses a period no report can measure, naming the field.

Refused: a period that ends before it starts, and a day before 1900. No member bought or
was looked after then, and date arithmetic near year 1 overflows (the default start is
counted back from the end)."""

from __future__ import annotations

from datetime import date, timedelta

from careplan.errors import N_, InvalidInput

EARLIEST = date(1900, 1, 1)


def checked_day(day: date, field: str) -> date:
    if day < EARLIEST:
        raise InvalidInput(N_("must be %(earliest)s or later"), field=field, earliest=EARLIEST)
    return day


def period(
    start: date | None,
    end: date | None,
    *,
    default_end: date,
    days: int,
    fields: tuple[str, str] = ("start", "end"),
) -> tuple[date, date]:
    """[start, end], both inclusive: `end` defaults to `default_end`, `start` to the
    `days` days that end on `end`."""
    start_field, end_field = fields
    end = checked_day(end or default_end, end_field)
    start = checked_day(start or end - timedelta(days=days - 1), start_field)
    if start > end:
        raise InvalidInput(N_("the period starts after it ends"), field=start_field)
    return start, end
