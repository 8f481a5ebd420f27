"""Health-check results (健康档案): what was measured, when, where, by whom."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, JsonType, enum_column
from careplan.vocab import HealthCheckSource


class HealthCheck(IdMixin, Base):
    __tablename__ = "health_checks"
    __table_args__ = (Index("ix_health_checks_member_kind_at", "member_id", "kind", "measured_at"),)

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    checkpoint_id: Mapped[int | None] = mapped_column(
        IdType, ForeignKey("checkpoints.id"), default=None, index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    values: Mapped[dict[str, Any]] = mapped_column(JsonType)
    unit: Mapped[str] = mapped_column(String(16))
    loinc: Mapped[str | None] = mapped_column(String(16), default=None)
    measured_at: Mapped[datetime]
    source: Mapped[HealthCheckSource] = enum_column(HealthCheckSource, "health_check_source")
    recorded_by_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"))
    recorded_at: Mapped[datetime]
    note: Mapped[str] = mapped_column(String(500), default="")
