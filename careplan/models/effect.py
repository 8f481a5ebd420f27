"""Effect records (疗效/服用效果): before and after, in the member's own words."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType


class EffectRecord(IdMixin, Base):
    __tablename__ = "effect_records"

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("care_plans.id"), default=None)
    checkpoint_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("checkpoints.id"), default=None
    )
    before: Mapped[str] = mapped_column(Text, default="")
    after: Mapped[str] = mapped_column(Text, default="")
    rating: Mapped[int | None] = mapped_column(default=None)  # 1 (worse) .. 5 (much better)
    side_effects: Mapped[str] = mapped_column(Text, default="")
    member_words: Mapped[str] = mapped_column(Text, default="")
    # A testimonial needs a signed agreement (宣传协议).
    testimonial_consent: Mapped[bool] = mapped_column(default=False)
    testimonial_consent_on: Mapped[date | None] = mapped_column(default=None)
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(500), default="")
