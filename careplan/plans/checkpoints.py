"""Working a checkpoint: record the result or a skip (how a call ends otherwise:
outcomes.py); and the filtered lists (due, overdue, by staff, store, protocol, dates)
behind the worklist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import ColumnElement, and_, case, func, literal_column, or_, select, true
from sqlalchemy.orm import Session

from careplan.access import Actor, get_checkpoint, scope_members
from careplan.errors import N_, Conflict, InvalidInput, InvalidValue, StaleVersion
from careplan.members import last_seen
from careplan.members.health_records import (
    EffectIn,
    HealthCheckIn,
    add_effect,
    add_health_check,
)
from careplan.models import CarePlan, Checkpoint, CheckpointResult, Member
from careplan.models.base import AnySelect
from careplan.plans.escalations import raise_escalation
from careplan.plans.lifecycle import (
    allowed_channels,
    asks_health_answers,
    checkpoints_of,
    complete_if_finished,
    protocol_of,
    shift_checkpoint,
    status_of,
    step_of,
)
from careplan.plans.protocol_schema import Protocol, Step, StepCommon
from careplan.vocab import (
    Adherence,
    Channel,
    CheckpointState,
    CheckpointStatus,
    StopReason,
)

Pending = CheckpointState.pending


class ResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    version: int = Field(description="the checkpoint version you read; a stale one gets 409")
    channel: Channel
    # Required where the step asks it (lifecycle.asks_health_answers); a plan that holds
    # no health data (the complaint visit, the contact plans) asks none and keeps none.
    adherence: Adherence | None = None
    stop_reason: StopReason | None = None
    checklist: dict[str, bool] = Field(default_factory=dict)
    notes: str = Field(default="", max_length=10_000)
    contacted_on: date | None = None  # default: today
    measurements: list[HealthCheckIn] = Field(default_factory=list, max_length=10)
    effect: EffectIn | None = None

    @model_validator(mode="after")
    def _reason_with_stop(self) -> ResultIn:
        if self.adherence is Adherence.stopped and self.stop_reason is None:
            raise InvalidValue(N_("say why the member stopped taking it"), field="stop_reason")
        if self.adherence is not Adherence.stopped and self.stop_reason is not None:
            raise InvalidValue(N_("only for a 'stopped' answer"), field="stop_reason")
        return self


def snapshot(session: Session, cp: Checkpoint, today: date) -> dict[str, Any]:
    """What a checkpoint is now: sent back with a 409 so nobody overwrites blindly."""
    result = session.scalar(select(CheckpointResult).where(CheckpointResult.checkpoint_id == cp.id))
    return {
        "id": cp.id,
        "version": cp.version,
        "status": status_of(cp, today).value,
        "assignee_id": cp.assignee_id,
        "result": None
        if result is None
        else {
            "recorded_by_id": result.recorded_by_id,
            "recorded_at": result.recorded_at.isoformat(),
            "channel": result.channel.value,
            "adherence": result.adherence.value if result.adherence else None,
            "fulfilled_by": result.fulfilled_by,
            "stop_reason": result.stop_reason.value if result.stop_reason else None,
            "notes": result.notes,
        },
    }


def check_version(session: Session, cp: Checkpoint, version: int | None, today: date) -> None:
    if version is not None and version != cp.version:
        raise StaleVersion(
            N_("this step was changed by someone else since you opened it"),
            current=snapshot(session, cp, today),
        )


def _check_channel(
    session: Session, cp: Checkpoint, step: StepCommon, protocol: Protocol, channel: Channel
) -> None:
    allowed = allowed_channels(protocol, step)
    if channel not in allowed:
        raise InvalidInput(
            N_("channel %(channel)s is not allowed at this step (allowed: %(allowed)s)"),
            field="channel",
            channel=channel,
            allowed=list(allowed),
        )
    needed = step.home_visit_after_phone
    if needed and channel is not Channel.home_visit:
        earlier = session.scalars(
            select(CheckpointResult.channel)
            .join(Checkpoint, CheckpointResult.checkpoint_id == Checkpoint.id)
            .where(Checkpoint.plan_id == cp.plan_id, Checkpoint.seq < cp.seq)
            .order_by(Checkpoint.seq.desc())
            .limit(needed)
        ).all()
        if len(earlier) == needed and all(c is Channel.phone for c in earlier):
            raise InvalidInput(
                N_("the last %(needed)s contacts were by phone, so this one must be a home visit"),
                field="channel",
                needed=needed,
            )


def _check_checklist(step: StepCommon, answers: dict[str, bool]) -> None:
    known = {item.key for item in step.checklist}
    for key in answers:
        if key not in known:
            raise InvalidInput(
                N_("checklist item %(key)s is not part of this step"),
                field=f"checklist.{key}",
                key=key,
            )


def _reanchor(
    session: Session, cp: Checkpoint, step: StepCommon, protocol: Protocol, delay: int
) -> None:
    """A late step that re-anchors moves every later open step by the same delay."""
    reanchors = (
        step.reanchor
        if isinstance(step, Step) and step.reanchor is not None
        else protocol.defaults.reanchor
    )
    if not reanchors or delay <= 0:
        return
    for later in checkpoints_of(session, cp.plan):
        if later.seq > cp.seq and later.state is Pending:
            shift_checkpoint(later, delay)
    cp.plan.shift_days += delay
    if cp.plan.end_date is not None:
        cp.plan.end_date += timedelta(days=delay)


def record_result(
    session: Session,
    actor: Actor,
    checkpoint_id: int,
    data: ResultIn,
    *,
    today: date,
    now: datetime,
) -> CheckpointResult:
    cp = get_checkpoint(session, actor, checkpoint_id)
    check_version(session, cp, data.version, today)
    if cp.state is not Pending:
        raise Conflict(
            N_("this step is %(status)s; nothing to record"),
            field="state",
            status=status_of(cp, today),
        )
    protocol = protocol_of(cp.plan)
    step = step_of(protocol, cp.key)
    contacted_on = data.contacted_on or today
    if contacted_on > today or contacted_on < cp.plan.start_date:
        raise InvalidInput(N_("must lie between the plan's start and today"), field="contacted_on")
    _check_channel(session, cp, step, protocol, data.channel)
    _check_checklist(step, data.checklist)
    if not asks_health_answers(protocol):
        data = data.model_copy(update={"adherence": None, "stop_reason": None, "effect": None})
    elif data.adherence is None:
        raise InvalidInput(N_("say whether the member is taking the medicine"), field="adherence")
    result = CheckpointResult(
        recorded_by_id=actor.staff_id or cp.assignee_id,
        recorded_at=now,
        channel=data.channel,
        checklist=dict(data.checklist),
        adherence=data.adherence,
        stop_reason=data.stop_reason,
        notes=data.notes,
    )
    complete_step(session, cp, result, contacted_on)
    member = cp.plan.member
    for m in data.measurements:
        add_health_check(session, actor, member, m, now=now, checkpoint_id=cp.id)
    if data.effect is not None:
        add_effect(
            session, actor, member, data.effect, now=now, plan_id=cp.plan_id, checkpoint_id=cp.id
        )
    if data.stop_reason is not None:
        raise_escalation(
            session,
            actor,
            protocol=protocol,
            plan=cp.plan,
            checkpoint=cp,
            reason=data.stop_reason,
            today=today,
            now=now,
        )
    complete_if_finished(session, cp.plan, today)
    session.flush()
    return result


def complete_step(
    session: Session, cp: Checkpoint, result: CheckpointResult, contacted_on: date
) -> None:
    """A step is done: its result is recorded on the day of the contact, late if that
    day is past the grace period (within it the step was never shown as overdue), and a
    late step re-anchors the later ones where its protocol says so. The worklist's save
    and a lecture's check-in both complete steps here: a step fulfilled by attending a
    lecture late moves the plan as a late call would (the member's real day counts)."""
    late = contacted_on >= cp.overdue_on
    result.checkpoint_id, result.contacted_on, result.late = cp.id, contacted_on, late
    session.add(result)
    last_seen.saw(session, {cp.plan.member_id: contacted_on})
    cp.state, cp.completed_on, cp.late, cp.call_back_at = (
        CheckpointState.done, contacted_on, late, None,
    )  # fmt: skip
    if late:
        protocol = protocol_of(cp.plan)
        delay = (contacted_on - cp.due_on).days
        _reanchor(session, cp, step_of(protocol, cp.key), protocol, delay)


def skip(
    session: Session,
    actor: Actor,
    checkpoint_id: int,
    reason: str,
    version: int | None,
    *,
    today: date,
) -> Checkpoint:
    reason = reason.strip()
    if not reason:
        raise InvalidInput(N_("say why the step is skipped"), field="reason")
    cp = get_checkpoint(session, actor, checkpoint_id)
    check_version(session, cp, version, today)
    if cp.state is not Pending:
        raise Conflict(N_("this step is %(status)s"), field="state", status=status_of(cp, today))
    cp.state = CheckpointState.skipped
    cp.skip_reason = reason[:255]
    session.flush()
    complete_if_finished(session, cp.plan, today)
    session.flush()
    return cp


# --- Lists ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckpointFilter:
    status: CheckpointStatus | None = None
    staff_id: int | None = None
    store_id: int | None = None
    protocol_id: str | None = None
    step_key: str | None = None
    member_id: int | None = None
    due_from: date | None = None
    due_to: date | None = None
    # Leave out steps put off with "remind me later" until their day (the worklist).
    awake: bool = False
    limit: int = 100
    offset: int = 0


def status_clause(status: CheckpointStatus, today: date) -> ColumnElement[bool]:
    """The SQL twin of schedule.checkpoint_status, so lists filter in the database.
    Only the asked status is built: every list asks, and expressions cost. The open state
    is written as a literal, as the partial indexes on open steps say it: a database can
    use such an index only where the query's condition visibly implies the index's."""
    pending = Checkpoint.state == literal_column(f"'{Pending.value}'")
    done = Checkpoint.state == CheckpointState.done
    match status:
        case CheckpointStatus.upcoming:
            return and_(pending, Checkpoint.open_on > today)
        case CheckpointStatus.due:
            return and_(pending, Checkpoint.open_on <= today, Checkpoint.overdue_on > today)
        case CheckpointStatus.overdue:
            not_missed = or_(Checkpoint.missed_on.is_(None), Checkpoint.missed_on > today)
            not_held = or_(Checkpoint.held_until.is_(None), Checkpoint.held_until <= today)
            return and_(pending, Checkpoint.overdue_on <= today, not_missed, not_held)
        case CheckpointStatus.visit_agreed:
            not_missed = or_(Checkpoint.missed_on.is_(None), Checkpoint.missed_on > today)
            held = Checkpoint.held_until > today
            return and_(pending, Checkpoint.overdue_on <= today, not_missed, held)
        case CheckpointStatus.missed:
            return and_(pending, Checkpoint.missed_on <= today)
        case CheckpointStatus.done:
            return and_(done, ~Checkpoint.late)
        case CheckpointStatus.done_late:
            return and_(done, Checkpoint.late)
    return Checkpoint.state == CheckpointState(status.value)


def _filtered(stmt: AnySelect, actor: Actor, f: CheckpointFilter, today: date) -> AnySelect:
    stmt = stmt.join(CarePlan, Checkpoint.plan_id == CarePlan.id).join(
        Member, CarePlan.member_id == Member.id
    )
    stmt = scope_members(stmt, actor).where(*_status_and_dates(f, today))
    if f.staff_id is not None:
        stmt = stmt.where(Checkpoint.assignee_id == f.staff_id)
    if f.store_id is not None:
        stmt = stmt.where(Member.home_store_id == f.store_id)
    if f.protocol_id is not None:
        stmt = stmt.where(CarePlan.protocol_id == f.protocol_id)
    if f.step_key is not None:
        stmt = stmt.where(Checkpoint.key == f.step_key)
    if f.member_id is not None:
        stmt = stmt.where(Member.id == f.member_id)
    if f.awake:
        stmt = stmt.where(awake_clause(today))
    return stmt


def awake_clause(today: date) -> ColumnElement[bool]:
    """Not put off with "remind me later", or its day has come."""
    return or_(Checkpoint.snoozed_until.is_(None), Checkpoint.snoozed_until <= today)


def _list_stmt(actor: Actor, f: CheckpointFilter, today: date) -> AnySelect:
    stmt = _filtered(select(Checkpoint, Member), actor, f, today)
    # Oldest first: the member waiting longest is called first.
    return stmt.order_by(Checkpoint.due_on, Checkpoint.id).limit(f.limit).offset(f.offset)


def list_checkpoints(
    session: Session, actor: Actor, f: CheckpointFilter, *, today: date
) -> list[tuple[Checkpoint, Member]]:
    if f.due_from and f.due_to and f.due_from > f.due_to:
        raise InvalidInput(N_("the first day is after the last"), field="due_from")
    return [(cp, m) for cp, m in session.execute(_list_stmt(actor, f, today)).all()]


def count_checkpoints(session: Session, actor: Actor, f: CheckpointFilter, *, today: date) -> int:
    stmt = _filtered(select(func.count(Checkpoint.id)), actor, f, today)
    return session.scalar(stmt) or 0


def count_members_each(
    session: Session, actor: Actor, lists: Mapping[str, CheckpointFilter], *, today: date
) -> dict[str, int]:
    """count_members of several lists at once, in one query: lists that differ only in
    their status and due dates (the worklist's tabs, counted on every page)."""
    shared = {replace(f, status=None, due_from=None, due_to=None, limit=0) for f in lists.values()}
    if len(shared) != 1:
        raise ValueError("count_members_each: the lists differ in more than status and dates")
    terms = {key: and_(true(), *_status_and_dates(f, today)) for key, f in lists.items()}
    counts = [
        func.count(func.distinct(case((term, CarePlan.member_id)))).label(key)
        for key, term in terms.items()
    ]
    stmt = _filtered(select(*counts).select_from(Checkpoint), actor, shared.pop(), today)
    row = session.execute(stmt.where(or_(*terms.values()))).one()
    return {key: int(row._mapping[key] or 0) for key in lists}


def _status_and_dates(f: CheckpointFilter, today: date) -> list[ColumnElement[bool]]:
    """The terms of a list's status and due dates (what count_members_each lets differ)."""
    terms = [] if f.status is None else [status_clause(f.status, today)]
    if f.due_from is not None:
        terms.append(Checkpoint.due_on >= f.due_from)
    if f.due_to is not None:
        terms.append(Checkpoint.due_on <= f.due_to)
    return terms


def days_overdue(cp: Checkpoint, today: date) -> int:
    return max(0, (today - cp.due_on).days) if cp.state is Pending else 0
