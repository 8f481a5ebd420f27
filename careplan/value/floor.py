"""The three-contacts-a-year floor (每年对会员至少电话拜访三次以上): the members a store
reached fewer than three times in the last 365 days, and how many per store.

A contact is a recorded step result or a contact attempt (a call that found nobody
counts: the store tried) by phone or home visit, on any plan; a message or a visit to
the store is not the store reaching out. Members whose data was erased or whose death
was recorded are left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, literal, select, union_all
from sqlalchemy.orm import Session

from careplan.access import Actor, require_see_contact_floor, scope_members
from careplan.models import CarePlan, Checkpoint, CheckpointResult, ContactAttempt, Member, Staff
from careplan.value.activity import window_start
from careplan.vocab import Channel

FLOOR = 3
DAYS = 365
REACHING = (Channel.phone, Channel.home_visit)
PAGE = 50


@dataclass(frozen=True)
class Below:
    member_id: int
    name: str
    card_number: str
    store_id: int
    owner_id: int
    owner: str
    mobile: str | None
    contacts: int
    last_contact_on: date | None  # in the window; an earlier one does not count


def _contacts(as_of: date) -> Any:
    """(member_id, day) of every contact in the window, results and attempts alike."""
    since = window_start(as_of, DAYS)
    since_at = datetime.combine(since, time(), tzinfo=UTC)
    until_at = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    results = (
        select(CarePlan.member_id.label("member_id"), CheckpointResult.contacted_on.label("on"))
        .join(Checkpoint, Checkpoint.id == CheckpointResult.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CheckpointResult.channel.in_(REACHING), CheckpointResult.contacted_on >= since,
               CheckpointResult.contacted_on <= as_of)
    )  # fmt: skip
    attempts = (
        select(CarePlan.member_id, func.date(ContactAttempt.attempted_at))
        .join(Checkpoint, Checkpoint.id == ContactAttempt.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(ContactAttempt.channel.in_(REACHING), ContactAttempt.attempted_at >= since_at,
               ContactAttempt.attempted_at < until_at)
    )  # fmt: skip
    return union_all(results, attempts).subquery("contacts")


def _per_member(as_of: date) -> Any:
    c = _contacts(as_of)
    return (
        select(c.c.member_id, func.count().label("n"), func.max(c.c.on).label("last_on"))
        .group_by(c.c.member_id)
        .subquery("per_member")
    )


def _below(actor: Actor, as_of: date, store_id: int | None) -> tuple[Select[Any], list[Any]]:
    pm = _per_member(as_of)
    n = func.coalesce(pm.c.n, literal(0))
    stmt = (
        select(Member, Staff.name, n.label("n"), pm.c.last_on)
        .join(Staff, Staff.id == Member.owner_id)
        .outerjoin(pm, pm.c.member_id == Member.id)
        .where(n < FLOOR, Member.erased_at.is_(None), Member.died_on.is_(None))
    )
    if store_id is not None:
        stmt = stmt.where(Member.home_store_id == store_id)
    order = [n, pm.c.last_on.is_not(None), pm.c.last_on, Member.id]
    return scope_members(stmt, actor), order


def below_floor(
    session: Session,
    actor: Actor,
    as_of: date,
    *,
    store_id: int | None = None,
    page: int = 1,
    per_page: int | None = PAGE,
) -> tuple[list[Below], int]:
    """One page of the members below the floor, fewest contacts first, then the longest
    without one; and how many there are. `per_page=None`: all of them (the CSV)."""
    require_see_contact_floor(actor)
    stmt, order = _below(actor, as_of, store_id)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    stmt = stmt.order_by(*order)
    if per_page is not None:
        stmt = stmt.limit(per_page).offset((max(page, 1) - 1) * per_page)
    rows = [
        Below(m.id, m.name, m.card_number, m.home_store_id, m.owner_id, owner, m.mobile,
              int(count), _as_date(last))
        for m, owner, count, last in session.execute(stmt)
    ]  # fmt: skip
    return rows, total


def _as_date(value: Any) -> date | None:
    """SQLite's date() answers text; PostgreSQL's a date."""
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def below_by_store(session: Session, actor: Actor, as_of: date) -> dict[int, int]:
    """How many members of each store (in sight) are below the floor."""
    require_see_contact_floor(actor)
    stmt, _ = _below(actor, as_of, None)
    sub = stmt.with_only_columns(Member.home_store_id).subquery()
    counts = session.execute(
        select(sub.c.home_store_id, func.count()).group_by(sub.c.home_store_id)
    )
    return {store_id: n for store_id, n in counts}
