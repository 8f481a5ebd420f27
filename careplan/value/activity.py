"""Whether a member is still in touch: the one rule of "long inactive" (长期未消费/未联系),
shared by the member analysis (the list to follow up) and the clerk's month (members
lost). A member is inactive as of a day when, in the `days` before it, they bought
nothing and no one reached them (a recorded step result or a contact attempt), and they
were already a member before that window began.

Two readings of the one rule: `inactive` probes the three records for any day (the
clerk's month asks about past months); `quiet` reads `members.last_seen_on`, which
careplan/members/last_seen.py keeps as each record is written, from an index (the long-inactive
list, as of today: every record is on or before it, where the two agree — a twin test
holds them together)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_, select

from careplan.models import CarePlan, Checkpoint, CheckpointResult, ContactAttempt, Member, Purchase

DEFAULT_DAYS = 180


def window_start(as_of: date, days: int) -> date:
    """The first day of the window a member must show a sign of life in."""
    return as_of - timedelta(days=days - 1)


def inactive(as_of: date, days: int = DEFAULT_DAYS) -> Any:
    """A condition on Member: long inactive as of `as_of` (for a WHERE clause)."""
    since = window_start(as_of, days)
    since_at = datetime.combine(since, time(), tzinfo=UTC)
    until_at = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    bought = exists().where(
        Purchase.member_id == Member.id,
        Purchase.purchased_on >= since,
        Purchase.purchased_on <= as_of,
    )
    reached = exists(
        select(CheckpointResult.id)
        .join(Checkpoint, Checkpoint.id == CheckpointResult.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id, CheckpointResult.contacted_on >= since,
               CheckpointResult.contacted_on <= as_of)
    )  # fmt: skip
    tried = exists(
        select(ContactAttempt.id)
        .join(Checkpoint, Checkpoint.id == ContactAttempt.checkpoint_id)
        .join(CarePlan, CarePlan.id == Checkpoint.plan_id)
        .where(CarePlan.member_id == Member.id, ContactAttempt.attempted_at >= since_at,
               ContactAttempt.attempted_at < until_at)
    )  # fmt: skip
    joined_before = Member.created_at < since_at
    gone = Member.erased_at.is_not(None) | Member.died_on.is_not(None)
    return and_(joined_before, not_(gone), not_(bought), not_(reached), not_(tried))


# --- As of today, from the kept last sign of life (careplan/members/last_seen.py) ---


def quiet(as_of: date, days: int = DEFAULT_DAYS) -> tuple[ColumnElement[bool], ...]:
    """`inactive` as of today, from the kept last sign of life: (never seen, seen before
    the window) — two conditions, each an index range, read apart to page in order."""
    since = window_start(as_of, days)
    joined = Member.created_at < datetime.combine(since, time(), tzinfo=UTC)
    current = (Member.erased_at.is_(None), Member.died_on.is_(None), joined)
    return (
        and_(*current, Member.last_seen_on.is_(None)),
        and_(*current, Member.last_seen_on < since),
    )
