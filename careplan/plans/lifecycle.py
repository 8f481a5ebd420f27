"""Care plans: enrol (with a preview), pause, resume, stop, complete, migrate versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member, get_plan, rows_of_member, scope_members
from careplan.errors import N_, Conflict, InvalidInput
from careplan.members.archive import (
    check_owner,
    require_alive,
    require_consent,
    require_not_erased,
)
from careplan.models import CarePlan, Checkpoint, Escalation, Member, ProtocolVersion
from careplan.plans.protocol_schema import Protocol, StepCommon, Text, routine_key_parts
from careplan.plans.protocols import definition_of, get_version
from careplan.plans.schedule import (
    PlannedStep,
    StepDates,
    checkpoint_status,
    plan_end,
    plan_schedule,
)
from careplan.vocab import (
    Channel,
    CheckpointState,
    CheckpointStatus,
    EscalationStatus,
    PlanStatus,
    RemovalReason,
)

LIVE = (PlanStatus.active, PlanStatus.paused)
OPEN_STATES = (CheckpointState.pending, CheckpointState.paused)
RESOLVED = (
    CheckpointStatus.done,
    CheckpointStatus.done_late,
    CheckpointStatus.skipped,
    CheckpointStatus.missed,
    CheckpointStatus.retired,
    CheckpointStatus.cancelled,
)
MAX_START_DRIFT = timedelta(days=366)


def protocol_of(plan: CarePlan) -> Protocol:
    return definition_of(plan.protocol_version)


def step_of(protocol: Protocol, key: str) -> StepCommon:
    """The definition behind a checkpoint key: a fixed step or the routine tail."""
    step = protocol.step(key)
    if step is not None:
        return step
    tail = protocol.tail_of(key)
    if tail is not None:
        return tail
    raise KeyError(key)


@dataclass(frozen=True)
class StepTitle:
    """A step's name as staff read it. The routine tail's contacts share one title, so
    each carries its month and number and two rows never read as one step."""

    title: Text
    month: int | None = None  # the routine's month (1 = the first after the fixed steps)
    number: int | None = None  # the contact's number within that month


def step_title(protocol: Protocol, key: str) -> StepTitle:
    step = step_of(protocol, key)
    parts = routine_key_parts(key)
    if step in protocol.tails and parts is not None:
        _, month, number = parts
        return StepTitle(step.title, month, number)
    return StepTitle(step.title)


def allowed_channels(protocol: Protocol, step: StepCommon) -> tuple[Channel, ...]:
    """How a step may be worked: its own channels, else the protocol's defaults. The one
    answer the form, the save, the sheet's next contact and the demo all ask for."""
    return step.channels or protocol.defaults.channels


def needs_health_consent(protocol: Protocol) -> bool:
    """The one decision: a plan that asks for health data (readings, effects, drug classes)
    needs the member's health consent; one that says `health_data: false` (the contact
    plans by outlook: calls and visits, nothing measured) does not."""
    return protocol.health_data


def asks_health_answers(protocol: Protocol) -> bool:
    """The one decision whether a step's result asks the health questions: is the member
    taking the medicine (and, if stopped, why: side effects, effect, cost...) and the
    effect record. A plan that holds no health data (`health_data: false`: the complaint
    visit, the contact plans by outlook) asks none of them: its member may have given no
    health consent, and its result says only that the contact was made, how, and what the
    member said (the notes). The form asks this, the save follows it."""
    return protocol.health_data


def _check_start(start: date, today: date) -> None:
    if abs(start - today) > MAX_START_DRIFT:
        raise InvalidInput(N_("must be within a year of today"), field="start_date")


def preview(
    session: Session, protocol_id: str, version: int | None, start: date, *, today: date
) -> tuple[ProtocolVersion, list[PlannedStep]]:
    """The dates a plan would get, shown before anything is saved."""
    _check_start(start, today)
    row = get_version(session, protocol_id, version)
    return row, plan_schedule(definition_of(row), start)


def _new_checkpoint(
    plan: CarePlan,
    step: PlannedStep,
    dates: StepDates,
    assignee: int,
    state: CheckpointState = CheckpointState.pending,
) -> Checkpoint:
    return Checkpoint(
        plan=plan,
        protocol_id=plan.protocol_id,
        key=step.key,
        seq=step.seq,
        open_on=dates.open_on,
        due_on=dates.due_on,
        overdue_on=dates.overdue_on,
        missed_on=dates.missed_on,
        assignee_id=assignee,
        state=state,
    )


