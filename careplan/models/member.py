"""The member archive (会员档案) and who owned each member when."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, JsonType, TimestampMixin, enum_column
from careplan.models.staff import Staff
from careplan.models.store import Store
from careplan.vocab import GradeCause, Outlook, OwnershipReason, Sex

CURRENT = "erased_at IS NULL AND died_on IS NULL"  # the partial indexes' members


class Member(IdMixin, TimestampMixin, Base):
    __tablename__ = "members"
    __table_args__ = (
        Index("ix_members_store_owner", "home_store_id", "owner_id"),
        # Search filters a store's members by relationship grade: store first (every
        # search of a store's staff is scoped to it), then the grade.
        Index("ix_members_store_grade", "home_store_id", "relationship_grade"),
        # The spend pages count a scope's current members (those without a row in the
        # value snapshot bought nothing) from this index alone; the store leads, so one
        # store's count is a range of it and the chain's a walk of all of it.
        Index("ix_members_store_erased", "home_store_id", "erased_at"),
        # The long-inactive list (careplan/value/activity.py): the current members of the
        # chain or of a store by their last sign of life, then when they joined; counted
        # and paged from the index alone, never-seen (NULL) ones read apart.
        Index(
            "ix_members_current_last_seen", "last_seen_on", "created_at", "id",
            sqlite_where=text(CURRENT), postgresql_where=text(CURRENT),
        ),
        Index(
            "ix_members_store_current_last_seen",
            "home_store_id", "last_seen_on", "created_at", "id",
            sqlite_where=text(CURRENT), postgresql_where=text(CURRENT),
        ),
    )  # fmt: skip

    card_number: Mapped[str] = mapped_column(String(32), unique=True)
    home_store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    owner_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"), index=True)
    language: Mapped[str] = mapped_column(String(8), default="zh")

    # 1. Personal
    name: Mapped[str] = mapped_column(String(80), index=True)
    # Pinyin initials of the name (王秀英 -> "wxy"): how staff type a name on a tablet.
    name_initials: Mapped[str] = mapped_column(
        String(80), default="", server_default="", index=True
    )
    sex: Mapped[Sex | None] = enum_column(Sex, "member_sex", default=None)
    birthday: Mapped[date | None] = mapped_column(default=None)
    mobile: Mapped[str | None] = mapped_column(String(20), default=None, index=True)
    landline: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address: Mapped[str | None] = mapped_column(String(255), default=None)
    residential_area: Mapped[str | None] = mapped_column(String(80), default=None)
    # Health data (sensitive): only with consent. Lists of strings, except medicines.
    medical_history: Mapped[list[str]] = mapped_column(JsonType, default=list)
    drug_allergies: Mapped[list[str]] = mapped_column(JsonType, default=list)
    regular_medicines: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    chronic_conditions: Mapped[list[str]] = mapped_column(JsonType, default=list)
    # 2. Consumption (purchases are their own table)
    consumption_feedback: Mapped[str | None] = mapped_column(Text, default=None)
    # 3. Occupation
    employer: Mapped[str | None] = mapped_column(String(120), default=None)
    position: Mapped[str | None] = mapped_column(String(80), default=None)
    health_status: Mapped[str | None] = mapped_column(String(255), default=None)
    # 4. Lifestyle
    habits: Mapped[str | None] = mapped_column(Text, default=None)
    diet: Mapped[str | None] = mapped_column(Text, default=None)
    exercise: Mapped[str | None] = mapped_column(Text, default=None)
    hobbies: Mapped[list[str]] = mapped_column(JsonType, default=list)
    education: Mapped[str | None] = mapped_column(String(40), default=None)
    income_band: Mapped[str | None] = mapped_column(String(40), default=None)
    marital_status: Mapped[str | None] = mapped_column(String(40), default=None)
    special_dates: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)

    # Consent to process health data (PIPL Art. 28-29: separate consent).
    health_consent: Mapped[bool] = mapped_column(default=False)
    health_consent_at: Mapped[datetime | None] = mapped_column(default=None)
    health_consent_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    health_consent_text: Mapped[str | None] = mapped_column(String(16), default=None)  # version
    # A withdrawal stops processing; the data stays stored (and secured) as it was.
    health_consent_withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    health_consent_withdrawn_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    last_verified_on: Mapped[date | None] = mapped_column(default=None)
    # Set when the member's personal data was anonymised (careplan/members/erasure.py).
    erased_at: Mapped[datetime | None] = mapped_column(default=None)
    # A death reported on a call (careplan/plans/outcomes.py): the day, who wrote it, when.
    # Every plan stops, nothing new is enrolled, and no message goes out.
    died_on: Mapped[date | None] = mapped_column(default=None)
    died_recorded_at: Mapped[datetime | None] = mapped_column(default=None)
    died_recorded_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    # The phone was reported a wrong number: ask for it at the next verification; saving
    # a mobile, or confirming the archive, clears it.
    phone_flagged_at: Mapped[datetime | None] = mapped_column(default=None)
    phone_flagged_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    # How soon the member is likely to buy again (预计续购), as staff set it, why, who and
    # when; unset, the page shows the default from the purchase rhythm
    # (careplan/value/outlook.py). Never filtered on by itself: no index.
    outlook: Mapped[Outlook | None] = enum_column(Outlook, "member_outlook", default=None)
    outlook_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    outlook_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)
    outlook_at: Mapped[datetime | None] = mapped_column(default=None)
    # The day of the member's last purchase, step result or contact attempt (None: none
    # yet), kept as each is written (careplan/value/activity.py): how long they have been
    # quiet, read from an index rather than three tables per member.
    last_seen_on: Mapped[date | None] = mapped_column(default=None)

    # Who brought this member (推荐人), another member of the chain. Indexed: the
    # referrer's page counts and lists the members they referred.
    referred_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("members.id"), default=None, index=True
    )
    # The relationship grade 关系等级 (0/20/40/60/80/100, careplan/value/grades.py):
    # the highest of the level the facts give and the level staff set (80/100).
    relationship_grade: Mapped[int] = mapped_column(default=0, server_default="0")
    grade_set: Mapped[int | None] = mapped_column(default=None)  # staff-set 80 or 100
    grade_set_reason: Mapped[str | None] = mapped_column(String(255), default=None)
    grade_set_at: Mapped[datetime | None] = mapped_column(default=None)
    grade_set_by_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("staff.id"), default=None
    )
    # The till's points balance, never computed here: from the newest till line that
    # carried one (careplan/adherence/till_import.py), and that line's day.
    points_balance: Mapped[int | None] = mapped_column(default=None)
    points_as_of: Mapped[date | None] = mapped_column(default=None)

    home_store: Mapped[Store] = relationship()
    owner: Mapped[Staff] = relationship(foreign_keys=[owner_id])


class GradeChange(IdMixin, Base):
    """One change of a member's relationship grade: from, to, why (the fact that arrived,
    or staff setting or clearing a level with a reason) and who."""

    __tablename__ = "grade_changes"
    # The member page lists a member's changes newest first.
    __table_args__ = (Index("ix_grade_changes_member_at", "member_id", "at"),)

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    at: Mapped[datetime]
    from_grade: Mapped[int]
    to_grade: Mapped[int]
    cause: Mapped[GradeCause] = enum_column(GradeCause, "grade_cause")
    reason: Mapped[str] = mapped_column(String(255), default="")
    # The staff member who set the level, or who recorded the fact (None: a system step).
    by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)


class Ownership(IdMixin, Base):
    """One period of one staff member owning one member (each clerk owns theirs 1:1)."""

    __tablename__ = "ownerships"

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[OwnershipReason] = enum_column(OwnershipReason, "ownership_reason")
    note: Mapped[str] = mapped_column(String(255), default="")
    changed_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    # A holiday cover (reason "cover"): its last day, and whom the member goes back to
    # on the day after (careplan.members.archive.end_covers).
    cover_until: Mapped[date | None] = mapped_column(default=None)
    returns_to_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)

    staff: Mapped[Staff] = relationship(foreign_keys=[staff_id])


class Erasure(IdMixin, Base):
    """A record of processing (PIPL Art. 56): whose data was anonymised, when, by whom, why,
    and how much. Kept with the logs; it names no personal value."""

    __tablename__ = "erasures"

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), unique=True)
    at: Mapped[datetime]
    by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))  # None: retention
    reason: Mapped[str] = mapped_column(String(16))  # request | retention
    log_entries: Mapped[int] = mapped_column(default=0)  # change-log entries blanked
