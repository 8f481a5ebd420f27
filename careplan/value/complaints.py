"""Complaints (顾客投诉, seed 004): recorded with what was done on the spot, followed up by
a visit of the member's own clerk (a plan step on their worklist), perhaps the member
handed to another clerk (a service complaint, seed 000), and closed with the member's
satisfaction. A walk-in (no member card) gets no visit: the manager closes it.

Decisions kept here, once:
- The visit is a step of the protocol `complaint_follow_up`, due FOLLOW_UP_DAYS after
  the complaint by its severity, open from the complaint day.
- The visit holds no health data, so it needs no health-data consent
  (its protocol says `health_data: false`; lifecycle.needs_health_consent decides).
- A member's second complaint while a visit is still open shares that visit.
- A member's complaint closes only after the visit is recorded; a dissatisfied member's
  is closed by the store manager (careplan/access.py decides who is who).
- A visit that will never be made (its plan stopped: the member moved away, was removed
  from follow-up, died; or the step skipped) does not keep the complaint open for ever:
  the store manager closes it, with the satisfaction as far as known, as a walk-in's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Row, Select, case, func, select
from sqlalchemy.orm import Session

from careplan.access import (
    Actor,
    get_complaint,
    get_member,
    may_close_complaint,
    may_close_dissatisfied,
    may_close_without_visit,
    may_hand_over_for_complaint,
    require_record_complaint,
    rows_of_member,
    scope_complaints,
)
from careplan.clock import local_date
from careplan.errors import N_, Conflict, Forbidden, InvalidInput
from careplan.members.archive import check_owner, reassign_member
from careplan.models import (
    CarePlan,
    Checkpoint,
    CheckpointResult,
    Complaint,
    Member,
    Ownership,
    Staff,
)
from careplan.plans import lifecycle
from careplan.vocab import (
    CheckpointState,
    ComplaintCause,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintState,
    OwnershipReason,
    RemovalReason,
    Satisfaction,
)

FOLLOW_UP_PROTOCOL = "complaint_follow_up"
# Days from the complaint to the visit's due date: a serious one is visited the next day.
FOLLOW_UP_DAYS = {
    ComplaintSeverity.high: 1,
    ComplaintSeverity.medium: 3,
    ComplaintSeverity.low: 7,
}
# A complaint visit asks how it was put right, never about health: no consent needed.
LONGEST_TEXT = 2000
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,18}[0-9]$", re.ASCII)

E = TypeVar("E", bound=StrEnum)


@dataclass(frozen=True)
class ComplaintIn:
    """The complaint form, as typed: choices as their values, checked by record()."""

    what: str
    cause: str
    severity: str
    channel: str
    member_id: int | None = None
    walk_in_name: str = ""
    walk_in_phone: str = ""
    received_on: date | None = None  # default: today
    place: str = ""
    about_staff_id: int | None = None
    on_the_spot: str = ""


def _choice(vocab: type[E], value: str, field: str) -> E:
    try:
        return vocab(value)
    except ValueError:
        raise InvalidInput(N_("choose a value from the list"), field=field) from None


def _text(value: str, field: str, longest: int, *, required: str | None = None) -> str:
    value = value.strip()
    if required is not None and not value:
        raise InvalidInput(required, field=field)
    if len(value) > longest:
        raise InvalidInput(N_("at most %(n)s characters"), field=field, n=longest)
    return value


def _check_walk_in(data: ComplaintIn) -> tuple[str, str | None]:
    name = _text(data.walk_in_name, "walk_in_name", 80,
                 required=N_("choose the member, or give the walk-in customer's name"))  # fmt: skip
    phone = data.walk_in_phone.strip()
    if phone and not PHONE.match(phone):
        raise InvalidInput(N_("not a phone number"), field="walk_in_phone")
    return name, phone or None


def _check_received(received_on: date | None, today: date) -> date:
    day = received_on or today
    if day > today:
        raise InvalidInput(N_("cannot be in the future"), field="received_on")
    if day < today - timedelta(days=366):
        raise InvalidInput(N_("must be within a year of today"), field="received_on")
    return day


def _check_about(session: Session, staff_id: int | None, store_id: int) -> None:
    if staff_id is None:
        return
    staff = session.get(Staff, staff_id)
    if staff is None or staff.store_id != store_id:
        raise InvalidInput(N_("must be staff of this store"), field="about_staff_id")


def record(session: Session, actor: Actor, data: ComplaintIn, *, now: datetime) -> Complaint:
    """Record a complaint; a member's gets its follow-up visit (or shares an open one)."""
    require_record_complaint(actor)
    assert actor.store_id is not None and actor.staff_id is not None  # store staff
    today = local_date(now)
    member = None if data.member_id is None else get_member(session, actor, data.member_id)
    walk_in = (None, None) if member is not None else _check_walk_in(data)
    complaint = Complaint(
        store_id=member.home_store_id if member is not None else actor.store_id,
        member_id=None if member is None else member.id,
        walk_in_name=walk_in[0],
        walk_in_phone=walk_in[1],
        received_on=_check_received(data.received_on, today),
        what=_text(data.what, "what", LONGEST_TEXT, required=N_("say what the complaint is about")),
        place=_text(data.place, "place", 80),
        cause=_choice(ComplaintCause, data.cause, "cause"),
        severity=_choice(ComplaintSeverity, data.severity, "severity"),
        channel=_choice(ComplaintChannel, data.channel, "complaint_channel"),
        about_staff_id=data.about_staff_id,
        on_the_spot=_text(data.on_the_spot, "on_the_spot", LONGEST_TEXT),
        recorded_by_id=actor.staff_id,
        recorded_at=now,
    )
    _check_about(session, data.about_staff_id, complaint.store_id)
    if member is not None:
        complaint.follow_up_id = _follow_up(session, actor, member, complaint, now).id
    session.add(complaint)
    session.flush()
    return complaint


