"""Dated adherence checkpoints, what was recorded at them, and contact attempts."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, JsonType, TimestampMixin, enum_column
from careplan.models.plan import CarePlan
from careplan.models.staff import Staff
from careplan.vocab import (
    Adherence,
    AttemptOutcome,
    Channel,
    CheckpointState,
    RemovalReason,
    StopReason,
)


class Checkpoint(IdMixin, TimestampMixin, Base):
    __tablename__ = "checkpoints"
    __table_args__ = (
        UniqueConstraint("plan_id", "key"),
        # The worklist: my pending steps by date. Status is derived from these dates.
        Index("ix_checkpoints_assignee_state_due", "assignee_id", "state", "due_on"),
        # The audit (careplan/audit/audit.py). Open steps are a small slice of every step ever
        # made, so they get partial indexes; each covers what the audit counts, so the
        # counts are read from the index alone (held_until too: a step whose member agreed
        # to come on a day is not overdue until then). A step that can expire is overdue only
        # in a window of bounded length before its missed_on, which the first one serves;
        # steps that never expire stay overdue until worked, which the second one serves.
        Index(
            "ix_checkpoints_open_expiring",
            "missed_on", "overdue_on", "assignee_id", "due_on", "protocol_id", "key", "held_until",
            sqlite_where=text("state = 'pending' AND missed_on IS NOT NULL"),
            postgresql_where=text("state = 'pending' AND missed_on IS NOT NULL"),
        ),
        Index(
            "ix_checkpoints_open_lasting",
            "overdue_on", "assignee_id", "due_on", "protocol_id", "key", "held_until",
            sqlite_where=text("state = 'pending' AND missed_on IS NULL"),
            postgresql_where=text("state = 'pending' AND missed_on IS NULL"),
        ),
        # One store's or one person's open steps, whatever their dates.
        Index(
            "ix_checkpoints_open_by_staff",
            "assignee_id", "overdue_on", "missed_on", "due_on", "protocol_id", "key", "held_until",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # The lists by status (worklist tabs, the API): open steps whose window holds
        # today, found by the range on overdue_on and filtered on open_on in the index,
        # instead of every step of every member of the store (24 ms → 2 ms on a store
        # of 1,500 members). It covers what the audit counts as well: where a planner
        # prefers it for an audit count, that count is still read from the index alone.
        Index(
            "ix_checkpoints_open_window",
            "overdue_on", "open_on", "due_on", "assignee_id", "missed_on", "protocol_id", "key",
            "held_until",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        # Completion and on-time rates: the steps due in a period, chain-wide.
        Index(
            "ix_checkpoints_due_rates",
            "due_on", "assignee_id", "state", "late", "completed_on", "overdue_on",
        ),
        # An audit "as of" an earlier day counts a step done after that day as open then.
        Index(
            "ix_checkpoints_done_on",
            "completed_on", "assignee_id",
            sqlite_where=text("state = 'done'"),
            postgresql_where=text("state = 'done'"),
        ),
    )  # fmt: skip

    plan_id: Mapped[int] = mapped_column(IdType, ForeignKey("care_plans.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    # The plan's protocol, copied (a plan never changes protocol) so the audit can count
    # by protocol and step from the checkpoint indexes without joining every plan.
    protocol_id: Mapped[str] = mapped_column(String(64))
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
    # The member agreed on a call to come on a day (visit_on): the first day the step is
    # overdue again is that day + the step's grace + 1 (held_until). Until then a step
    # past its own grace reads visit_agreed.
    visit_on: Mapped[date | None] = mapped_column(default=None)
    held_until: Mapped[date | None] = mapped_column(default=None)
    # "Remind me later": the first day the step is back on the worklist's lists.
    snoozed_until: Mapped[date | None] = mapped_column(default=None)
    skip_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    # Optimistic lock: a save must name the version it read (409 otherwise).
    version: Mapped[int] = mapped_column()
    # Already overdue when its member was handed over: whose it was, and the day the
    # present holder got it, so they are not blamed for the days before (worklist, audit).
    inherited_from_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    inherited_on: Mapped[date | None] = mapped_column(default=None)

    plan: Mapped[CarePlan] = relationship(lazy="joined")
    inherited_from: Mapped[Staff | None] = relationship(foreign_keys=[inherited_from_id])

    __mapper_args__ = {"version_id_col": version}


class CheckpointResult(IdMixin, Base):
    __tablename__ = "checkpoint_results"

    checkpoint_id: Mapped[int] = mapped_column(IdType, ForeignKey("checkpoints.id"), unique=True)
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
    contacted_on: Mapped[date]
    channel: Mapped[Channel] = enum_column(Channel, "result_channel")
    checklist: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # None when the step was fulfilled without the adherence question (a lecture).
    adherence: Mapped[Adherence | None] = enum_column(Adherence, "result_adherence")
    stop_reason: Mapped[StopReason | None] = enum_column(
        StopReason, "result_stop_reason", default=None
    )
    notes: Mapped[str] = mapped_column(Text, default="")
    late: Mapped[bool] = mapped_column(default=False)
    fulfilled_by: Mapped[str | None] = mapped_column(String(120), default=None)


class ContactAttempt(IdMixin, Base):
    """How a call ended without a result: the step stays open (agreed to come, remind
    later, unreachable, call back), or the member was removed from follow-up."""

    __tablename__ = "contact_attempts"

    checkpoint_id: Mapped[int] = mapped_column(IdType, ForeignKey("checkpoints.id"), index=True)
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    attempted_at: Mapped[datetime]
    channel: Mapped[Channel] = enum_column(Channel, "attempt_channel")
    outcome: Mapped[AttemptOutcome] = enum_column(AttemptOutcome, "attempt_outcome")
    call_back_at: Mapped[datetime | None] = mapped_column(default=None)
    visit_on: Mapped[date | None] = mapped_column(default=None)  # agreed_to_visit: the day
    remind_on: Mapped[date | None] = mapped_column(default=None)  # remind_later: back on
    removal_reason: Mapped[RemovalReason | None] = enum_column(
        RemovalReason, "attempt_removal_reason", default=None
    )
    note: Mapped[str] = mapped_column(String(500), default="")