def enroll(
    session: Session,
    actor: Actor,
    *,
    member_id: int,
    protocol_id: str,
    version: int | None = None,
    start: date,
    today: date,
    now: datetime,
    assignee_id: int | None = None,
) -> CarePlan:
    """`assignee_id`: who works the steps (default the member's owner; a pharmacist may
    take a plan that needs one)."""
    member = get_member(session, actor, member_id)
    require_alive(member)
    require_not_erased(member)
    if needs_health_consent(definition_of(get_version(session, protocol_id, version))):
        require_consent(member)
    assignee = member.owner_id if assignee_id is None else assignee_id
    if assignee != member.owner_id:
        check_owner(session, assignee, member.home_store_id, field="assignee_id")
    row, steps = preview(session, protocol_id, version, start, today=today)
    if _live_plan(session, member.id, protocol_id) is not None:
        raise Conflict(N_("the member already has an active plan of this protocol"),
                       field="protocol_id", protocol=protocol_id)  # fmt: skip
    plan = CarePlan(
        member=member,
        protocol_id=protocol_id,
        protocol_version=row,
        start_date=start,
        end_date=plan_end(definition_of(row), start),
        enrolled_by_id=actor.staff_id or member.owner_id,
        enrolled_at=now,
    )
    session.add(plan)
    for step in steps:
        session.add(_new_checkpoint(plan, step, step.dates, assignee))
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another enrolment won the race for the unique live-plan index.
        raise Conflict(
            N_("the member already has an active plan of this protocol"),
            field="protocol_id",
            protocol=protocol_id,
        ) from None
    return plan


def check_no_live_plan(session: Session, member_id: int, protocol_id: str) -> None:
    """One live plan per member and protocol: asked at the preview already, so nobody
    fills in the dates of a plan that cannot be saved."""
    if _live_plan(session, member_id, protocol_id) is not None:
        raise Conflict(N_("the member already has an active plan of this protocol"),
                       field="protocol_id")  # fmt: skip


def _live_plan(session: Session, member_id: int, protocol_id: str) -> CarePlan | None:
    return session.scalar(
        select(CarePlan).where(
            CarePlan.member_id == member_id,
            CarePlan.protocol_id == protocol_id,
            CarePlan.status.in_(LIVE),
        )
    )


def checkpoints_of(session: Session, plan: CarePlan) -> list[Checkpoint]:
    return list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.plan_id == plan.id)
            .order_by(Checkpoint.seq, Checkpoint.id)
        )
    )


def status_of(checkpoint: Checkpoint, today: date) -> CheckpointStatus:
    return checkpoint_status(
        checkpoint.state,
        checkpoint.open_on,
        checkpoint.overdue_on,
        checkpoint.missed_on,
        checkpoint.late,
        today,
        checkpoint.held_until,
    )


def shift_checkpoint(checkpoint: Checkpoint, days: int) -> None:
    delta = timedelta(days=days)
    checkpoint.open_on += delta
    checkpoint.due_on += delta
    checkpoint.overdue_on += delta
    if checkpoint.missed_on is not None:
        checkpoint.missed_on += delta


def pause(session: Session, actor: Actor, plan_id: int, *, today: date) -> CarePlan:
    plan = get_plan(session, actor, plan_id)
    if plan.status is not PlanStatus.active:
        raise Conflict(
            N_("only an active plan can be paused (this one is %(status)s)"),
            field="status",
            status=plan.status,
        )
    plan.status = PlanStatus.paused
    plan.paused_on = today
    for cp in checkpoints_of(session, plan):
        if cp.state is CheckpointState.pending:
            cp.state = CheckpointState.paused
    session.flush()
    return plan


def resume(session: Session, actor: Actor, plan_id: int, *, today: date) -> CarePlan:
    """Open steps move by the length of the pause: the member was away, not late."""
    plan = get_plan(session, actor, plan_id)
    if plan.status is not PlanStatus.paused or plan.paused_on is None:
        raise Conflict(N_("only a paused plan can be resumed"), field="status")
    days = (today - plan.paused_on).days
    for cp in checkpoints_of(session, plan):
        if cp.state is CheckpointState.paused:
            cp.state = CheckpointState.pending
            shift_checkpoint(cp, days)
    plan.shift_days += days
    if plan.end_date is not None:
        plan.end_date += timedelta(days=days)
    plan.status = PlanStatus.active
    plan.paused_on = None
    session.flush()
    return plan


