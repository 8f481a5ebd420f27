"""Escalations raised by a 'stopped taking' answer, routed to a role in the store."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, enum_column
from careplan.vocab import EscalationStatus, Role, StopReason


class Escalation(IdMixin, Base):
    __tablename__ = "escalations"
    __table_args__ = (
        Index("ix_escalations_store_status", "store_id", "status", "due_on"),
        # The audit's open escalations by age, chain-wide or per store.
        Index(
            "ix_escalations_open",
            "store_id", "raised_at",
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        # At most one open escalation per member and reason: a second "stopped" answer
        # adds to the open one (careplan/plans/escalations.py), and two answers saved at the
        # same moment cannot both open one.
        Index(
            "uq_escalations_open_member_reason",
            "member_id", "reason",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
    )  # fmt: skip

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    plan_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("care_plans.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("checkpoints.id"), index=True
    )
    reason: Mapped[StopReason] = enum_column(StopReason, "escalation_reason")
    role: Mapped[Role] = enum_column(Role, "escalation_role")
    assignee_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    action_zh: Mapped[str] = mapped_column(Text)
    action_en: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date]
    status: Mapped[EscalationStatus] = enum_column(
        EscalationStatus, "escalation_status", default=EscalationStatus.open
    )
    raised_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    raised_at: Mapped[datetime]
    resolved_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution: Mapped[str] = mapped_column(String(1000), default="")
    # How many "stopped" answers this escalation gathers, and the latest of them (each
    # answer is also a checkpoint result, and each addition is in the change log).
    reports: Mapped[int] = mapped_column(default=1, server_default="1")
    last_reported_at: Mapped[datetime | None] = mapped_column(default=None)
    last_checkpoint_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("checkpoints.id"), default=None
    )
