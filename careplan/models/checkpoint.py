"""Dated adherence checkpoints, what was recorded at them, and contact attempts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, JsonType, TimestampMixin, enum_column
from careplan.models.plan import CarePlan
from careplan.vocab import Adherence, AttemptOutcome, Channel, CheckpointState, StopReason


class Checkpoint(IdMixin, TimestampMixin, Base):
    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("plan_id", "key"),
        # The worklist: my pending steps by date. Status is derived from these dates.
        Index("ix_checkpoints_assignee_state_due", "assignee_id", "state", "due_on"),
        Index("ix_checkpoints_state_overdue", "state", "overdue_on"),
    )

    plan_id: Mapped[int] = mapped_column(IdType, ForeignKey("care_plans.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int]
    open_on: Mapped[date]
    due_on: Mapped[date]
    overdue_on: Mapped[date]  # first day the step counts as overdue (due + grace + 1)
    missed_on: Mapped[date | None] = mapped_column(default=None)  # first day it is missed
    state: Mapped[CheckpointState] = enum_column(
        CheckpointState, "checkpoint_state", default=CheckpointState.pending
    )
    assignee_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    completed_on: Mapped[date | None] = mapped_column(default=None)
    late: Mapped[bool] = mapped_column(default=False)
    call_back_at: Mapped[datetime | None] = mapped_column(default=None)
    skip_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    # Optimistic lock: a save must name the version it read (409 otherwise).
    version: Mapped[int] = mapped_column()

    plan: Mapped[CarePlan] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}


class CheckpointResult(IdMixin, Base):
    __tablename__ = "checkpoint_results"

    checkpoint_id: Mapped[int] = mapped_column(IdType, ForeignKey("checkpoints.id"), unique=True)
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
    contacted_on: Mapped[date]
    channel: Mapped[Channel] = enum_column(Channel, "result_channel")
    checklist: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    adherence: Mapped[Adherence] = enum_column(Adherence, "result_adherence")
    stop_reason: Mapped[StopReason | None] = enum_column(
        StopReason, "result_stop_reason", default=None
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    late: Mapped[bool] = mapped_column(default=False)
    fulfilled_by: Mapped[str | None] = mapped_column(String(120), default=None)


class ContactAttempt(IdMixin, Base):
    """A try that did not reach the member: the step stays open."""

    __tablename__ = "contact_attempts"

    checkpoint_id: Mapped[int] = mapped_column(IdType, ForeignKey("checkpoints.id"), index=True)
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    attempted_at: Mapped[datetime]
    channel: Mapped[Channel] = enum_column(Channel, "attempt_channel")
    outcome: Mapped[AttemptOutcome] = enum_column(AttemptOutcome, "attempt_outcome")
    call_back_at: Mapped[datetime | None] = mapped_column(default=None)
    note: Mapped[str] = mapped_column(String(500), default="")
