"""Spend and visits per member and period, as of one day, computed from the purchases.

Tiers, quadrants and the analysis read the newest ready snapshot instead of summing a
chain's purchases on every page (200,000 members buy a few million lines a year). The
computation reads in one transaction and writes in short ones under a new snapshot id,
which becomes visible only once complete: a page never sees half of one, and SQLite's
write lock is never held while the purchases are read."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from careplan.db import begin_for_writing
from careplan.models import (
    Member,
    MemberTallyRun,
    MemberValue,
    Purchase,
    ValueChartCell,
    ValueSnapshot,
)
from careplan.vocab import ValuePeriod

RETURN_DAYS = 90  # "bought again within 90 days" (the return rate)
MEMBERS_PER_STEP = 2_000  # members read, then written, per step
CELLS_PER_STEP = 5_000  # chart cells written per transaction
STALE = timedelta(hours=6)  # a snapshot still unfinished after this was left by a crash


def _months_back(day: date, months: int) -> date:
    """The day after the same day `months` months earlier (a period of whole months
    ending on `day`); the 31st of a shorter month falls back to its last day."""
    month0 = day.month - 1 - months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d) + timedelta(days=1)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def period_bounds(period: ValuePeriod, as_of: date) -> tuple[date, date]:
    """First and last day of a period ending on (or, last year, before) `as_of`."""
    match period:
        case ValuePeriod.last_12_months:
            return _months_back(as_of, 12), as_of
        case ValuePeriod.last_6_months:
            return _months_back(as_of, 6), as_of
        case ValuePeriod.last_3_months:
            return _months_back(as_of, 3), as_of
        case ValuePeriod.year_to_date:
            return date(as_of.year, 1, 1), as_of
        case ValuePeriod.last_year:
            return date(as_of.year - 1, 1, 1), date(as_of.year - 1, 12, 31)
    raise AssertionError(period)


@dataclass
class _Tally:
    spend: Decimal
    visits: int
    first_on: date
    last_on: date
    returned: bool


def _member_rows(
    days: list[tuple[date, Decimal]], bounds: dict[ValuePeriod, tuple[date, date]]
) -> Iterator[tuple[ValuePeriod, _Tally]]:
    """One member's tallies, from their purchase days (ascending) and each day's spend."""
    for period, (start, end) in bounds.items():
        inside = [(d, amount) for d, amount in days if start <= d <= end]
        if not inside:
            continue
        first = inside[0][0]
        # A return may fall after the period's end (up to the snapshot's day).
        returned = any(first < d <= first + timedelta(days=RETURN_DAYS) for d, _ in days)
        spend = sum((amount for _, amount in inside), Decimal(0))
        yield period, _Tally(spend, len(inside), first, inside[-1][0], returned)


def _purchase_days(
    session: Session, since: date, as_of: date, members: tuple[int, int]
) -> Iterator[tuple[int, int, list[tuple[date, Decimal]]]]:
    """(member, home store, [(day, spend that day)]) for each member whose id is in the
    range [lo, hi) and who bought since `since`."""
    rows = session.execute(
        select(Purchase.member_id, Member.home_store_id, Purchase.purchased_on,
               func.sum(Purchase.amount))
        .join(Member, Member.id == Purchase.member_id)
        .where(Purchase.member_id >= members[0], Purchase.member_id < members[1])
        .where(Purchase.purchased_on >= since, Purchase.purchased_on <= as_of)
        .group_by(Purchase.member_id, Member.home_store_id, Purchase.purchased_on)
        .order_by(Purchase.member_id, Purchase.purchased_on)
    )  # fmt: skip
    current: tuple[int, int] | None = None
    days: list[tuple[date, Decimal]] = []
    for member_id, store_id, day, spend in rows:
        if current is not None and current[0] != member_id:
            yield current[0], current[1], days
            days = []
        current = (member_id, store_id)
        days.append((day, Decimal(spend)))
    if current is not None:
        yield current[0], current[1], days


def compute(
    session: Session, snapshot_id: int, as_of: date, members: tuple[int, int]
) -> Iterator[dict[str, object]]:
    """The snapshot's rows for a range of member ids, from the purchases (read only)."""
    bounds = {p: period_bounds(p, as_of) for p in ValuePeriod}
    since = min(start for start, _ in bounds.values())
    for member_id, store_id, days in _purchase_days(session, since, as_of, members):
        for period, t in _member_rows(days, bounds):
            yield {
                "snapshot_id": snapshot_id, "period": period, "member_id": member_id,
                "store_id": store_id, "spend": t.spend, "visits": t.visits,
                "first_on": t.first_on, "last_on": t.last_on, "returned": t.returned,
            }  # fmt: skip


