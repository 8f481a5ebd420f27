"""The member analysis (会员分析): who the members of a scope are, what the snapshot says
they spend, and who has gone quiet.

Counting a chain's 200,000 archives (and their JSON lists) on each page takes seconds, so
the members are counted per store and dimension once after each value snapshot
(`refresh_tallies`, into member_tallies), and a page sums its scope's stores' counts, one
dimension a tab: everything is as of the snapshot's day. Health dimensions (chronic
conditions, drug allergies, regular medicines) count only members with health consent:
without it their health data is not processed (careplan/members/consent.py), and the
share is of consented members.
The members counted are the current ones: not erased, not deceased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    delete,
    distinct,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor, member_value_scope
from careplan.db import begin_for_writing
from careplan.errors import N_, InvalidInput, NotFound
from careplan.models import (
    Member,
    MemberTally,
    MemberTallyRun,
    MemberValue,
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
    """The scope asked for, as access allows it (access.member_value_scope)."""
    _, region, store_id = member_value_scope(actor, region=region, store_id=store_id)
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
    as_of: date  # the day counted


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


Counted = list[tuple[str | None, int]]  # (value, members); None: no value


def _count(
    session: Session, store_id: int, dimension: Dimension, as_of: date
) -> tuple[int, Counted]:
    """One store's members by one dimension, from the archive: (members counted, per value)."""
    where = _members(Scope(store_id=store_id))
    if dimension in _LISTS:
        return _count_lists(session, where, dimension)
    column = _age_band(as_of) if dimension is Dimension.age else _COLUMNS[dimension]
    counted: Counted = [
        (None if v is None or v == "" else str(v), n)
        for v, n in session.execute(select(column, func.count()).where(*where).group_by(column))
    ]
    return sum(n for _, n in counted), counted


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


def _count_lists(
    session: Session, where: list[ColumnElement[bool]], dimension: Dimension
) -> tuple[int, Counted]:
    # Without consent a member's health data is not processed, not even counted.
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
    counted: Counted = [(str(v), n) for v, n in per_value]
    counted.append((None, total - with_any))
    return total, counted


# --- The counts per store, made after each value snapshot ---------------------------------

JOINED = "joined"  # the tallies' name for new members per month ("YYYY-MM-01")


def _period_figures(
    session: Session, snapshot_id: int, store_id: int, period: ValuePeriod
) -> dict[str, int]:
    """A store's buyers, tickets, returners and spend (cents) in one period of a snapshot."""
    buyers, tickets, returned, spend = session.execute(
        select(func.count(), func.sum(MemberValue.visits),
               func.sum(case((MemberValue.returned, 1), else_=0)), func.sum(MemberValue.spend))
        .where(MemberValue.snapshot_id == snapshot_id, MemberValue.period == period,
               MemberValue.store_id == store_id)
    ).one()  # fmt: skip
    cents = int((Decimal(spend or 0) * 100).to_integral_value())
    return {"buyers": buyers, "tickets": int(tickets or 0), "returned": int(returned or 0),
            "spend": cents}  # fmt: skip


def _store_rows(
    session: Session, run: tuple[int, int, date], store_id: int
) -> list[dict[str, Any]]:
    """Every row of one store's counts: `run` is (run id, snapshot id, day)."""
    run_id, snapshot_id, as_of = run
    rows: list[dict[str, Any]] = []

    def add(dimension: str, kind: str, value: str, number: int) -> None:
        rows.append({"run_id": run_id, "store_id": store_id, "dimension": dimension,
                     "kind": kind, "value": value[:160], "number": number})  # fmt: skip

    for dimension in Dimension:
        total, counted = _count(session, store_id, dimension, as_of)
        add(dimension.value, "total", "", total)
        for value, n in counted:
            if n:
                add(dimension.value, "value" if value else "empty", value or "", n)
    for month, n in _new_per_month(session, Scope(store_id=store_id), as_of):
        add(JOINED, "value", month.isoformat(), n)
    for period in ValuePeriod:
        for kind, n in _period_figures(session, snapshot_id, store_id, period).items():
            add(f"value:{period.value}", kind, "", n)
    return rows


def refresh_tallies(factory: sessionmaker[Session], *, now: datetime) -> int | None:
    """Count every store's members by each dimension as of the current value snapshot's
    day, make the counts the ones pages read, and drop older ones. Store by store: each
    read is one store's range of members and ends before its rows are written. Run it
    after snapshot.refresh. Returns the run's id (None: no snapshot yet)."""
    with factory.begin() as session:
        begin_for_writing(session)
        snap = snapshot.current(session)
        if snap is None:
            return None
        run = MemberTallyRun(snapshot_id=snap.id, as_of=snap.as_of, started_at=now)
        session.add(run)
        session.flush()
        key = (run.id, snap.id, snap.as_of)
        stores = list(session.scalars(select(Store.id).order_by(Store.id)))
    for store_id in stores:
        with factory() as reading:
            rows = _store_rows(reading, key, store_id)
        with factory.begin() as session:
            begin_for_writing(session)
            session.execute(insert(MemberTally), rows)
    with factory.begin() as session:
        begin_for_writing(session)
        session.execute(
            update(MemberTallyRun).where(MemberTallyRun.id == key[0]).values(ready_at=now)
        )
        # As with the snapshot, the previous run stays until the next: a page reading it
        # still finds it whole.
        previous = session.scalar(
            select(func.max(MemberTallyRun.id)).where(
                MemberTallyRun.id < key[0], MemberTallyRun.ready_at.is_not(None)
            )
        )
        gone = MemberTallyRun.id < key[0]
        if previous is not None:
            gone = gone & (MemberTallyRun.id != previous)
        older = select(MemberTallyRun.id).where(gone)
        session.execute(delete(MemberTally).where(MemberTally.run_id.in_(older)))
        session.execute(delete(MemberTallyRun).where(gone))
    return key[0]


