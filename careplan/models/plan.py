"""A member's care plan: one protocol version instantiated from a start date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, TimestampMixin, enum_column
from careplan.models.member import Member
from careplan.models.protocol import ProtocolVersion
from careplan.vocab import PlanStatus, RemovalReason

# The contact plans by outlook (protocols/contact_*.yaml; value/outlook.PROTOCOLS), live.
CONTACT_PROTOCOLS = ("contact_this_month", "contact_two_months", "contact_three_months",
                     "contact_beyond")  # fmt: skip
LIVE_CONTACT_PLAN = (
    "status IN ('active', 'paused') AND protocol_id IN ("
    + ", ".join(f"'{p}'" for p in CONTACT_PROTOCOLS)
    + ")"
)


class CarePlan(IdMixin, TimestampMixin, Base):
    __tablename__ = "care_plans"
    __table_args__ = (
        # One member cannot have two live plans of the same protocol; the database
        # enforces it too, so two clerks enrolling at once cannot both succeed.
        Index(
            "uq_care_plans_one_live_per_protocol",
            "member_id",
            "protocol_id",
            unique=True,
            sqlite_where=text("status IN ('active', 'paused')"),
            postgresql_where=text("status IN ('active', 'paused')"),
        ),
        # One live contact plan per member, whichever outlook set it (careplan/value/
        # outlook.py locks the member first; this holds it whatever a caller does).
        Index(
            "uq_care_plans_one_live_contact_plan",
            "member_id",
            unique=True,
            sqlite_where=text(LIVE_CONTACT_PLAN),
            postgresql_where=text(LIVE_CONTACT_PLAN),
        ),
    )

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    protocol_id: Mapped[str] = mapped_column(String(64))
    protocol_version_id: Mapped[int] = mapped_column(IdType, ForeignKey("protocol_versions.id"))
    start_date: Mapped[date]
    end_date: Mapped[date | None] = mapped_column(default=None)
    status: Mapped[PlanStatus] = enum_column(PlanStatus, "plan_status", default=PlanStatus.active)
    # Days every later step was moved by pauses and re-anchoring (new steps added by a
    # version migration inherit it, so they line up with the plan's actual pace).
    shift_days: Mapped[int] = mapped_column(default=0)
    paused_on: Mapped[date | None] = mapped_column(default=None)
    stopped_on: Mapped[date | None] = mapped_column(default=None)
    stop_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    # Stopped because a call removed the member from follow-up: why, in the vocabulary
    # (stop_reason keeps the words typed with it).
    removed_for: Mapped[RemovalReason | None] = enum_column(
        RemovalReason, "plan_removed_for", default=None
    )
    completed_on: Mapped[date | None] = mapped_column(default=None)
    enrolled_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    enrolled_at: Mapped[datetime]

    # Plain many-to-one loads: a list of steps fetches each member and protocol version
    # once (from the identity map), not once per row as nested joins did.
    member: Mapped[Member] = relationship()
    protocol_version: Mapped[ProtocolVersion] = relationship()
