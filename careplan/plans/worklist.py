"""My worklist: what a clerk or pharmacist must do today, as tabs with counts.

Everything here is a query over checkpoints, escalations and occasions; the rules of
when a step is due or overdue stay in schedule.py / checkpoints.status_clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.members.occasions import (
    Festival,
    MemberOccasion,
    festivals_between,
    member_occasions,
)
from careplan.models import CarePlan, Checkpoint, Escalation, Member
from careplan.plans.checkpoints import (
    CheckpointFilter,
    count_members_each,
    list_checkpoints,
    status_clause,
)
from careplan.plans.escalations import count_escalations, list_escalations
from careplan.plans.lifecycle import StepTitle, protocol_of, status_of, step_title
from careplan.plans.protocol_schema import Text
from careplan.vocab import CheckpointStatus, RiskReason

TABS = ("due", "overdue", "upcoming", "escalations", "occasions")
TAB_STATUS = {
    "due": CheckpointStatus.due,
    "overdue": CheckpointStatus.overdue,
    "upcoming": CheckpointStatus.upcoming,
}
# docs/domain.md: calls are best made 11:00-12:00 or 16:00-17:00 and kept under 3 minutes.
BEST_CALL_HOURS = ((time(11), time(12)), (time(16), time(17)))
UPCOMING_DAYS = 6


def in_best_call_hours(local: datetime) -> bool:
    return any(start <= local.time() < end for start, end in BEST_CALL_HOURS)


@dataclass(frozen=True)
class AlsoDue:
    """Another step of the same member open now: worked in the same call."""

    checkpoint: Checkpoint
    status: CheckpointStatus
    protocol_title: Text
    step_title: StepTitle


@dataclass(frozen=True)
class WorkItem:
    checkpoint: Checkpoint
    member: Member
    status: CheckpointStatus
    days_overdue: int
    protocol_title: Text
    step_title: StepTitle
    also: tuple[AlsoDue, ...] = ()
    # Overdue already when its member was handed over: whose it was, and the days overdue
    # since the present holder got it (theirs, unlike the days before).
    inherited_from: str | None = None
    days_since_hand_over: int = 0
    # Why the member is called first on the overdue list (careplan/adherence/risk.py).
    risks: tuple[RiskReason, ...] = ()


def days_since_hand_over(cp: Checkpoint, today: date) -> int:
    if cp.inherited_on is None:
        return 0
    return max(0, (today - cp.inherited_on).days)


@dataclass(frozen=True)
class WorklistQuery:
    staff_id: int | None  # None: everyone the actor may see (managers)
    protocol_id: str | None = None
    step_key: str | None = None
    tab: str = "due"


@dataclass
class Worklist:
    query: WorklistQuery
    counts: dict[str, int]
    items: list[WorkItem] = field(default_factory=list)
    escalations: list[Escalation] = field(default_factory=list)
    occasions: list[MemberOccasion] = field(default_factory=list)
    festivals: list[Festival] = field(default_factory=list)
    members_owned: int = 0


def _filter(q: WorklistQuery, tab: str, today: date, limit: int = 200) -> CheckpointFilter:
    due_to = today + timedelta(days=UPCOMING_DAYS) if tab == "upcoming" else None
    return CheckpointFilter(
        status=TAB_STATUS[tab],
        staff_id=q.staff_id,
        protocol_id=q.protocol_id,
        step_key=q.step_key,
        due_to=due_to,
        awake=True,
        limit=limit,
    )


def work_item(
    cp: Checkpoint, member: Member, today: date, also: tuple[AlsoDue, ...] = ()
) -> WorkItem:
    protocol = protocol_of(cp.plan)
    status = status_of(cp, today)
    overdue = (today - cp.due_on).days if status is CheckpointStatus.overdue else 0
    title = step_title(protocol, cp.key)
    inherited = cp.inherited_from.name if cp.inherited_from is not None else None
    return WorkItem(
        cp, member, status, overdue, protocol.title, title, also,
        inherited, days_since_hand_over(cp, today),
    )  # fmt: skip


def _also_due(cp: Checkpoint, today: date) -> AlsoDue:
    protocol = protocol_of(cp.plan)
    return AlsoDue(cp, status_of(cp, today), protocol.title, step_title(protocol, cp.key))


def open_now(
    session: Session, actor: Actor, member_ids: list[int], staff_id: int | None, today: date
) -> dict[int, list[Checkpoint]]:
    """Each member's steps due or overdue today (of `staff_id`'s list, if given), oldest
    first: a member with several is one call."""
    if not member_ids:
        return {}
    now_open = or_(
        status_clause(CheckpointStatus.due, today), status_clause(CheckpointStatus.overdue, today)
    )
    stmt = (
        select(Checkpoint, CarePlan.member_id)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .join(Member, CarePlan.member_id == Member.id)
        .where(CarePlan.member_id.in_(member_ids), now_open)
        .order_by(Checkpoint.due_on, Checkpoint.id)
    )
    if staff_id is not None:
        stmt = stmt.where(Checkpoint.assignee_id == staff_id)
    found: dict[int, list[Checkpoint]] = {}
    for cp, member_id in session.execute(scope_members(stmt, actor)):
        found.setdefault(member_id, []).append(cp)
    return found


def also_due_with(
    session: Session, actor: Actor, cp: Checkpoint, staff_id: int | None, today: date
) -> tuple[AlsoDue, ...]:
    """The member's other steps open now, offered while one of them is worked."""
    member_id = cp.plan.member_id
    others = open_now(session, actor, [member_id], staff_id, today).get(member_id, [])
    return tuple(_also_due(o, today) for o in others if o.id != cp.id)


