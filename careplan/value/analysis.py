"""The member analysis (会员分析): who the members of a scope are, what the snapshot says
they spend, and who has gone quiet.

One dimension is counted per call (the page loads each tab on its own), so a page never
scans the members ten times. Health dimensions (chronic conditions, drug allergies,
regular medicines) count only members with health consent: without it their health data
is not processed (careplan/members/consent.py), and the share is of consented members.
The members counted are the current ones: not erased, not deceased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import ColumnElement, Date, case, cast, distinct, func, literal, select
from sqlalchemy.orm import Session

from careplan.access import Actor, member_analysis_scope
from careplan.errors import N_, InvalidInput, NotFound
from careplan.models import (
    CarePlan,
    Checkpoint,
    CheckpointResult,
    ContactAttempt,
    Member,
    MemberValue,
    Purchase,
    Store,
)
from careplan.value import activity, snapshot
from careplan.vocab import ValuePeriod

TOP = 10  # values a list dimension shows before "other"
PAGE_SIZE = 50
MONTHS = 12  # new members per month, this month and the 11 before
# Age bands (lower bound of each, in years); the seed's main group 30–45 sits in 30–44.
AGE_BANDS = (("<30", 0), ("30-44", 30), ("45-59", 45), ("60-74", 60), (">=75", 75))


class Dimension(StrEnum):
    sex = "sex"
    age = "age"
    area = "area"
    education = "education"
    income = "income"
    marital = "marital"
    conditions = "conditions"
    allergies = "allergies"
    medicines = "medicines"

    @property
    def health(self) -> bool:
        return self in HEALTH


HEALTH = frozenset({Dimension.conditions, Dimension.allergies, Dimension.medicines})
_COLUMNS: dict[Dimension, Any] = {
    Dimension.sex: Member.sex,
    Dimension.area: Member.residential_area,
    Dimension.education: Member.education,
    Dimension.income: Member.income_band,
    Dimension.marital: Member.marital_status,
}
_LISTS: dict[Dimension, Any] = {
    Dimension.conditions: Member.chronic_conditions,
    Dimension.allergies: Member.drug_allergies,
    Dimension.medicines: Member.regular_medicines,
}


@dataclass(frozen=True)
class Scope:
    region: str | None = None
    store_id: int | None = None

    @property
    def level(self) -> Literal["chain", "region", "store"]:
        return "store" if self.store_id else "region" if self.region else "chain"


def resolve_scope(
    session: Session, actor: Actor, *, region: str | None = None, store_id: int | None = None
) -> Scope:
    """The scope asked for, as access allows it (access.member_analysis_scope)."""
    region, store_id = member_analysis_scope(actor, region=region, store_id=store_id)
    if store_id is not None and session.get(Store, store_id) is None:
        raise NotFound(N_("store %(id)s not found"), field="store_id", id=store_id)
    if region and session.scalar(select(Store.id).where(Store.region == region).limit(1)) is None:
        raise NotFound(N_("no store in that region"), field="region")
    return Scope(region, store_id)


def _stores_of(scope: Scope, column: Any) -> list[ColumnElement[bool]]:
    """A home-store column limited to the scope (members' or the snapshot's)."""
    if scope.store_id is not None:
        return [column == scope.store_id]
    if scope.region:
        return [column.in_(select(Store.id).where(Store.region == scope.region))]
    return []


def _members(scope: Scope) -> list[ColumnElement[bool]]:
    current = Member.erased_at.is_(None) & Member.died_on.is_(None)
    return [*_stores_of(scope, Member.home_store_id), current]


# --- One dimension -----------------------------------------------------------------------


@dataclass(frozen=True)
class Share:
    kind: Literal["value", "empty", "other"]  # "empty": 未填写
    value: str
    members: int
    share: float  # of `Breakdown.total`; a list dimension's shares may add up to more


@dataclass(frozen=True)
class Breakdown:
    dimension: Dimension
    total: int  # members counted (health dimensions: those with consent)
    rows: list[Share]


def _age_band(as_of: date) -> Any:
    """The band's label from the birthday: born after the day N years before `as_of` means
    younger than N (29 Feb falls back to 28 Feb)."""

    def years_before(n: int) -> date:
        try:
            return as_of.replace(year=as_of.year - n)
        except ValueError:
            return as_of.replace(year=as_of.year - n, day=28)

    # Younger than the next band's lower bound: this band.
    nexts = pairwise(AGE_BANDS)
    whens = [(Member.birthday > years_before(upper), label) for (label, _), (_, upper) in nexts]
    return case((Member.birthday.is_(None), literal(None)), *whens, else_=AGE_BANDS[-1][0])


def _shares(total: int, counted: list[tuple[str | None, int]], top: int | None) -> list[Share]:
    """Biggest first; values past `top` folded into "other"; no value as "empty"."""
    empty = sum(n for v, n in counted if v is None or v == "")
    named = sorted(((v, n) for v, n in counted if v), key=lambda vn: (-vn[1], vn[0]))
    shown, rest = (named, []) if top is None else (named[:top], named[top:])
    rows = [Share("value", v, n, n / total if total else 0.0) for v, n in shown]
    if rest:
        others = sum(n for _, n in rest)
        rows.append(Share("other", "", others, others / total if total else 0.0))
    if empty:
        rows.append(Share("empty", "", empty, empty / total if total else 0.0))
    return rows


def breakdown(
    session: Session, scope: Scope, dimension: Dimension, *, as_of: date, top: int = TOP
) -> Breakdown:
    """Members of the scope by one dimension: a count and a share per value."""
    where = _members(scope)
    if dimension in _LISTS:
        return _list_breakdown(session, where, dimension, top)
    if dimension is Dimension.age:
        column, keep_all = _age_band(as_of), True
    else:
        column, keep_all = _COLUMNS[dimension], dimension is Dimension.sex
    counted = [
        (None if v is None else str(v), n)
        for v, n in session.execute(select(column, func.count()).where(*where).group_by(column))
    ]
    total = sum(n for _, n in counted)
    rows = _shares(total, counted, None if keep_all else top)
    if dimension is Dimension.age:  # bands in their order, not by size
        order = {label: i for i, (label, _) in enumerate(AGE_BANDS)}
        rows.sort(key=lambda r: order.get(r.value, len(order)))
    return Breakdown(dimension, total, rows)


def _list_values(session: Session, dimension: Dimension) -> tuple[Any, Any]:
    """A table of one value per row of a member's list, and that value as text (the
    medicine's name for regular medicines), on either database."""
    column = _LISTS[dimension]
    postgres = session.get_bind().dialect.name == "postgresql"
    if dimension is Dimension.medicines:
        items = func.jsonb_array_elements(column) if postgres else func.json_each(column)
        table = items.table_valued("value")
        text = (
            table.c.value.op("->>")("name")
            if postgres
            else func.json_extract(table.c.value, "$.name")
        )
        return table, text
    items = func.jsonb_array_elements_text(column) if postgres else func.json_each(column)
    table = items.table_valued("value")
    return table, table.c.value