def open_visit(session: Session, member_id: int) -> Checkpoint | None:
    """The member's follow-up visit not yet made, if any: a new complaint shares it."""
    return session.scalar(
        select(Checkpoint)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(
            CarePlan.member_id == member_id,
            CarePlan.protocol_id == FOLLOW_UP_PROTOCOL,
            CarePlan.status.in_(lifecycle.LIVE),
            Checkpoint.state.in_(lifecycle.OPEN_STATES),
        )
        .order_by(Checkpoint.due_on)
        .limit(1)
    )


def _follow_up(
    session: Session, actor: Actor, member: Member, complaint: Complaint, now: datetime
) -> Checkpoint:
    shared = open_visit(session, member.id)
    if shared is not None:
        return shared
    start = complaint.received_on
    plan = lifecycle.enroll(session, actor, member_id=member.id, protocol_id=FOLLOW_UP_PROTOCOL,
                            start=start, today=local_date(now), now=now)  # fmt: skip
    step = lifecycle.checkpoints_of(session, plan)[0]
    due = start + timedelta(days=FOLLOW_UP_DAYS[complaint.severity])
    lifecycle.shift_checkpoint(step, (due - step.due_on).days)
    step.open_on = start  # the clerk may go the same day
    session.flush()
    return step


def visit_of(session: Session, complaint: Complaint) -> CheckpointResult | None:
    """The follow-up visit as recorded on the worklist (who, when, how, what was said)."""
    if complaint.follow_up_id is None:
        return None
    return session.scalar(
        select(CheckpointResult).where(CheckpointResult.checkpoint_id == complaint.follow_up_id)
    )


DROPPED = (CheckpointState.cancelled, CheckpointState.skipped)


def dropped_visit(session: Session, complaint: Complaint) -> Checkpoint | None:
    """The member's visit if it will never be made: not recorded, and its step cancelled
    (the plan was stopped) or skipped. None while it waits, once made, for a walk-in."""
    if complaint.follow_up_id is None:
        return None
    step = session.get(Checkpoint, complaint.follow_up_id)
    if step is None or step.state not in DROPPED or visit_of(session, complaint) is not None:
        return None
    return step


def dropped_why(step: Checkpoint) -> str | None:
    """The words given when the visit was dropped: the skip's, else the plan's stop."""
    return step.skip_reason or step.plan.stop_reason


def _owner_of(session: Session, complaint: Complaint) -> int | None:
    if complaint.member_id is None:
        return None
    member = session.get(Member, complaint.member_id)
    return None if member is None else member.owner_id


