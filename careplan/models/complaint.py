"""Complaints (顾客投诉): handled on the spot, recorded, followed up, closed."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, enum_column
from careplan.vocab import (
    ComplaintCause,
    ComplaintChannel,
    ComplaintSeverity,
    ComplaintState,
    Satisfaction,
)


class Complaint(IdMixin, Base):
    """One complaint, from a member or a walk-in: what, where, how serious, how it came
    in, what was done on the spot, the follow-up visit (a step for the member's owner)
    and how it closed. Every change is also in the change log (entity "complaint")."""

    __tablename__ = "complaints"
    __table_args__ = (
        # The store's list and its figures by month; a staff member's in the audit.
        Index("ix_complaints_store_received", "store_id", "received_on"),
        Index("ix_complaints_about_staff", "about_staff_id", "received_on"),
        CheckConstraint(
            "member_id IS NOT NULL OR walk_in_name IS NOT NULL", name="member_or_walk_in"
        ),
    )

    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    member_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.id"), default=None, index=True
    )
    walk_in_name: Mapped[str | None] = mapped_column(String(80), default=None)
    walk_in_phone: Mapped[str | None] = mapped_column(String(20), default=None)
    received_on: Mapped[date]
    what: Mapped[str] = mapped_column(Text)
    place: Mapped[str] = mapped_column(String(80), default="")  # where it happened
    cause: Mapped[ComplaintCause] = enum_column(ComplaintCause, "complaint_cause")
    severity: Mapped[ComplaintSeverity] = enum_column(ComplaintSeverity, "complaint_severity")
    channel: Mapped[ComplaintChannel] = enum_column(ComplaintChannel, "complaint_channel")
    # The member of staff it is about, if any (a service complaint).
    about_staff_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    on_the_spot: Mapped[str] = mapped_column(Text, default="")  # what was done there and then
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
    # The follow-up visit: a plan step for the member's owner (careplan/complaints).
    follow_up_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("checkpoints.id"), default=None
    )
    # A service complaint may hand the member to another clerk: from whom, to whom.
    handed_from_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    handed_to_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    state: Mapped[ComplaintState] = enum_column(
        ComplaintState, "complaint_state", default=ComplaintState.open
    )
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    satisfaction: Mapped[Satisfaction | None] = enum_column(
        Satisfaction, "complaint_satisfaction", default=None
    )
    closing_note: Mapped[str] = mapped_column(Text, default="")
