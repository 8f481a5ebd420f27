"""How soon a member is likely to buy again (预计续购), and the contact plan it sets.

The outlook is set by staff with the words why, or read as a default from the member's
purchase rhythm (`default_outlook`, the one rule). Setting it (confirming the default
is setting it) stops the member's contact plan and enrols them in the outlook's from
today: its pending steps leave the worklist, recorded results stay as they were. Only
members whose outlook a person set get a contact plan, so a clerk's list is not swamped
by defaults nobody looked at. docs/member-value.md, "预计续购与联系计划", says it in words.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import median

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, require_set_outlook
from careplan.errors import N_, InvalidInput
from careplan.models import CarePlan, Member, Purchase
from careplan.plans import lifecycle
from careplan.vocab import Outlook

# Each outlook's contact plan (protocols/contact_*.yaml).
PROTOCOLS: dict[Outlook, str] = {
    Outlook.this_month: "contact_this_month",
    Outlook.two_months: "contact_two_months",
    Outlook.three_months: "contact_three_months",
    Outlook.beyond: "contact_beyond",
}
# The database holds one live contact plan per member (models/plan.py, the same ids).
CONTACT_PROTOCOLS = frozenset(PROTOCOLS.values())
# The next purchase expected within N days of today reads as the outlook (later: beyond).
HORIZONS: tuple[tuple[int, Outlook], ...] = (
    (30, Outlook.this_month),
    (60, Outlook.two_months),
    (90, Outlook.three_months),
)
REASON_MAX = 255


@dataclass(frozen=True)
class Rhythm:
    """What the default is read from: the member's days of purchase."""

    purchase_days: int
    last_on: date | None = None
    gap_days: int | None = None  # the median days between purchase days
    expected_on: date | None = None  # the last purchase day + the median gap


@dataclass(frozen=True)
class DefaultOutlook:
    outlook: Outlook | None  # None: no rhythm yet (fewer than two purchase days)
    rhythm: Rhythm


def outlook_within(days: int) -> Outlook:
    """The outlook of a purchase expected in `days` (an overdue one: this month)."""
    return next((o for limit, o in HORIZONS if days <= limit), Outlook.beyond)


def default_outlook(purchase_days: list[date], today: date) -> DefaultOutlook:
    """The one rule: the median gap between the member's distinct purchase days, added to
    the last, is when they are expected to buy again; that day's distance from today
    gives the outlook. Fewer than two purchase days: no rhythm yet, no default."""
    days = sorted({d for d in purchase_days if d <= today})
    if len(days) < 2:
        return DefaultOutlook(None, Rhythm(len(days), days[-1] if days else None))
    gap = round(median((b - a).days for a, b in itertools.pairwise(days)))
    expected = days[-1] + timedelta(days=gap)
    rhythm = Rhythm(len(days), days[-1], gap, expected)
    return DefaultOutlook(outlook_within((expected - today).days), rhythm)


def member_default(session: Session, member_id: int, today: date) -> DefaultOutlook:
    days = session.scalars(
        select(Purchase.purchased_on)
        .where(Purchase.member_id == member_id, Purchase.purchased_on <= today)
        .distinct()
    )
    return default_outlook(list(days), today)


@dataclass(frozen=True)
class MemberOutlook:
    """A member's outlook as the member page shows it."""

    outlook: Outlook | None  # as staff set it
    reason: str | None
    by_id: int | None
    at: datetime | None
    default: DefaultOutlook
    plan: CarePlan | None  # the live contact plan, if any

    @property
    def shown(self) -> Outlook | None:
        """What the form pre-selects: the outlook set, else the default."""
        return self.outlook or self.default.outlook


def live_contact_plans(session: Session, member_id: int) -> list[CarePlan]:
    return list(
        session.scalars(
            select(CarePlan)
            .where(
                CarePlan.member_id == member_id,
                CarePlan.protocol_id.in_(CONTACT_PROTOCOLS),
                CarePlan.status.in_(lifecycle.LIVE),
            )
            .order_by(CarePlan.id)
        )
    )


def outlook_of(session: Session, actor: Actor, member_id: int, today: date) -> MemberOutlook:
    member = get_member(session, actor, member_id)
    plans = live_contact_plans(session, member.id)
    return MemberOutlook(
        member.outlook,
        member.outlook_reason,
        member.outlook_by_id,
        member.outlook_at,
        member_default(session, member.id, today),
        plans[-1] if plans else None,
    )


def _parse(outlook: str, reason: str) -> tuple[Outlook, str]:
    try:
        chosen = Outlook(outlook)
    except ValueError:
        raise InvalidInput(N_("choose how soon the member is likely to buy again"),
                           field="outlook") from None  # fmt: skip
    words = reason.strip()
    if not words:
        raise InvalidInput(N_("say why you expect this"), field="outlook_reason")
    if len(words) > REASON_MAX:
        raise InvalidInput(N_("at most %(n)s characters"), field="outlook_reason", n=REASON_MAX)
    return chosen, words


def set_outlook(
    session: Session,
    actor: Actor,
    member_id: int,
    outlook: str,
    reason: str,
    *,
    today: date,
    now: datetime,
) -> CarePlan:
    """Set (or confirm) the outlook and start its contact plan from today, in place of the
    member's previous contact plan; the change log records both (who, when, what)."""
    member = get_member(session, actor, member_id)
    require_set_outlook(actor, member)
    chosen, words = _parse(outlook, reason)
    _lock(session, member)
    _change(member, chosen, words, actor, now)
    for plan in live_contact_plans(session, member.id):
        lifecycle.stop(session, actor, plan.id, f"outlook: {chosen.value}", today=today)
    return lifecycle.enroll(
        session, actor, member_id=member.id, protocol_id=PROTOCOLS[chosen], start=today,
        today=today, now=now,
    )  # fmt: skip


def _lock(session: Session, member: Member) -> None:
    """Two outlook changes of one member at once take turns: the member's row is locked
    (PostgreSQL: SELECT ... FOR UPDATE) before the live contact plan is read, so the later
    change stops the plan the earlier one made. SQLite has one writer at a time already
    (a write's BEGIN IMMEDIATE, careplan.db.begin_for_writing)."""
    session.refresh(member, with_for_update=True)


def _change(member: Member, outlook: Outlook, reason: str, actor: Actor, now: datetime) -> None:
    member.outlook = outlook
    member.outlook_reason = reason
    member.outlook_by_id = actor.staff_id
    member.outlook_at = now