def stop(
    session: Session,
    actor: Actor,
    plan_id: int,
    reason: str,
    *,
    today: date,
    removed_for: RemovalReason | None = None,
) -> CarePlan:
    """The one way a plan stops: by hand with the words why, or because a call removed
    the member from follow-up (`removed_for`; the words are then optional)."""
    reason = reason.strip()
    if not reason and removed_for is None:
        raise InvalidInput(N_("say why the plan is stopped"), field="reason")
    plan = get_plan(session, actor, plan_id)
    if plan.status not in LIVE:
        raise Conflict(N_("the plan is already %(status)s"), field="status", status=plan.status)
    plan.status = PlanStatus.stopped
    plan.stopped_on = today
    plan.stop_reason = reason[:255] or None
    plan.removed_for = removed_for
    for cp in checkpoints_of(session, plan):
        if cp.state in OPEN_STATES:
            cp.state = CheckpointState.cancelled
    session.flush()
    return plan


def _all_resolved(session: Session, plan: CarePlan, today: date) -> bool:
    return all(status_of(cp, today) in RESOLVED for cp in checkpoints_of(session, plan))


def open_escalations(
    session: Session, *, plan_id: int | None = None, member_id: int | None = None
) -> list[Escalation]:
    """The open escalations of a plan, or of a member (read through access already)."""
    stmt = select(Escalation).where(Escalation.status == EscalationStatus.open)
    if plan_id is not None:
        stmt = stmt.where(Escalation.plan_id == plan_id)
    if member_id is not None:
        stmt = stmt.where(Escalation.member_id == member_id)
    return list(session.scalars(stmt.order_by(Escalation.raised_at, Escalation.id)))


def complete_if_finished(session: Session, plan: CarePlan, today: date) -> bool:
    """A plan completes itself once every step is done, skipped or missed, and no
    escalation of it is open: a "stopped taking" answer on the last step is not a plan
    that went well, and it stays live until someone resolves the escalation."""
    if plan.status is not PlanStatus.active:
        return False
    if _all_resolved(session, plan, today) and not open_escalations(session, plan_id=plan.id):
        plan.status = PlanStatus.completed
        plan.completed_on = today
        return True
    return False


def effective_status(
    session: Session,
    plan: CarePlan,
    today: date,
    *,
    steps: list[Checkpoint] | None = None,
    escalations: list[Escalation] | None = None,
) -> PlanStatus:
    """As the member's page shows it: an active plan whose last steps expired is complete,
    unless an escalation of it is still open (then it is not over, whatever the steps).
    `steps` and `escalations`: the plan's, when the caller has read them already."""
    if escalations is None:
        escalations = open_escalations(session, plan_id=plan.id)
    if plan.status in (PlanStatus.active, PlanStatus.completed) and escalations:
        return PlanStatus.active
    if plan.status is PlanStatus.active:
        steps = checkpoints_of(session, plan) if steps is None else steps
        if all(status_of(cp, today) in RESOLVED for cp in steps):
            return PlanStatus.completed
    return plan.status


def plans_of_member(session: Session, actor: Actor, member_id: int) -> list[CarePlan]:
    order = (CarePlan.start_date.desc(), CarePlan.id.desc())
    return rows_of_member(session, actor, CarePlan, member_id, *order)


# --- Moving in-progress plans onto a new protocol version -----------------------------


@dataclass(frozen=True)
class StepChange:
    key: str
    action: str  # kept (has a result), unchanged, rescheduled, added, retired
    old: StepDates | None
    new: StepDates | None


@dataclass(frozen=True)
class MigrationPreview:
    plan_id: int
    member_id: int
    from_version: int
    to_version: int
    changes: tuple[StepChange, ...]


def _dates(cp: Checkpoint) -> StepDates:
    return StepDates(cp.open_on, cp.due_on, cp.overdue_on, cp.missed_on)


def _own_shift(old_base: dict[str, StepDates], cp: Checkpoint, fallback: int) -> int:
    """How far this step had already moved (pauses, re-anchoring) from its base date."""
    base = old_base.get(cp.key)
    return (cp.due_on - base.due_on).days if base is not None else fallback


