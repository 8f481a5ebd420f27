"""Escalations: a 'stopped taking' answer raises the protocol's rule for that reason."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from careplan.access import Actor, may_resolve_escalation, scope_members
from careplan.clock import local_date
from careplan.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from careplan.models import CarePlan, Checkpoint, Escalation, Member, Staff
from careplan.plans.lifecycle import complete_if_finished
from careplan.plans.protocol_schema import Protocol
from careplan.vocab import EscalationStatus, Role, StopReason


def _handler(session: Session, member: Member, role: Role) -> int | None:
    """Who in the member's store takes it: the owner for clerk work, else the first active
    staff member of the role (a store has one manager; pharmacists share the queue)."""
    if role is Role.clerk:
        return member.owner_id
    return session.scalar(
        select(Staff.id)
        .where(Staff.store_id == member.home_store_id, Staff.role == role, Staff.active)
        .order_by(Staff.id)
        .limit(1)
    )


def is_late(escalation: Escalation, today: date) -> bool:
    """An open case past the day the protocol gave for it (its due day still counts as
    on time, as a step's does)."""
    return escalation.status is EscalationStatus.open and escalation.due_on < today


def open_escalation_for(session: Session, member_id: int, reason: StopReason) -> Escalation | None:
    """The member's open escalation for this reason, if any (there is at most one)."""
    stmt = select(Escalation).where(
        Escalation.member_id == member_id,
        Escalation.reason == reason,
        Escalation.status == EscalationStatus.open,
    )
    return session.scalar(stmt)


def raise_escalation(
    session: Session,
    actor: Actor,
    *,
    protocol: Protocol,
    plan: CarePlan,
    checkpoint: Checkpoint | None,
    reason: StopReason,
    today: date,
    now: datetime,
) -> Escalation:
    """A "stopped" answer: a new escalation, or one more report on the member's open one
    for the same reason, so the handler has one case to close, not two."""
    member = plan.member
    existing = open_escalation_for(session, member.id, reason)
    if existing is not None:
        return _add_report(session, existing, checkpoint, now)
    rule = protocol.escalations[reason]
    escalation = Escalation(
        member_id=member.id,
        store_id=member.home_store_id,
        plan_id=plan.id,
        checkpoint_id=checkpoint.id if checkpoint else None,
        reason=reason,
        role=rule.role,
        assignee_id=_handler(session, member, rule.role),
        action_zh=rule.action.zh,
        action_en=rule.action.en,
        due_on=today + timedelta(days=rule.due_days),
        raised_by_id=actor.staff_id or member.owner_id,
        raised_at=now,
    )
    try:
        # Two answers saved at once (PostgreSQL lets them overlap): the unique index
        # refuses the second insert, which then adds to the one the first one made.
        with session.begin_nested():
            session.add(escalation)
    except IntegrityError:
        existing = open_escalation_for(session, member.id, reason)
        if existing is None:
            raise
        return _add_report(session, existing, checkpoint, now)
    return escalation


def _add_report(
    session: Session, escalation: Escalation, checkpoint: Checkpoint | None, now: datetime
) -> Escalation:
    escalation.reports += 1
    escalation.last_reported_at = now
    if checkpoint is not None:
        escalation.last_checkpoint_id = checkpoint.id
    session.flush()
    return escalation


def list_escalations(
    session: Session,
    actor: Actor,
    *,
    status: EscalationStatus | None = EscalationStatus.open,
    store_id: int | None = None,
    assignee_id: int | None = None,
    involving_staff_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Escalation]:
    stmt = _escalations(actor, status, store_id, assignee_id, involving_staff_id)
    stmt = stmt.order_by(Escalation.due_on, Escalation.id).limit(limit).offset(offset)
    return list(session.scalars(stmt))


def count_escalations(
    session: Session,
    actor: Actor,
    *,
    status: EscalationStatus | None = EscalationStatus.open,
    involving_staff_id: int | None = None,
) -> int:
    stmt = _escalations(actor, status, None, None, involving_staff_id)
    return session.scalar(stmt.with_only_columns(func.count(Escalation.id))) or 0


def _escalations(
    actor: Actor,
    status: EscalationStatus | None,
    store_id: int | None,
    assignee_id: int | None,
    involving_staff_id: int | None,
) -> Select[Escalation]:
    stmt = scope_members(select(Escalation).join(Member, Escalation.member_id == Member.id), actor)
    if status is not None:
        stmt = stmt.where(Escalation.status == status)
    if store_id is not None:
        stmt = stmt.where(Escalation.store_id == store_id)
    if assignee_id is not None:
        stmt = stmt.where(Escalation.assignee_id == assignee_id)
    if involving_staff_id is not None:
        # Handling it, or owning the member it is about.
        stmt = stmt.where(
            or_(
                Escalation.assignee_id == involving_staff_id,
                Member.owner_id == involving_staff_id,
            )
        )
    return stmt


def resolve_escalation(
    session: Session, actor: Actor, escalation_id: int, resolution: str, *, now: datetime
) -> Escalation:
    stmt = scope_members(
        select(Escalation).join(Member, Escalation.member_id == Member.id), actor
    ).where(Escalation.id == escalation_id)
    escalation = session.scalar(stmt)
    if escalation is None:
        raise NotFound(N_("escalation %(id)s not found"), field="escalation_id", id=escalation_id)
    if not may_resolve_escalation(actor, escalation):
        raise Forbidden(
            N_("only the role it was raised to, the store manager or a supervisor may "
               "resolve this escalation"),
            field="escalation_id",
        )  # fmt: skip
    if escalation.status is EscalationStatus.resolved:
        raise Conflict(N_("this escalation is already resolved"), field="status")
    resolution = resolution.strip()
    if not resolution:
        raise InvalidInput(N_("say what was done"), field="resolution")
    escalation.status = EscalationStatus.resolved
    escalation.resolved_by_id = actor.staff_id
    escalation.resolved_at = now
    escalation.resolution = resolution
    session.flush()
    if escalation.plan_id is not None:
        # A plan kept live only by this escalation (issue 21: a "stopped" answer is not a
        # plan that went well) completes once it is resolved.
        complete_if_finished(session, session.get_one(CarePlan, escalation.plan_id),
                             local_date(now))  # fmt: skip
        session.flush()
    return escalation


def raised_at_checkpoint(session: Session, checkpoint_id: int) -> list[Escalation]:
    """What a step's answer raised or added to (the caller has already checked access to
    the step)."""
    stmt = select(Escalation).where(
        or_(Escalation.checkpoint_id == checkpoint_id,
            Escalation.last_checkpoint_id == checkpoint_id)
    )  # fmt: skip
    return list(session.scalars(stmt.order_by(Escalation.id)))