def close(
    session: Session,
    actor: Actor,
    complaint_id: int,
    *,
    satisfaction: str,
    note: str,
    now: datetime,
) -> Complaint:
    """Close with the member's satisfaction after the visit (a walk-in: the manager)."""
    complaint = get_complaint(session, actor, complaint_id)
    if complaint.state is ComplaintState.closed:
        raise Conflict(N_("the complaint is already closed"), field="state")
    if not may_close_complaint(actor, complaint, _owner_of(session, complaint)):
        raise Forbidden(N_("the store manager or the member's own clerk closes a complaint"),
                        field="role")  # fmt: skip
    chosen = _choice(Satisfaction, satisfaction, "satisfaction")
    if complaint.member_id is not None and visit_of(session, complaint) is None:
        if dropped_visit(session, complaint) is None:
            raise InvalidInput(N_("record the follow-up visit on the worklist first"),
                               field="satisfaction")  # fmt: skip
        if not may_close_without_visit(actor, complaint):
            raise Forbidden(N_("no visit will be made: the store manager closes the complaint"),
                            field="role")  # fmt: skip
    if chosen is Satisfaction.dissatisfied and not may_close_dissatisfied(actor, complaint):
        raise Forbidden(N_("a member still dissatisfied is the store manager's to close"),
                        field="satisfaction")  # fmt: skip
    complaint.closing_note = _text(note, "closing_note", LONGEST_TEXT,
                                   required=N_("say how it ended"))  # fmt: skip
    complaint.state, complaint.satisfaction = ComplaintState.closed, chosen
    complaint.closed_at, complaint.closed_by_id = now, actor.staff_id
    session.flush()
    return complaint


def hand_over(
    session: Session,
    actor: Actor,
    complaint_id: int,
    to_staff_id: int | None,
    *,
    note: str = "",
    now: datetime,
) -> Complaint:
    """A service complaint: the manager gives the member to another clerk. The ordinary
    hand-over moves the member and their open steps (the visit too), with history."""
    complaint = get_complaint(session, actor, complaint_id)
    if not may_hand_over_for_complaint(actor, complaint):
        raise Forbidden(N_("the store manager hands over a member after a service complaint"),
                        field="to_staff_id")  # fmt: skip
    if complaint.state is ComplaintState.closed:
        raise Conflict(N_("the complaint is already closed"), field="state")
    if complaint.handed_to_id is not None:
        raise Conflict(N_("the member was already handed over for this complaint"),
                       field="to_staff_id")  # fmt: skip
    member = session.get(Member, complaint.member_id)
    assert member is not None  # may_hand_over_for_complaint: a member's complaint
    if to_staff_id is None or to_staff_id == member.owner_id:
        raise InvalidInput(N_("choose a different staff member to take over"), field="to_staff_id")
    check_owner(session, to_staff_id, member.home_store_id, field="to_staff_id")
    handed_from = member.owner_id
    reason = _text(note, "note", 255) or f"#{complaint.id}"
    reassign_member(session, actor, member.id, to_staff_id,
                    reason=OwnershipReason.escalation, note=reason, now=now)  # fmt: skip
    complaint.handed_from_id, complaint.handed_to_id = handed_from, to_staff_id
    session.flush()
    return complaint


# --- Reading: the store's list, one complaint's path, a member's ---------------------


@dataclass(frozen=True)
class ComplaintFilter:
    store_id: int | None = None  # head office: one store, or all
    state: ComplaintState | None = None
    cause: ComplaintCause | None = None
    month: date | None = None  # any day of the month


def month_bounds(day: date) -> tuple[date, date]:
    """The first day of the month and the first of the next."""
    first = day.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def _filtered(stmt: Select[tuple[Complaint]], f: ComplaintFilter) -> Select[tuple[Complaint]]:
    if f.store_id is not None:
        stmt = stmt.where(Complaint.store_id == f.store_id)
    if f.state is not None:
        stmt = stmt.where(Complaint.state == f.state)
    if f.cause is not None:
        stmt = stmt.where(Complaint.cause == f.cause)
    if f.month is not None:
        first, after = month_bounds(f.month)
        stmt = stmt.where(Complaint.received_on >= first, Complaint.received_on < after)
    return stmt


def list_complaints(
    session: Session, actor: Actor, f: ComplaintFilter, *, limit: int = 200
) -> list[Complaint]:
    """Open ones first (they wait for someone), each part newest first."""
    open_first = case((Complaint.state == ComplaintState.open, 0), else_=1)
    stmt = _filtered(scope_complaints(select(Complaint), actor), f)
    order = (open_first, Complaint.received_on.desc(), Complaint.id.desc())
    return list(session.scalars(stmt.order_by(*order).limit(limit)))


def complaints_of_member(session: Session, actor: Actor, member_id: int) -> list[Complaint]:
    order = (Complaint.received_on.desc(), Complaint.id.desc())
    return rows_of_member(session, actor, Complaint, member_id, *order)


@dataclass(frozen=True)
class ComplaintPath:
    """Everything a complaint went through, for its page: the visit step and its
    result, the hand-over (its history row: who and when), the other complaints of the
    member that share the visit, and who may close or hand over now."""

    complaint: Complaint
    member: Member | None
    step: Checkpoint | None
    visit: CheckpointResult | None
    dropped: bool  # the visit will never be made: the store manager closes it
    dropped_why: str | None
    dropped_for: RemovalReason | None  # a call removed the member (moved away, died...)
    handover: Ownership | None
    sharing: list[int]
    may_close: bool
    may_close_dissatisfied: bool
    may_hand_over: bool


