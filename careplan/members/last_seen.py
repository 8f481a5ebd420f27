"""A member's last sign of life (members.last_seen_on): the day of their last purchase,
step result or contact attempt, kept as each is written, so that "long inactive"
(careplan/value/activity.py) is an index range rather than three tables probed per
member. Every writer of those records calls here: purchases (by hand, a till file), a
completed step (the worklist, a lecture's check-in), a contact attempt."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime
from typing import cast as typed

from sqlalchemy import Date, Table, bindparam, cast, func, or_, select, update
from sqlalchemy.orm import Session

from careplan.models import CarePlan, Checkpoint, CheckpointResult, ContactAttempt, Member, Purchase


def saw(session: Session, days: Mapping[int, date]) -> None:
    """Records of these days were written for these members (member id → the newest day
    among them): a purchase by hand or a till file's lines, a step result, a contact
    attempt. One statement for them all, no lookup of the records; a day before the one
    kept changes nothing, so the order they come in does not matter."""
    table = typed(Table, Member.__table__)
    seen = table.c.last_seen_on
    stmt = (
        update(table)
        .where(table.c.id == bindparam("member"), or_(seen.is_(None), seen < bindparam("day")))
        .values(last_seen_on=bindparam("day"))
    )
    rows = [{"member": member_id, "day": day} for member_id, day in sorted(days.items())]
    if rows:
        session.connection().execute(stmt, rows)


def day_of(moment: datetime) -> date:
    """The day a moment counts for: UTC's, as activity.inactive counts contact attempts."""
    return moment.astimezone(UTC).date()


def recount(session: Session, store_ids: Collection[int]) -> None:
    """The last sign of life of every member of these stores, from what is recorded: for
    records written in bulk past the writers above (the synthetic chains), as the
    migration that added the column filled it."""
    pg = session.get_bind().dialect.name == "postgresql"
    attempted = func.max(ContactAttempt.attempted_at)
    # A call's day in UTC, as activity.inactive counts it (SQLite keeps moments as text).
    attempt_day = (
        cast(func.timezone("UTC", attempted), Date) if pg else func.substr(attempted, 1, 10)
    )
    sources = [
        select(func.max(Purchase.purchased_on)).where(Purchase.member_id == Member.id),
        select(func.max(CheckpointResult.contacted_on))
        .join(Checkpoint, Checkpoint.id == CheckpointResult.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id),
        select(attempt_day)
        .join(Checkpoint, Checkpoint.id == ContactAttempt.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id),
    ]
    seen, never = Member.last_seen_on, date(1, 1, 1)
    for source in sources:
        latest = source.scalar_subquery()
        session.execute(
            update(Member)
            .where(Member.home_store_id.in_(store_ids), latest > func.coalesce(seen, never))
            .values(last_seen_on=latest)
            .execution_options(synchronize_session=False)
        )