def current_run(session: Session) -> MemberTallyRun | None:
    """The newest complete counts, the ones every page reads."""
    return session.scalar(
        select(MemberTallyRun)
        .where(MemberTallyRun.ready_at.is_not(None))
        .order_by(MemberTallyRun.id.desc())
        .limit(1)
    )


def _tallied(
    session: Session, run_id: int, scope: Scope, dimension: str
) -> list[tuple[str, str, int]]:
    """(kind, value, members) of one dimension, summed over the scope's stores."""
    return [
        (kind, value, int(n))
        for kind, value, n in session.execute(
            select(MemberTally.kind, MemberTally.value, func.sum(MemberTally.number))
            .where(MemberTally.run_id == run_id, MemberTally.dimension == dimension,
                   *_stores_of(scope, MemberTally.store_id))
            .group_by(MemberTally.kind, MemberTally.value)
        )
    ]  # fmt: skip


def breakdown(
    session: Session, scope: Scope, dimension: Dimension, *, top: int = TOP
) -> Breakdown | None:
    """Members of the scope by one dimension, as of the current counts' day: a count and
    a share per value (None: not counted yet)."""
    run = current_run(session)
    if run is None:
        return None
    tallied = _tallied(session, run.id, scope, dimension.value)
    total = sum(n for kind, _, n in tallied if kind == "total")
    counted: Counted = [
        (v if kind == "value" else None, n) for kind, v, n in tallied if kind != "total"
    ]
    keep_all = dimension in (Dimension.sex, Dimension.age)
    rows = _shares(total, counted, None if keep_all else top)
    if dimension is Dimension.age:  # bands in their order, not by size
        order = {label: i for i, (label, _) in enumerate(AGE_BANDS)}
        rows.sort(key=lambda r: order.get(r.value, len(order)))
    return Breakdown(dimension, total, rows, run.as_of)


# --- The overview --------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    snapshot_as_of: date | None  # None: no snapshot yet (every figure below is None)
    period: ValuePeriod
    members: int | None = None  # as of the counts' day
    new_per_month: list[tuple[date, int]] | None = None  # month's first day, members joined
    counted_on: date | None = None  # the counts' day (None: not counted yet)
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


def overview(session: Session, scope: Scope, period: ValuePeriod) -> Overview:
    """The scope's figures as of the counts' day: members, new members per month, and the
    period's buyers, average ticket and return rate (from the snapshot they were made of)."""
    run = current_run(session)
    if run is None:
        snap = snapshot.current(session)
        return Overview(snap.as_of if snap else None, period)
    members = sum(n for k, _, n in _tallied(session, run.id, scope, Dimension.sex.value)
                  if k == "total")  # fmt: skip
    joined = {date.fromisoformat(v): n for _, v, n in _tallied(session, run.id, scope, JOINED)}
    months = [(m, joined.get(m, 0)) for m in _month_starts(run.as_of)]
    f = {k: n for k, _, n in _tallied(session, run.id, scope, f"value:{period.value}")}
    buyers, tickets = f.get("buyers", 0), f.get("tickets", 0)
    ticket = (
        (Decimal(f.get("spend", 0)) / 100 / tickets).quantize(Decimal("0.01")) if tickets else None
    )
    rate = f.get("returned", 0) / buyers if buyers else None
    start, end = snapshot.period_bounds(period, run.as_of)
    return Overview(run.as_of, period, members, months, run.as_of, start, end, buyers, ticket,
                    rate)  # fmt: skip


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
        raise InvalidInput(N_("a number of days from 30 to 3650"), field="inactive_days")
    return days


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
    """Members of the scope with no purchase and no contact in `days` (activity.quiet),
    longest inactive first (never seen first, then the oldest last sign of life); `phones`:
    whether the reader may see them (access.may_see_phones_in_member_lists)."""
    days = checked_days(days)
    stores = _stores_of(scope, Member.home_store_id)
    # Never seen first (by when they joined), then the oldest last sign of life: two
    # ranges of one index, each counted and paged on its own.
    never, seen_before = activity.quiet(as_of, days)
    parts = [
        (and_(*stores, never), (Member.created_at, Member.id)),
        (and_(*stores, seen_before), (Member.last_seen_on, Member.created_at, Member.id)),
    ]
    counts = [session.scalar(select(func.count()).where(w)) or 0 for w, _ in parts]
    total = sum(counts)
    pages = max(1, -(-total // page_size)) if page_size else 1
    page = min(max(page, 1), pages)
    skip, left = ((page - 1) * page_size, page_size) if page_size else (0, None)
    rows: list[Inactive] = []
    for (where, order), count in zip(parts, counts, strict=True):
        if left == 0 or skip >= count:
            skip = max(0, skip - count)
            continue
        stmt = (
            select(Member.id, Member.name, Member.card_number, Member.mobile,
                   Member.home_store_id, Member.owner_id, Member.last_seen_on)
            .where(where).order_by(*order).offset(skip).limit(left)
        )  # fmt: skip
        found = [
            Inactive(mid, name, card, mobile if phones else None, store, owner, seen)
            for mid, name, card, mobile, store, owner, seen in session.execute(stmt)
        ]
        rows += found
        skip = 0
        left = None if left is None else left - len(found)
    return InactivePage(total, page, pages, rows)
