"""Which records are about one member: what the data export hands over and what an
erasure blanks. One list, so a new kind of record about members is added once."""

from __future__ import annotations

from sqlalchemy import select

from careplan.models import (
    CarePlan,
    Checkpoint,
    CheckpointResult,
    Complaint,
    ContactAttempt,
    EffectRecord,
    Escalation,
    GradeChange,
    HealthCheck,
    LectureInvitation,
    LectureSeat,
    Ownership,
    Purchase,
    SheetPrint,
)
from careplan.models.base import AnySelect

# Records that carry the member's id themselves.
BY_MEMBER = (
    Ownership, CarePlan, HealthCheck, EffectRecord, Purchase, LectureSeat, LectureInvitation,
    SheetPrint, Escalation, Complaint, GradeChange,
)  # fmt: skip


def record_ids(member_id: int) -> dict[type, AnySelect]:
    """The ids of each kind of record about one member, as subqueries (the archive row
    itself excepted); steps and their results reach the member through the plan."""
    found: dict[type, AnySelect] = {
        model: select(model.id).where(model.member_id == member_id) for model in BY_MEMBER
    }
    step_ids = select(Checkpoint.id).where(Checkpoint.plan_id.in_(found[CarePlan]))
    found[Checkpoint] = step_ids
    found[CheckpointResult] = select(CheckpointResult.id).where(
        CheckpointResult.checkpoint_id.in_(step_ids)
    )
    found[ContactAttempt] = select(ContactAttempt.id).where(
        ContactAttempt.checkpoint_id.in_(step_ids)
    )
    return found
