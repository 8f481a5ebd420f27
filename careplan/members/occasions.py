"""Greeting occasions: birthdays, anniversaries and the traditional festivals.

docs/domain.md: staff greet members on their birthday, wedding anniversary and their
spouse's birthday, and at 中秋, 端午, 重阳 and 春节. Festivals follow the lunar calendar,
so their Gregorian dates move every year.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import Any, Protocol

from lunar_python import Lunar
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.models import Member

# (key, lunar month, lunar day, zh, en)
FESTIVALS = (
    ("spring_festival", 1, 1, "春节", "Spring Festival"),
    ("dragon_boat", 5, 5, "端午节", "Dragon Boat Festival"),
    ("mid_autumn", 8, 15, "中秋节", "Mid-Autumn Festival"),
    ("double_ninth", 9, 9, "重阳节", "Double Ninth Festival"),
)
MEMBER_DATES = ("birthday", "wedding_anniversary", "spouse_birthday")


@dataclass(frozen=True)
class Festival:
    key: str
    on: date
    zh: str
    en: str

    def name(self, language: str) -> str:
        return self.en if language == "en" else self.zh


@dataclass(frozen=True)
class MemberOccasion:
    kind: str  # one of MEMBER_DATES
    on: date
    member_id: int
    member_name: str
    mobile: str | None
    age: int | None  # the age reached, for birthdays


def festivals_between(first: date, last: date) -> list[Festival]:
    found = [
        festival
        for year in range(first.year - 1, last.year + 1)
        for festival in festivals_of_lunar_year(year)
        if first <= festival.on <= last
    ]
    return sorted(found, key=lambda f: f.on)


@cache
def festivals_of_lunar_year(year: int) -> tuple[Festival, ...]:
    """The festivals of one lunar year, in Gregorian dates. Kept once computed: the
    astronomy behind a lunar date costs about 4 ms each, and every worklist asks."""
    found = []
    for key, month, day, zh, en in FESTIVALS:
        solar = Lunar.fromYmd(year, month, day).getSolar()
        found.append(Festival(key, date(solar.getYear(), solar.getMonth(), solar.getDay()), zh, en))
    return tuple(found)


def anniversary_in(original: date, first: date, last: date) -> date | None:
    """The day in [first, last] that repeats `original`; 29 February falls on the 28th
    in common years (the member still gets a greeting)."""
    for year in range(first.year, last.year + 1):
        try:
            on = original.replace(year=year)
        except ValueError:
            on = date(year, 2, 28)
        if first <= on <= last:
            return on
    return None


class _Dated(Protocol):
    """The columns of a member that occasions read (a row of them, not the whole member)."""

    id: int
    name: str
    mobile: str | None
    birthday: date | None
    special_dates: list[dict[str, Any]]


def _occasions_of(member: _Dated, first: date, last: date) -> list[MemberOccasion]:
    dates: list[tuple[str, date]] = []
    if member.birthday is not None:
        dates.append(("birthday", member.birthday))
    for special in member.special_dates or []:
        if special.get("kind") in MEMBER_DATES:
            dates.append((special["kind"], date.fromisoformat(str(special["date"]))))
    found = []
    for kind, original in dates:
        on = anniversary_in(original, first, last)
        if on is not None:
            age = on.year - original.year if kind == "birthday" else None
            found.append(MemberOccasion(kind, on, member.id, member.name, member.mobile, age))
    return found


def member_occasions(
    session: Session, actor: Actor, *, owner_id: int | None, first: date, last: date
) -> list[MemberOccasion]:
    """Birthdays and special dates of the owner's members (or all visible ones) in range.

    Month-and-day matching is done here, not in SQL: a clerk owns ~100 members and a
    store ~1000, and the two databases disagree on date functions. Only the columns it
    reads are loaded: a whole member (its lists of conditions, medicines…) costs ten times
    more to read, on every worklist."""
    columns = (Member.id, Member.name, Member.mobile, Member.birthday, Member.special_dates)
    stmt = scope_members(select(*columns), actor)
    if owner_id is not None:
        stmt = stmt.where(Member.owner_id == owner_id)
    rows: Iterable[_Dated] = session.execute(stmt)
    found = [o for m in rows for o in _occasions_of(m, first, last)]
    return sorted(found, key=lambda o: (o.on, o.member_name))


def week_of(today: date) -> tuple[date, date]:
    """'This week' on the worklist: today and the six days after it."""
    return today, today + timedelta(days=6)
