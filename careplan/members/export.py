"""A member's data export (PIPL Art. 45, right of access): everything careplan holds
about one member, as plain values, for JSON or the readable PDF.

Every record about the member is included, column by column, so a column added later is
exported without anyone remembering to: the archive, who owned the member when, plans and
their steps with results and contact attempts, readings, effect records, purchases,
lectures, printed sheets, escalations, complaints, relationship-grade changes, consent to
messages and the messages themselves, and who looked at the member's health data.
Staff appear by name (a member knows "王药师", not staff 17).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member
from careplan.members.records import record_ids
from careplan.models import (
    AccessLog,
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
    Message,
    MessageConsent,
    Ownership,
    Purchase,
    SheetPrint,
)
from careplan.models.base import AnySelect
from careplan.staff import names_of
from careplan.trust.change_log import plain_value

FORMAT = "careplan-member-export/1"
# Columns that say nothing to the member: secrets of the system, not their data.
SKIPPED = frozenset({"password_hash", "line_key", "version"})


def as_row(obj: Any) -> dict[str, Any]:
    """One record as plain JSON values, every mapped column."""
    return {
        attr.key: plain_value(getattr(obj, attr.key))
        for attr in inspect(obj).mapper.column_attrs
        if attr.key not in SKIPPED
    }


# Each kind of record under its name in the export, in the export's order.
NAMES: dict[type, str] = {
    Ownership: "ownerships",
    CarePlan: "plans",
    HealthCheck: "health_checks",
    EffectRecord: "effect_records",
    Purchase: "purchases",
    LectureSeat: "lecture_seats",
    LectureInvitation: "lecture_invitations",
    SheetPrint: "sheet_prints",
    Escalation: "escalations",
    Checkpoint: "checkpoints",
    CheckpointResult: "checkpoint_results",
    ContactAttempt: "contact_attempts",
    Complaint: "complaints",
    GradeChange: "grade_changes",
}
# The member's messages and their consent to them: by the member's id (an erasure blanks
# the messages' words itself, careplan/members/gone.py).
MESSAGES: dict[type, str] = {MessageConsent: "message_consents", Message: "messages"}


def _records(member_id: int) -> dict[str, AnySelect]:
    ids = record_ids(member_id)
    found: dict[str, AnySelect] = {}
    for model, name in NAMES.items():
        order = (Checkpoint.plan_id, Checkpoint.seq) if model is Checkpoint else (model.id,)  # type: ignore[attr-defined]
        found[name] = select(model).where(model.id.in_(ids[model])).order_by(*order)  # type: ignore[attr-defined]
    for model, name in MESSAGES.items():
        found[name] = select(model).where(model.member_id == member_id).order_by(model.id)  # type: ignore[attr-defined]
    # Who looked at the member's health data: theirs to know, never erased.
    found["access_log"] = (
        select(AccessLog).where(AccessLog.member_id == member_id).order_by(AccessLog.id)
    )
    return found


def _staff_ids(rows: list[dict[str, Any]]) -> set[int]:
    return {
        v for row in rows for k, v in row.items()
        if isinstance(v, int) and (k.endswith("_by_id") or k in ("owner_id", "staff_id",
                                   "actor_id", "assignee_id", "by_id", "changed_by_id"))
    }  # fmt: skip


def export_member(
    session: Session, actor: Actor, member_id: int, *, now: datetime
) -> dict[str, Any]:
    """Everything held about one member. The caller records the look (what="export")."""
    member = get_member(session, actor, member_id)
    records = {
        name: [as_row(obj) for obj in session.scalars(stmt)]
        for name, stmt in _records(member.id).items()
    }
    archive = as_row(member)
    ids = _staff_ids([archive, *(row for rows in records.values() for row in rows)])
    return {
        "format": FORMAT,
        "exported_at": plain_value(now),
        "exported_by": actor.staff_id,
        "member": archive,
        **records,
        "staff": {str(k): v for k, v in sorted(names_of(session, ids).items())},
    }
