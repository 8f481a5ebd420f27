"""Who changed what, when, with old and new values — written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, JsonType


class ChangeLog(IdMixin, Base):
    __tablename__ = "change_log"
    __table_args__ = (Index("ix_change_log_entity", "entity", "entity_id"),)

    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    via: Mapped[str] = mapped_column(String(16))  # api, web, cli, system
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(8))  # create, update, delete
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType)  # field -> [old, new]
