"""My worklist: what a clerk or pharmacist must do today, as tabs with counts.

Everything here is a query over checkpoints, escalations and occasions; the rules of
when a step is due or overdue stay in schedule.py / checkpoints.status_clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan.access import Actor, scope_members
from careplan.checkpoints import CheckpointFilter, count_checkpoints, list_checkpoints
from careplan.escalations import count_escalations, list_escalations
from careplan.models import Checkpoint, Escalation, Member
from careplan.occasions import Festival, MemberOccasion, festivals_between, member_occasions
from careplan.plans import protocol_of, status_of, step_of
from careplan.protocol_schema import Text
from careplan.vocab import CheckpointStatus

TABS = ("due", "overdue", "upcoming", "escalations", "occasions")
TAB_STATUS = {
    "due": CheckpointStatus.due,
    "overdue": CheckpointStatus.overdue,
    "upcoming": CheckpointStatus.upcoming,
}
# domain.md (002): calls are best made 11:00-12:00 or 16:00-17:00 and kept under 3 minutes.
BEST_CALL_HOURS = ((time(11), time(12)), (time(16), time(17)))
UPCOMING_DAYS = 6


def in_best_call_hours(local: datetime) -> bool:
    return any(start <= local.time() < end for start, end in BEST_CALL_HOURS)


@dataclass(frozen=True)
class WorkItem:
    checkpoint: Checkpoint
    member: Member
    status: CheckpointStatus
    days_overdue: int
    protocol_title: Text
    step_title: Text
    # Overdue already when its member was handed over: whose it was, and the days overdue
    # since the present holder got it (theirs, unlike the days before).
    inherited_from: str | None = None
    days_since_hand_over: int = 0


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
        limit=limit,
    )


def work_item(cp: Checkpoint, member: Member, today: date) -> WorkItem:
    protocol = protocol_of(cp.plan)
    status = status_of(cp, today)
    overdue = (today - cp.due_on).days if status is CheckpointStatus.overdue else 0
    inherited = cp.inherited_from.name if cp.inherited_from is not None else None
    return WorkItem(
        cp, member, status, overdue, protocol.title, step_of(protocol, cp.key).title,
        inherited, days_since_hand_over(cp, today),
    )  # fmt: skip


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
        wl.items = [work_item(cp, m, today) for cp, m in rows]
    elif q.tab == "escalations":
        wl.escalations = list_escalations(session, actor, involving_staff_id=q.staff_id)
    elif q.tab == "occasions":
        wl.members_owned = _owned(session, actor, q.staff_id)
    return wl


def counts(session: Session, actor: Actor, q: WorklistQuery, *, today: date) -> dict[str, int]:
    """The tab counts alone, for refreshing them after a save."""
    found = {
        tab: count_checkpoints(session, actor, _filter(q, tab, today), today=today)
        for tab in TAB_STATUS
    }
    found["escalations"] = count_escalations(session, actor, involving_staff_id=q.staff_id)
    return found
