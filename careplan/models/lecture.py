"""Health lectures (健康讲座): the lecture, who was invited, and who registered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, JsonType, TimestampMixin, enum_column
from careplan.models.member import Member
from careplan.models.store import Store
from careplan.vocab import Channel, LectureStatus, SeatStatus


class Lecture(IdMixin, TimestampMixin, Base):
    __tablename__ = "lectures"
    __table_args__ = (Index("ix_lectures_store_starts", "store_id", "starts_at"),)

    title_zh: Mapped[str] = mapped_column(String(160))
    title_en: Mapped[str] = mapped_column(String(160))
    # A protocol step may name a topic: attending a lecture on it fulfils that step.
    topic: Mapped[str] = mapped_column(String(64), index=True)
    conditions: Mapped[list[str]] = mapped_column(JsonType, default=list)
    protocols: Mapped[list[str]] = mapped_column(JsonType, default=list)
    speaker: Mapped[str] = mapped_column(String(120), default="")
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    venue: Mapped[str] = mapped_column(String(255), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int]
    register_by: Mapped[datetime]
    status: Mapped[LectureStatus] = enum_column(
        LectureStatus, "lecture_status", default=LectureStatus.scheduled
    )
    created_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # Bumped by every change to who holds a seat. Taking a seat starts by bumping it:
    # on PostgreSQL that locks the row, on SQLite it takes the write lock, so two
    # registrations never count the same free seat (see lectures.register).
    roster_version: Mapped[int] = mapped_column(default=0)

    store: Mapped[Store] = relationship()

    def title_in(self, language: str) -> str:
        """The title in a language; English is optional, so Chinese stands in for it."""
        return self.title_en if language == "en" and self.title_en else self.title_zh


class LectureInvitation(IdMixin, Base):
    __tablename__ = "lecture_invitations"
    __table_args__ = (UniqueConstraint("lecture_id", "member_id"),)

    lecture_id: Mapped[int] = mapped_column(IdType, ForeignKey("lectures.id"))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    channel: Mapped[Channel] = enum_column(Channel, "invitation_channel")
    invited_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    invited_at: Mapped[datetime]


class LectureSeat(IdMixin, Base):
    """One member's place at one lecture: registered, waitlisted, cancelled or released
    (the lecture was cancelled). Each change is kept in the change log."""

    __tablename__ = "lecture_seats"
    __table_args__ = (
        UniqueConstraint("lecture_id", "member_id"),
        Index("ix_lecture_seats_lecture_status", "lecture_id", "status", "queued_at"),
    )

    lecture_id: Mapped[int] = mapped_column(IdType, ForeignKey("lectures.id"))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    status: Mapped[SeatStatus] = enum_column(SeatStatus, "seat_status")
    walk_in: Mapped[bool] = mapped_column(default=False)
    registered_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    queued_at: Mapped[datetime]  # when asked for: the waitlist's order
    promoted_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    reminded_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    checked_in_at: Mapped[datetime | None] = mapped_column(default=None)
    checked_in_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    # A released member must be told the lecture is off: when, and by whom.
    told_at: Mapped[datetime | None] = mapped_column(default=None)
    told_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))

    member: Mapped[Member] = relationship()
    lecture: Mapped[Lecture] = relationship()