def _plan_migration(
    plan: CarePlan, old: Protocol, new: Protocol, existing: list[Checkpoint]
) -> list[tuple[StepChange, PlannedStep | None]]:
    old_base = {s.key: s.dates for s in plan_schedule(old, plan.start_date)}
    by_key = {cp.key: cp for cp in existing}
    out: list[tuple[StepChange, PlannedStep | None]] = []
    for step in plan_schedule(new, plan.start_date):
        cp = by_key.pop(step.key, None)
        if cp is None:
            out.append(
                (StepChange(step.key, "added", None, step.dates.shifted(plan.shift_days)), step)
            )
        elif cp.state not in OPEN_STATES:
            out.append((StepChange(step.key, "kept", _dates(cp), _dates(cp)), step))
        else:
            target = step.dates.shifted(_own_shift(old_base, cp, plan.shift_days))
            action = "unchanged" if target == _dates(cp) else "rescheduled"
            out.append((StepChange(step.key, action, _dates(cp), target), step))
    for cp in by_key.values():  # steps the new version no longer has
        action = "retired" if cp.state in OPEN_STATES else "kept"
        out.append(
            (
                StepChange(cp.key, action, _dates(cp), None if action == "retired" else _dates(cp)),
                None,
            )
        )
    return out


def _migration_target(session: Session, plan: CarePlan, to_version: int) -> ProtocolVersion:
    if plan.status not in LIVE:
        raise Conflict(N_("plan %(id)s is %(status)s; only live plans move"), field="plan_ids",
                       id=plan.id, status=plan.status)  # fmt: skip
    target = get_version(session, plan.protocol_id, to_version)
    if target.version <= plan.protocol_version.version:
        raise InvalidInput(
            N_("plan %(id)s is already on v%(version)s; migrate only to a newer version"),
            field="to_version",
            id=plan.id,
            version=plan.protocol_version.version,
        )
    return target


@dataclass(frozen=True)
class _Migration:
    plan: CarePlan
    target: ProtocolVersion
    existing: list[Checkpoint]
    pairs: list[tuple[StepChange, PlannedStep | None]]

    @property
    def preview(self) -> MigrationPreview:
        return MigrationPreview(
            self.plan.id,
            self.plan.member_id,
            self.plan.protocol_version.version,
            self.target.version,
            tuple(c for c, _ in self.pairs),
        )


def _migrations(
    session: Session, actor: Actor, plan_ids: list[int], to_version: int
) -> list[_Migration]:
    """Work out every plan's move first, so one refused plan leaves all of them alone."""
    out = []
    for plan_id in plan_ids:
        plan = get_plan(session, actor, plan_id)
        target = _migration_target(session, plan, to_version)
        existing = checkpoints_of(session, plan)
        pairs = _plan_migration(plan, protocol_of(plan), definition_of(target), existing)
        out.append(_Migration(plan, target, existing, pairs))
    return out


def preview_migration(
    session: Session, actor: Actor, plan_ids: list[int], to_version: int
) -> list[MigrationPreview]:
    return [m.preview for m in _migrations(session, actor, plan_ids, to_version)]


def _apply(session: Session, m: _Migration) -> None:
    plan = m.plan
    by_key = {cp.key: cp for cp in m.existing}
    held = CheckpointState.paused if plan.status is PlanStatus.paused else CheckpointState.pending
    for change, step in m.pairs:
        cp = by_key.get(change.key)
        if change.action == "added" and step is not None and change.new is not None:
            session.add(_new_checkpoint(plan, step, change.new, plan.member.owner_id, held))
        elif change.action == "retired" and cp is not None:
            cp.state = CheckpointState.retired
        elif cp is not None and change.new is not None:
            cp.open_on, cp.due_on = change.new.open_on, change.new.due_on
            cp.overdue_on, cp.missed_on = change.new.overdue_on, change.new.missed_on
            if step is not None:
                cp.seq = step.seq
    plan.protocol_version = m.target
    plan.end_date = plan_end(definition_of(m.target), plan.start_date)
    if plan.end_date is not None:
        plan.end_date += timedelta(days=plan.shift_days)


def migrate(
    session: Session, actor: Actor, plan_ids: list[int], to_version: int
) -> list[MigrationPreview]:
    """Apply exactly what preview_migration shows; recorded results are never touched."""
    if not plan_ids:
        raise InvalidInput(N_("choose at least one plan"), field="plan_ids")
    migrations = _migrations(session, actor, plan_ids, to_version)
    previews = [m.preview for m in migrations]  # before the plans point at the new version
    for m in migrations:
        _apply(session, m)
    session.flush()
    return previews


def live_plans_of_protocol(session: Session, actor: Actor, protocol_id: str) -> list[CarePlan]:
    stmt = scope_members(select(CarePlan).join(Member, CarePlan.member_id == Member.id), actor)
    return list(
        session.scalars(
            stmt.where(CarePlan.protocol_id == protocol_id, CarePlan.status.in_(LIVE)).order_by(
                CarePlan.id
            )
        )
    )
