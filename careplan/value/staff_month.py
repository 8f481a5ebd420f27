"""The clerk's month (店员月度考核): member care as a KPI, per staff member and calendar month.

Every figure is read from recorded facts (ownership periods, registrations, steps,
purchases, complaints, lecture seats) and defined once in docs/member-value.md, section
"店员月度考核". Who sees whose row is `access.may_see_staff_month`; the on-time rule is the
audit's (`audit.due_source`), the long-inactive rule `activity.inactive`, the 90-day
return window the snapshot's (`snapshot.RETURN_DAYS`).

A month is a calendar month in the chain's time zone; moments (ownership changes,
check-ins, registrations) are compared with its local midnights.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from careplan.access import Actor, may_see_staff_month
from careplan.audit import audit
from careplan.config import get_settings
from careplan.errors import N_, InvalidInput, NotFound
from careplan.models import Complaint, LectureSeat, Member, Ownership, Purchase, Staff, Store
from careplan.periods import checked_day
from careplan.value.activity import DEFAULT_DAYS, inactive
from careplan.value.snapshot import RETURN_DAYS
from careplan.vocab import OwnershipReason

TREND_MONTHS = 12
CENT = Decimal("0.01")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


# --- The month asked for ---------------------------------------------------------------


@dataclass(frozen=True)
class Month:
    first: date
    last: date

    @property
    def key(self) -> str:
        return f"{self.first.year:04d}-{self.first.month:02d}"

    @property
    def start_at(self) -> datetime:
        return local_midnight(self.first)

    @property
    def end_at(self) -> datetime:
        """The local midnight after the month's last day: "at the month's end"."""
        return local_midnight(self.last + timedelta(days=1))

    def back(self, months: int) -> Month:
        index = self.first.year * 12 + self.first.month - 1 - months
        return month_of(date(index // 12, index % 12 + 1, 1))


def local_midnight(day: date) -> datetime:
    """The start of `day` in the chain's time zone, as a UTC moment."""
    return datetime.combine(day, time(), tzinfo=get_settings().zone).astimezone(UTC)


def month_of(day: date) -> Month:
    first = day.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return Month(first, following - timedelta(days=1))


def parse_month(text: str | None, *, today: date) -> Month:
    """ "2024-03" (the form's value); empty: this month. A month after this one has no
    figures yet and is refused, naming the field."""
    if not text:
        return month_of(today)
    found = _MONTH.match(text.strip())
    if not found or not 1 <= int(found.group(2)) <= 12:
        raise InvalidInput(N_("a month as YYYY-MM, e.g. 2024-03"), field="month")
    first = checked_day(date(int(found.group(1)), int(found.group(2)), 1), "month")
    if first > today:
        raise InvalidInput(N_("cannot be after this month"), field="month")
    return month_of(first)


def owner_share() -> Decimal:
    """CAREPLAN_OWNER_SALES_SHARE as a Decimal (0.70 → the owner's 70 %)."""
    return Decimal(str(get_settings().owner_sales_share))


# --- Figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    owned: int = 0  # members owned at the month's end
    registered: int = 0  # new members registered in the month
    due: int = 0  # steps due in the month (grace ended), assigned to them
    on_time: int = 0  # of those, done on time
    buyers: int = 0  # their members who bought in the month
    returned: int = 0  # of those, bought again within 90 days of their first purchase
    lost: int = 0  # their members long inactive at the month's end
    complaints: int = 0  # complaints about them received in the month
    attended: int = 0  # lecture seats their members checked in to
    sales: Decimal = Decimal(0)  # credited sales (owner's share + seller's share)
    store_sales: Decimal = Decimal(0)  # what the store's staff were credited in all

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    @property
    def return_rate(self) -> float | None:
        return self.returned / self.buyers if self.buyers else None

    @property
    def sales_share(self) -> float | None:
        return float(self.sales / self.store_sales) if self.store_sales else None

    def add(self, other: Figures) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class StaffRow:
    staff_id: int
    name: str
    store_id: int
    figures: Figures = field(default_factory=Figures)


@dataclass
class MonthTable:
    month: Month
    store: Store | None
    region: str | None
    rows: list[StaffRow]
    total: Figures


# --- Who is counted ------------------------------------------------------------------------


def _credited_owner() -> ColumnElement[Any]:
    """Whose member it is for the figures: a holiday cover lends the members but does not
    move them, so they stay the owner's they go back to (a cover made permanent, its end
    cleared because that owner left, is the coverer's)."""
    lent = and_(
        Ownership.reason == OwnershipReason.cover,
        Ownership.cover_until.is_not(None),
        Ownership.returns_to_id.is_not(None),
    )
    return case((lent, Ownership.returns_to_id), else_=Ownership.staff_id)


def _in_force(at: Any) -> ColumnElement[bool]:
    """The ownership period that holds at the moment `at` (a bound value or a column)."""
    return and_(
        Ownership.started_at <= at, or_(Ownership.ended_at.is_(None), Ownership.ended_at > at)
    )


def _not_gone_by(moment: datetime, last: date) -> ColumnElement[bool]:
    return and_(
        or_(Member.erased_at.is_(None), Member.erased_at >= moment),
        or_(Member.died_on.is_(None), Member.died_on > last),
    )


def _owned_at_end(m: Month) -> Any:
    """(owner, member) of every member owned at the month's end."""
    owner = _credited_owner().label("owner")
    return (
        select(owner, Member.id.label("member_id"))
        .select_from(Ownership)
        .join(Member, Member.id == Ownership.member_id)
        .where(_in_force(m.end_at), _not_gone_by(m.end_at, m.last))
    )


def _counts(session: Session, stmt: Any) -> dict[int, int]:
    return {int(k): int(n) for k, n in session.execute(stmt).all() if k is not None}


def _owned(session: Session, m: Month, staff: set[int]) -> dict[int, int]:
    sub = _owned_at_end(m).subquery()
    stmt = select(sub.c.owner, func.count()).where(sub.c.owner.in_(staff)).group_by(sub.c.owner)
    return _counts(session, stmt)


def _lost(session: Session, m: Month, staff: set[int]) -> dict[int, int]:
    """Owned at the month's end and long inactive then (activity.inactive, 180 days)."""
    owner = _credited_owner()
    stmt = (
        select(owner, func.count())
        .select_from(Ownership)
        .join(Member, Member.id == Ownership.member_id)
        .where(_in_force(m.end_at), _not_gone_by(m.end_at, m.last))
        .where(inactive(m.last, DEFAULT_DAYS), owner.in_(staff))
        .group_by(owner)
    )
    return _counts(session, stmt)


def _registered(session: Session, m: Month, staff: set[int]) -> dict[int, int]:
    """New members belong to whoever registered them: the first ownership period
    (reason "registered") names them, whoever typed the form in."""
    stmt = (
        select(Ownership.staff_id, func.count())
        .join(Member, Member.id == Ownership.member_id)
        .where(Ownership.reason == OwnershipReason.registered, Ownership.staff_id.in_(staff))
        .where(Member.created_at >= m.start_at, Member.created_at < m.end_at)
        .group_by(Ownership.staff_id)
    )
    return _counts(session, stmt)


def _complaints(session: Session, m: Month, staff: set[int]) -> dict[int, int]:
    stmt = (
        select(Complaint.about_staff_id, func.count())
        .where(Complaint.about_staff_id.in_(staff))
        .where(Complaint.received_on >= m.first, Complaint.received_on <= m.last)
        .group_by(Complaint.about_staff_id)
    )
    return _counts(session, stmt)


def _attended(session: Session, m: Month, staff: set[int]) -> dict[int, int]:
    """Lecture seats checked in to in the month, for the member's owner at check-in."""
    owner = _credited_owner()
    stmt = (
        select(owner, func.count())
        .select_from(LectureSeat)
        .join(Ownership, Ownership.member_id == LectureSeat.member_id)
        .where(LectureSeat.checked_in_at >= m.start_at, LectureSeat.checked_in_at < m.end_at)
        .where(_in_force(LectureSeat.checked_in_at), owner.in_(staff))
        .group_by(owner)
    )
    return _counts(session, stmt)


def _steps(
    session: Session, m: Month, scope: audit.Scope, today: date
) -> dict[int, tuple[int, int]]:
    """(due, on time) per assignee: the audit's rule for the steps due in the month
    whose grace had ended by today (audit.due_source), so both pages agree."""
    q = audit.make_query(
        scope, today=today, as_of=today, period_from=m.first, period_to=min(m.last, today)
    )
    src = audit.due_source(audit.shape_of(q))
    stmt = select(src.c.assignee_id, func.count(), func.sum(src.c.on_time)).group_by(
        src.c.assignee_id
    )
    rows = session.execute(stmt, audit.params_of(session, q)).all()
    return {int(a): (int(n), int(t or 0)) for a, n, t in rows}


def _returns(session: Session, m: Month, staff: set[int]) -> dict[int, tuple[int, int]]:
    """(bought in the month, came back) per owner at the month's end: a member came back
    when they bought again on a later day within RETURN_DAYS of their first purchase
    day in the month (a return may fall in the next months, up to today)."""
    sub = _owned_at_end(m).subquery()
    stmt = (
        select(sub.c.owner, Purchase.member_id, Purchase.purchased_on)
        .join(sub, sub.c.member_id == Purchase.member_id)
        .where(sub.c.owner.in_(staff))
        .where(Purchase.purchased_on >= m.first)
        .where(Purchase.purchased_on <= m.last + timedelta(days=RETURN_DAYS))
        .distinct()
    )
    days: dict[tuple[int, int], list[date]] = defaultdict(list)
    for owner, member_id, day in session.execute(stmt).all():
        days[(int(owner), int(member_id))].append(day)
    found: dict[int, tuple[int, int]] = {}
    for (owner, _member), bought in days.items():
        in_month = [d for d in bought if d <= m.last]
        if not in_month:
            continue
        first = min(in_month)
        back = any(first < d <= first + timedelta(days=RETURN_DAYS) for d in bought)
        buyers, returned = found.get(owner, (0, 0))
        found[owner] = (buyers + 1, returned + int(back))
    return found


# --- Sales, owner-credited ------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    owner: int
    started_at: datetime
    ended_at: datetime | None

    def holds(self, at: datetime) -> bool:
        return self.started_at <= at and (self.ended_at is None or self.ended_at > at)


def _periods(session: Session, member_ids: Iterable[int], m: Month) -> dict[int, list[_Period]]:
    owner = _credited_owner()
    found: dict[int, list[_Period]] = defaultdict(list)
    ids = sorted(set(member_ids))
    for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
        stmt = select(Ownership.member_id, owner, Ownership.started_at, Ownership.ended_at).where(
            Ownership.member_id.in_(chunk),
            Ownership.started_at < m.end_at + timedelta(days=1),
            or_(Ownership.ended_at.is_(None), Ownership.ended_at > m.start_at),
        )
        for member_id, who, start, end in session.execute(stmt).all():
            found[int(member_id)].append(_Period(int(who), start, end))
    return found


def split(
    amount: Decimal, owner: int | None, seller: int | None, share: Decimal
) -> list[tuple[int, Decimal]]:
    """A sale's credit: `share` to the member's owner on the purchase day, the rest to
    the seller; no seller (an imported till line), or the owner sold it: all the owner's."""
    if owner is None:
        return [(seller, amount * (1 - share))] if seller is not None else []
    if seller is None or seller == owner:
        return [(owner, amount)]
    return [(owner, amount * share), (seller, amount * (1 - share))]


def _sales(session: Session, m: Month, stores: set[int]) -> dict[int, Decimal]:
    """Credited sales per staff member, of the sales in the month of the stores' members
    and of the sales the stores' staff made. The owner is whoever owned the member at the
    end of the purchase day (the chain's day), a holiday cover counting for the owner."""
    their_staff = select(Staff.id).where(Staff.store_id.in_(stores))
    stmt = (
        select(Purchase.member_id, Purchase.purchased_on, Purchase.amount, Purchase.recorded_by_id)
        .join(Member, Member.id == Purchase.member_id)
        .where(Purchase.purchased_on >= m.first, Purchase.purchased_on <= m.last)
        .where(or_(Member.home_store_id.in_(stores), Purchase.recorded_by_id.in_(their_staff)))
    )
    sales = session.execute(stmt).all()
    periods = _periods(session, (s.member_id for s in sales), m)
    share = owner_share()
    credit: defaultdict[int, Decimal] = defaultdict(Decimal)
    for member_id, day, amount, seller in sales:
        at = local_midnight(day + timedelta(days=1))
        owner = next((p.owner for p in periods[int(member_id)] if p.holds(at)), None)
        for who, part in split(Decimal(amount), owner, seller, share):
            credit[who] += part
    return {who: amount.quantize(CENT) for who, amount in credit.items()}


# --- The table -------------------------------------------------------------------------------


def _people(session: Session, stores: set[int]) -> list[Staff]:
    stmt = (
        select(Staff)
        .where(Staff.store_id.in_(stores))
        .order_by(Staff.store_id, Staff.name, Staff.id)
    )
    return list(session.scalars(stmt))


def _figures(
    session: Session,
    m: Month,
    people: Sequence[Staff],
    colleagues: Sequence[Staff],
    scope: audit.Scope,
    today: date,
) -> dict[int, Figures]:
    """The figures of `people`; `colleagues` (everyone of their stores) make the stores'
    credited totals, which a clerk's share needs though the clerk sees only their row."""
    staff = {s.id for s in people}
    stores = {s.store_id for s in colleagues if s.store_id is not None}
    found = {s.id: Figures() for s in people}
    for name, counts in (
        ("owned", _owned(session, m, staff)),
        ("registered", _registered(session, m, staff)),
        ("lost", _lost(session, m, staff)),
        ("complaints", _complaints(session, m, staff)),
        ("attended", _attended(session, m, staff)),
    ):
        for who, n in counts.items():
            if who in found:
                setattr(found[who], name, n)
    for who, (due, on_time) in _steps(session, m, scope, today).items():
        if who in found:
            found[who].due, found[who].on_time = due, on_time
    for who, (buyers, returned) in _returns(session, m, staff).items():
        found[who].buyers, found[who].returned = buyers, returned
    credit = _sales(session, m, stores)
    store_total: dict[int, Decimal] = defaultdict(Decimal)
    for s in colleagues:
        store_total[s.store_id or 0] += credit.get(s.id, Decimal(0))
    for s in people:
        found[s.id].sales = credit.get(s.id, Decimal(0))
        found[s.id].store_sales = store_total[s.store_id or 0]
    return found


def _shown(staff: Staff, f: Figures) -> bool:
    """Everyone still working, and anyone who left but has figures this month."""
    return staff.active or f != Figures(store_sales=f.store_sales)


def _where(
    session: Session, actor: Actor, store_id: int | None, region: str | None
) -> tuple[Store | None, str | None, set[int], audit.Scope]:
    """The stores asked for: a supervisor picks a store or a region (or the whole
    chain); everyone else sees their own store, whatever they ask."""
    if not actor.chain_wide:
        store_id, region = actor.store_id, None
    if store_id is not None:
        store = session.get(Store, store_id)
        if store is None or not actor.may_see_store(store.id):
            raise NotFound(N_("store %(id)s not found"), field="store", id=store_id)
        return store, None, {store.id}, audit.Scope("store", store_id=store.id)
    stmt = select(Store.id)
    if region:
        stmt = stmt.where(Store.region == region)
    stores = set(session.scalars(stmt))
    if region and not stores:
        raise NotFound(N_("no store in that region"), field="region")
    return (
        None,
        region or None,
        stores,
        audit.Scope("region", region=region) if region else audit.Scope("chain"),
    )


def month_table(
    session: Session,
    actor: Actor,
    month: Month,
    *,
    today: date,
    store_id: int | None = None,
    region: str | None = None,
) -> MonthTable:
    """One row per staff member the actor may see (a clerk: their own), and the total."""
    store, region, stores, scope = _where(session, actor, store_id, region)
    everyone = _people(session, stores)
    people = [s for s in everyone if may_see_staff_month(actor, s)]
    figures = _figures(session, month, people, everyone, scope, today)
    rows = [
        StaffRow(s.id, s.name, s.store_id or 0, figures[s.id])
        for s in people
        if _shown(s, figures[s.id])
    ]
    total = Figures()
    for r in rows:
        total.add(r.figures)
    # Each store's credited total once, however many of its staff are shown.
    total.store_sales = sum({r.store_id: r.figures.store_sales for r in rows}.values(), Decimal(0))
    return MonthTable(month, store, region, rows, total)


def visible_staff(session: Session, actor: Actor, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None or staff.store_id is None or not may_see_staff_month(actor, staff):
        raise NotFound(N_("staff %(id)s not found"), field="staff_id", id=staff_id)
    return staff


def trend(
    session: Session, actor: Actor, staff_id: int, last: Month, *, today: date
) -> list[tuple[Month, Figures]]:
    """The staff member's figures for the TREND_MONTHS months up to `last`, oldest first.
    Their store's staff are read too: the share of the store's sales needs them."""
    staff = visible_staff(session, actor, staff_id)
    colleagues = _people(session, {staff.store_id or 0})
    scope = audit.Scope("staff", store_id=staff.store_id, staff_id=staff.id)
    months = [last.back(n) for n in range(TREND_MONTHS - 1, -1, -1)]
    return [(m, _figures(session, m, [staff], colleagues, scope, today)[staff.id]) for m in months]


# --- CSV ---------------------------------------------------------------------------------------

CSV_FIELDS = (
    "staff_id",
    "staff_name",
    "store_id",
    "month",
    "owned",
    "registered",
    "steps_due",
    "steps_on_time",
    "on_time_rate",
    "bought",
    "bought_again_90d",
    "return_rate",
    "lost",
    "complaints",
    "lecture_attendance",
    "sales_credited",
    "store_sales",
    "sales_share",
)


def rate_text(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def csv_values(
    staff_id: int | None, name: str, store_id: int | None, month: Month, f: Figures
) -> list[Any]:
    return [
        staff_id, name, store_id, month.key, f.owned, f.registered, f.due, f.on_time,
        rate_text(f.on_time_rate), f.buyers, f.returned, rate_text(f.return_rate), f.lost,
        f.complaints, f.attended, f"{f.sales:.2f}", f"{f.store_sales:.2f}",
        rate_text(f.sales_share),
    ]  # fmt: skip
