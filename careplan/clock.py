"""'Today' is a date in the chain's time zone; everything else takes it as an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime

from careplan.config import get_settings


def now() -> datetime:
    return datetime.now(UTC)


def today() -> date:
    return datetime.now(get_settings().zone).date()


def local_date(moment: datetime) -> date:
    return moment.astimezone(get_settings().zone).date()