def one_row_per_member(
    session: Session,
    actor: Actor,
    rows: list[tuple[Checkpoint, Member]],
    staff_id: int | None,
    today: date,
) -> list[WorkItem]:
    """The list's rows, one per member: the member's first step in the list, with the
    member's other steps open now as "also due"."""
    others = open_now(session, actor, list({m.id for _, m in rows}), staff_id, today)
    items, seen = [], set()
    for cp, member in rows:
        if member.id in seen:
            continue
        seen.add(member.id)
        also = tuple(_also_due(o, today) for o in others.get(member.id, []) if o.id != cp.id)
        items.append(work_item(cp, member, today, also))
    return items


def _owned(session: Session, actor: Actor, staff_id: int | None) -> int:
    stmt = scope_members(select(func.count(Member.id)), actor)
    if staff_id is not None:
        stmt = stmt.where(Member.owner_id == staff_id)
    return session.scalar(stmt) or 0


def build(session: Session, actor: Actor, q: WorklistQuery, *, today: date) -> Worklist:
    first, last = today, today + timedelta(days=UPCOMING_DAYS)
    occasions = member_occasions(session, actor, owner_id=q.staff_id, first=first, last=last)
    festivals = festivals_between(first, last)
    tab_counts = counts(session, actor, q, today=today)
    tab_counts["occasions"] = len(occasions) + len(festivals)
    wl = Worklist(query=q, counts=tab_counts, occasions=occasions, festivals=festivals)
    if q.tab in TAB_STATUS:
        rows = list_checkpoints(session, actor, _filter(q, q.tab, today), today=today)
        wl.items = one_row_per_member(session, actor, rows, q.staff_id, today)
    elif q.tab == "escalations":
        wl.escalations = list_escalations(session, actor, involving_staff_id=q.staff_id)
    elif q.tab == "occasions":
        wl.members_owned = _owned(session, actor, q.staff_id)
    return wl


def counts(session: Session, actor: Actor, q: WorklistQuery, *, today: date) -> dict[str, int]:
    """The tab counts alone, for refreshing them after a save."""
    lists = {tab: _filter(q, tab, today) for tab in TAB_STATUS}
    found = count_members_each(session, actor, lists, today=today)
    found["escalations"] = count_escalations(session, actor, involving_staff_id=q.staff_id)
    return found
