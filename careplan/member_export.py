"""A member's data export (PIPL Art. 45, right of access): everything careplan holds
about one member, as plain values, for JSON or the readable PDF.

Every record about the member is included, column by column, so a column added later is
exported without anyone remembering to: the archive, who owned the member when, plans and
their steps with results and contact attempts, readings, effect records, purchases,
lectures, printed sheets, escalations, and who looked at the member's health data.
Staff appear by name (a member knows "王药师", not staff 17).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, inspect, select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member
from careplan.change_log import plain_value
from careplan.models import (
    AccessLog,
    CarePlan,
    Checkpoint,
    CheckpointResult,
    ContactAttempt,
    EffectRecord,
    Escalation,
    HealthCheck,
    LectureInvitation,
    LectureSeat,
    Ownership,
    Purchase,
    SheetPrint,
)
from careplan.staff import names_of

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


def _records(member_id: int) -> dict[str, Select[Any]]:
    plan_ids = select(CarePlan.id).where(CarePlan.member_id == member_id)
    step_ids = select(Checkpoint.id).where(Checkpoint.plan_id.in_(plan_ids))
    by_member = {
        "ownerships": Ownership,
        "plans": CarePlan,
        "health_checks": HealthCheck,
        "effect_records": EffectRecord,
        "purchases": Purchase,
        "lecture_seats": LectureSeat,
        "lecture_invitations": LectureInvitation,
        "sheet_prints": SheetPrint,
        "escalations": Escalation,
        "access_log": AccessLog,
    }
    found: dict[str, Select[Any]] = {
        name: select(model).where(model.member_id == member_id).order_by(model.id)  # type: ignore[attr-defined]
        for name, model in by_member.items()
    }
    found["checkpoints"] = (
        select(Checkpoint)
        .where(Checkpoint.id.in_(step_ids))
        .order_by(Checkpoint.plan_id, Checkpoint.seq)
    )
    found["checkpoint_results"] = (
        select(CheckpointResult)
        .where(CheckpointResult.checkpoint_id.in_(step_ids))
        .order_by(CheckpointResult.id)
    )
    found["contact_attempts"] = (
        select(ContactAttempt)
        .where(ContactAttempt.checkpoint_id.in_(step_ids))
        .order_by(ContactAttempt.id)
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
