"""Domain objects to API shapes (kept apart so routes stay a few lines each)."""

from __future__ import annotations

from datetime import date

from careplan.models import CarePlan, Checkpoint, Lecture, LectureSeat, Member, ProtocolVersion
from careplan.plans.checkpoints import days_overdue
from careplan.plans.lifecycle import protocol_of, status_of, step_of
from careplan.plans.protocols import definition_of
from careplan.plans.schedule import StepDates
from careplan.vocab import RiskReason
from web.api.schemas import (
    CheckpointOut,
    LectureOut,
    PlanOut,
    ProtocolOut,
    SeatOut,
    StepDatesOut,
)


def checkpoint_out(
    cp: Checkpoint, member: Member, today: date, risks: tuple[RiskReason, ...] = ()
) -> CheckpointOut:
    title = step_of(protocol_of(cp.plan), cp.key).title
    return CheckpointOut(
        id=cp.id,
        plan_id=cp.plan_id,
        member_id=member.id,
        member_name=member.name,
        protocol_id=cp.plan.protocol_id,
        key=cp.key,
        seq=cp.seq,
        title_zh=title.zh,
        title_en=title.en,
        open_on=cp.open_on,
        due_on=cp.due_on,
        overdue_on=cp.overdue_on,
        missed_on=cp.missed_on,
        status=status_of(cp, today),
        days_overdue=days_overdue(cp, today),
        assignee_id=cp.assignee_id,
        completed_on=cp.completed_on,
        late=cp.late,
        call_back_at=cp.call_back_at,
        held_until=cp.held_until,
        snoozed_until=cp.snoozed_until,
        risks=list(risks),
        version=cp.version,
    )


def plan_out(plan: CarePlan, checkpoints: list[Checkpoint], today: date) -> PlanOut:
    return PlanOut(
        id=plan.id,
        member_id=plan.member_id,
        protocol_id=plan.protocol_id,
        protocol_version=plan.protocol_version.version,
        start_date=plan.start_date,
        end_date=plan.end_date,
        status=plan.status,
        shift_days=plan.shift_days,
        paused_on=plan.paused_on,
        stopped_on=plan.stopped_on,
        stop_reason=plan.stop_reason,
        removed_for=plan.removed_for,
        completed_on=plan.completed_on,
        checkpoints=[checkpoint_out(cp, plan.member, today) for cp in checkpoints],
    )


def dates_out(d: StepDates | None) -> StepDatesOut | None:
    if d is None:
        return None
    return StepDatesOut(
        open_on=d.open_on, due_on=d.due_on, overdue_on=d.overdue_on, missed_on=d.missed_on
    )


def protocol_out(row: ProtocolVersion) -> ProtocolOut:
    d = definition_of(row)
    return ProtocolOut(
        protocol_id=row.protocol_id,
        version=row.version,
        content_hash=row.content_hash,
        title_zh=d.title.zh,
        title_en=d.title.en,
        condition_icd10=d.condition.icd10 if d.condition else None,
        definition=row.definition,
    )


def seat_out(seat: LectureSeat) -> SeatOut:
    return SeatOut.model_validate(seat).model_copy(update={"member_name": seat.member.name})


def lecture_out(lecture: Lecture, seats: dict[str, int] | None = None) -> LectureOut:
    """A lecture, with its seat counts when the caller read them (lectures.seat_counts)."""
    out = LectureOut.model_validate(lecture)
    return out.model_copy(update={"seats": seats}) if seats is not None else out
