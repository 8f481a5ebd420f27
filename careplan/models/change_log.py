"""Who changed what, when, with old and new values — written in the same transaction —
and who looked at which member's health data. Both are append-only and hash-chained
(careplan/trust/ledger.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, JsonType


class Sealed:
    """An entry's place in its chain and its seal. `chain` is the acting staff member's
    id (0: the system's); `seq` counts within the chain. Each log's unique (chain, seq)
    index also finds a chain's head."""

    chain: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(BigInteger)
    content_hash: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ChangeLog(IdMixin, Sealed, Base):
    __tablename__ = "change_log"
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_change_log_entity", "entity", "entity_id"),
    )

    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    via: Mapped[str] = mapped_column(String(16))  # api, web, cli, system
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(8))  # create, update, delete
    changes: Mapped[dict[str, Any]] = mapped_column(JsonType)  # field -> [old, new]


CHANGE_FIELDS = ("at", "actor_id", "via", "entity", "entity_id", "action", "changes")


class AccessLog(IdMixin, Sealed, Base):
    """One look at a member's health data: a page, an API read, a sheet, an export."""

    __tablename__ = "access_log"
    # "Who looked at this member?" reads by member, newest first.
    __table_args__ = (
        UniqueConstraint("chain", "seq"),
        Index("ix_access_log_member_at", "member_id", "at"),
    )

    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    via: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    what: Mapped[str] = mapped_column(String(24))  # page, api, sheet, export
    target: Mapped[str] = mapped_column(String(255))  # the path asked for
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address


ACCESS_FIELDS = ("at", "actor_id", "via", "member_id", "what", "target", "address")