def _handover(session: Session, complaint: Complaint) -> Ownership | None:
    if complaint.handed_to_id is None:
        return None
    return session.scalar(
        select(Ownership)
        .where(
            Ownership.member_id == complaint.member_id,
            Ownership.staff_id == complaint.handed_to_id,
            Ownership.reason == OwnershipReason.escalation,
            Ownership.started_at >= complaint.recorded_at,
        )
        .order_by(Ownership.started_at)
        .limit(1)
    )


def _sharing(session: Session, complaint: Complaint) -> list[int]:
    if complaint.follow_up_id is None:
        return []
    stmt = select(Complaint.id).where(
        Complaint.follow_up_id == complaint.follow_up_id, Complaint.id != complaint.id
    )
    return list(session.scalars(stmt.order_by(Complaint.id)))


def path_of(session: Session, actor: Actor, complaint_id: int) -> ComplaintPath:
    complaint = get_complaint(session, actor, complaint_id)
    member = None if complaint.member_id is None else session.get(Member, complaint.member_id)
    step = (
        None if complaint.follow_up_id is None else session.get(Checkpoint, complaint.follow_up_id)
    )
    is_open = complaint.state is ComplaintState.open
    owner = None if member is None else member.owner_id
    dropped = dropped_visit(session, complaint)
    may_close = may_close_complaint(actor, complaint, owner) and (
        dropped is None or may_close_without_visit(actor, complaint)
    )
    return ComplaintPath(
        complaint=complaint,
        member=member,
        step=step,
        visit=visit_of(session, complaint),
        dropped=dropped is not None,
        dropped_why=None if dropped is None else dropped_why(dropped),
        dropped_for=None if dropped is None else dropped.plan.removed_for,
        handover=_handover(session, complaint),
        sharing=_sharing(session, complaint),
        may_close=is_open and may_close,
        may_close_dissatisfied=may_close_dissatisfied(actor, complaint),
        may_hand_over=is_open
        and complaint.handed_to_id is None
        and may_hand_over_for_complaint(actor, complaint),
    )


# --- Figures: per store and per staff member, for the store page and the audit ------


@dataclass(frozen=True)
class ComplaintFigures:
    count: int
    open: int
    closed: int
    satisfied: int

    @property
    def satisfied_share(self) -> float | None:
        """Of the closed ones, the share closed 满意; None before any closed."""
        return self.satisfied / self.closed if self.closed else None


def _figures_stmt(
    key: Any, actor: Actor, start: date, end: date
) -> Select[int | None, int, Any, Any]:
    is_open = case((Complaint.state == ComplaintState.open, 1), else_=0)
    satisfied = case((Complaint.satisfaction == Satisfaction.satisfied, 1), else_=0)
    stmt = select(key, func.count(Complaint.id), func.sum(is_open), func.sum(satisfied))
    stmt = scope_complaints(stmt, actor)
    return stmt.where(Complaint.received_on >= start, Complaint.received_on <= end).group_by(key)


def _figures(rows: Sequence[Row[int | None, int, Any, Any]]) -> dict[int | None, ComplaintFigures]:
    out: dict[int | None, ComplaintFigures] = {}
    for key, n, n_open, n_satisfied in rows:
        opened = int(n_open or 0)
        out[key] = ComplaintFigures(int(n), opened, int(n) - opened, int(n_satisfied or 0))
    return out


def figures_by_store(
    session: Session, actor: Actor, *, start: date, end: date
) -> dict[int | None, ComplaintFigures]:
    """Complaints received in [start, end] per store the person sees."""
    stmt = _figures_stmt(Complaint.store_id, actor, start, end)
    return _figures(session.execute(stmt).all())


def figures_by_staff(
    session: Session, actor: Actor, store_id: int, *, start: date, end: date
) -> dict[int | None, ComplaintFigures]:
    """Complaints about each member of staff of a store (None: about nobody in
    particular) received in [start, end]."""
    stmt = _figures_stmt(Complaint.about_staff_id, actor, start, end)
    return _figures(session.execute(stmt.where(Complaint.store_id == store_id)).all())


def total(figures: Iterable[ComplaintFigures]) -> ComplaintFigures:
    """Several rows' figures as one (a store's, from its people's)."""
    rows = list(figures)
    return ComplaintFigures(
        sum(f.count for f in rows),
        sum(f.open for f in rows),
        sum(f.closed for f in rows),
        sum(f.satisfied for f in rows),
    )