def _list_breakdown(
    session: Session, where: list[ColumnElement[bool]], dimension: Dimension, top: int
) -> Breakdown:
    consented = [*where, Member.health_consent.is_(True)]
    total = session.scalar(select(func.count()).select_from(Member).where(*consented)) or 0
    table, text = _list_values(session, dimension)
    # A member who lists a value twice is one member for it.
    per_value = session.execute(
        select(text, func.count(distinct(Member.id)))
        .select_from(Member).join(table, literal(True)).where(*consented, text != "")
        .group_by(text)
    ).all()  # fmt: skip
    with_any = session.scalar(
        select(func.count(distinct(Member.id)))
        .select_from(Member).join(table, literal(True)).where(*consented, text != "")
    ) or 0  # fmt: skip
    counted: list[tuple[str | None, int]] = [(str(v), n) for v, n in per_value]
    counted.append((None, total - with_any))
    return Breakdown(dimension, total, _shares(total, counted, top))


# --- The overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    members: int
    new_per_month: list[tuple[date, int]]  # first day of the month, members created in it
    snapshot_as_of: date | None  # None: no snapshot yet (the figures below are None too)
    period: ValuePeriod
    period_from: date | None = None
    period_to: date | None = None
    buyers: int | None = None  # members who bought in the period
    average_ticket: Decimal | None = None  # spend / tickets (a member's day is a ticket)
    return_rate: float | None = None  # of the buyers, share who came back within 90 days