def refresh(
    factory: sessionmaker[Session], *, as_of: date, now: datetime, by: int | None = None
) -> int:
    """Compute a new snapshot as of a day, make it the one pages read, and drop the
    older ones. Returns its id."""
    with factory.begin() as session:
        begin_for_writing(session)
        snap = ValueSnapshot(as_of=as_of, started_at=now, requested_by_id=by)
        session.add(snap)
        session.flush()
        snapshot_id = snap.id
    # Member by member range: each read is a short range of the (member, day) index and
    # ends before its rows are written, so no transaction stays open for the whole run.
    with factory() as reading:
        last = reading.scalar(select(func.max(Member.id))) or 0
    for lo in range(0, last + 1, MEMBERS_PER_STEP):
        with factory() as reading:
            rows = list(compute(reading, snapshot_id, as_of, (lo, lo + MEMBERS_PER_STEP)))
        if rows:
            with factory.begin() as session:
                begin_for_writing(session)
                session.execute(insert(MemberValue), rows)
    _write_charts(factory, snapshot_id)
    with factory.begin() as session:
        begin_for_writing(session)
        count = session.scalar(
            select(func.count()).where(
                MemberValue.snapshot_id == snapshot_id,
                MemberValue.period == ValuePeriod.last_12_months,
            )
        )
        session.execute(
            update(ValueSnapshot)
            .where(ValueSnapshot.id == snapshot_id)
            .values(ready_at=now, members=count or 0)
        )
        # The previous snapshot stays until the next one: a page that began reading it
        # before this commit still finds it whole. Older ones go, and any a crash left
        # half-written.
        previous = session.scalar(
            select(func.max(ValueSnapshot.id)).where(
                ValueSnapshot.id < snapshot_id, ValueSnapshot.ready_at.is_not(None)
            )
        )
        # A half-written one younger than STALE may be another refresh still at work
        # (the nightly run and a button press): it is left to finish.
        gone = (ValueSnapshot.id < snapshot_id) & (
            ValueSnapshot.ready_at.is_not(None) | (ValueSnapshot.started_at < now - STALE)
        )
        if previous is not None:
            gone = gone & (ValueSnapshot.id != previous)
        # The snapshot the newest complete analysis counts were made of stays with them: a
        # refresh stopped between its snapshot and its counts (killed, say) leaves those
        # counts the analysis pages' last ones, and removing their snapshot would take
        # them with it (a cascade) until the next counts are whole.
        counted = (
            select(MemberTallyRun.snapshot_id)
            .where(MemberTallyRun.ready_at.is_not(None))
            .order_by(MemberTallyRun.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        gone = gone & (ValueSnapshot.id != func.coalesce(counted, 0))
        older = select(ValueSnapshot.id).where(gone)
        session.execute(delete(MemberValue).where(MemberValue.snapshot_id.in_(older)))
        session.execute(delete(ValueChartCell).where(ValueChartCell.snapshot_id.in_(older)))
        session.execute(delete(ValueSnapshot).where(gone))
    return snapshot_id


def _write_charts(factory: sessionmaker[Session], snapshot_id: int) -> None:
    """The large scopes' chart grids, counted in one read (a second or so at 200,000
    members) and written in short steps before the snapshot is ready, so its first page
    already finds them."""
    # tiers reads snapshots (current, period_bounds), so it is imported here, not above.
    from careplan.value.tiers import default_charts

    with factory() as reading:
        cells = list(default_charts(reading, snapshot_id))
    for lo in range(0, len(cells), CELLS_PER_STEP):
        with factory.begin() as session:
            begin_for_writing(session)
            session.execute(insert(ValueChartCell), cells[lo : lo + CELLS_PER_STEP])


def current(session: Session) -> ValueSnapshot | None:
    """The newest complete snapshot, the one every figure reads."""
    return session.scalar(
        select(ValueSnapshot)
        .where(ValueSnapshot.ready_at.is_not(None))
        .order_by(ValueSnapshot.id.desc())
        .limit(1)
    )