def _month_starts(as_of: date) -> list[date]:
    starts = []
    year, month = as_of.year, as_of.month
    for _ in range(MONTHS):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _at(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _new_per_month(session: Session, scope: Scope, as_of: date) -> list[tuple[date, int]]:
    """One pass over the year's new members, a sum per month (no dialect's date parts)."""
    starts = _month_starts(as_of)
    ends = [*starts[1:], date(as_of.year + (as_of.month == 12), as_of.month % 12 + 1, 1)]
    created = Member.created_at
    sums = [
        func.coalesce(func.sum(case(((created >= _at(s)) & (created < _at(e)), 1), else_=0)), 0)
        for s, e in zip(starts, ends, strict=True)
    ]
    row = session.execute(
        select(*sums).where(*_members(scope), Member.created_at >= _at(starts[0]),
                            Member.created_at < _at(ends[-1]))
    ).one()  # fmt: skip
    return [(s, int(n)) for s, n in zip(starts, row, strict=True)]


def overview(session: Session, scope: Scope, period: ValuePeriod, *, as_of: date) -> Overview:
    """The scope's figures: members, new members per month, and from the newest value
    snapshot the period's buyers, average ticket and return rate."""
    members = session.scalar(select(func.count()).select_from(Member).where(*_members(scope)))
    months = _new_per_month(session, scope, as_of)
    snap = snapshot.current(session)
    if snap is None:
        return Overview(members or 0, months, None, period)
    start, end = snapshot.period_bounds(period, snap.as_of)
    buyers, spend, tickets, returned = session.execute(
        select(func.count(), func.sum(MemberValue.spend), func.sum(MemberValue.visits),
               func.sum(case((MemberValue.returned, 1), else_=0)))
        .where(MemberValue.snapshot_id == snap.id, MemberValue.period == period,
               *_stores_of(scope, MemberValue.store_id))
    ).one()  # fmt: skip
    ticket = (Decimal(spend) / tickets).quantize(Decimal("0.01")) if tickets else None
    rate = int(returned) / buyers if buyers else None
    return Overview(members or 0, months, snap.as_of, period, start, end, buyers, ticket, rate)


# --- Long inactive --------------------------------------------------------------------------


@dataclass(frozen=True)
class Inactive:
    member_id: int
    name: str
    card_number: str
    mobile: str | None  # None also when the reader may not see phones in a list
    store_id: int
    owner_id: int
    last_seen_on: date | None  # last purchase or contact; None: never


@dataclass(frozen=True)
class InactivePage:
    total: int
    page: int
    pages: int
    rows: list[Inactive]


def checked_days(days: int) -> int:
    if not 30 <= days <= 3650:
        raise InvalidInput(N_("a number of days from 30 to 3650"), field="days")
    return days


def _last_seen(session: Session) -> tuple[Any, Any, Any]:
    """The last purchase, recorded result and contact attempt of each member (correlated:
    each a short read of a member's index)."""
    bought = select(func.max(Purchase.purchased_on)).where(Purchase.member_id == Member.id)
    reached = (
        select(func.max(CheckpointResult.contacted_on))
        .join(Checkpoint, Checkpoint.id == CheckpointResult.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id)
    )
    tried = (
        select(func.max(ContactAttempt.attempted_at))
        .join(Checkpoint, Checkpoint.id == ContactAttempt.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id)
    )
    return (bought.scalar_subquery(), reached.scalar_subquery(), tried.scalar_subquery())


def _latest(session: Session, bought: Any, reached: Any, tried: Any) -> Any:
    """The latest of the three (never: before any day), for ordering, on either database."""
    if session.get_bind().dialect.name == "postgresql":
        never = literal(date(1, 1, 1))
        days = [bought, reached, cast(tried, Date)]
        return func.greatest(*(func.coalesce(d, never) for d in days))
    # SQLite keeps days as 'YYYY-MM-DD' text: the day of a moment is its first ten letters.
    days = [bought, reached, func.substr(tried, 1, 10)]
    return func.max(*(func.coalesce(d, "") for d in days))


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def inactive_members(
    session: Session,
    scope: Scope,
    *,
    as_of: date,
    days: int = activity.DEFAULT_DAYS,
    page: int = 1,
    phones: bool = False,
    page_size: int | None = PAGE_SIZE,
) -> InactivePage:
    """Members of the scope with no purchase and no contact in `days` (activity.inactive),
    longest inactive first (never seen first, then the oldest last sign of life); `phones`:
    whether the reader may see them (access.may_see_phones_in_member_lists)."""
    days = checked_days(days)
    where = [*_members(scope), activity.inactive(as_of, days)]
    total = session.scalar(select(func.count()).select_from(Member).where(*where)) or 0
    bought, reached, tried = _last_seen(session)
    pages = max(1, -(-total // page_size)) if page_size else 1
    page = min(max(page, 1), pages)
    stmt = (
        select(Member.id, Member.name, Member.card_number, Member.mobile, Member.home_store_id,
               Member.owner_id, bought, reached, tried)
        .where(*where)
        .order_by(_latest(session, bought, reached, tried), Member.created_at, Member.id)
    )  # fmt: skip
    if page_size:
        stmt = stmt.limit(page_size).offset((page - 1) * page_size)
    rows = [
        Inactive(mid, name, card, mobile if phones else None, store, owner,
                 max((d for d in map(_day, (b, r, t)) if d is not None), default=None))
        for mid, name, card, mobile, store, owner, b, r, t in session.execute(stmt)
    ]  # fmt: skip
    return InactivePage(total, page, pages, rows)
