"""Messages to members: consent to be contacted per channel, and the outbox."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from careplan.models.base import Base, IdMixin, IdType, JsonType, enum_column
from careplan.vocab import MessageChannel, MessageReason, MessageState

# The states a message is still on its way in: the sender's and the sweep's index.
WAITING = text("state IN ('queued', 'sending')")


class MessageConsent(IdMixin, Base):
    """A member's consent to be contacted on one channel: separate from the consent to
    keep health data, given to a member of staff (who, when) and withdrawn at any time,
    by staff or by the member's own reply (退订)."""

    __tablename__ = "message_consents"
    __table_args__ = (UniqueConstraint("member_id", "channel"),)

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    channel: Mapped[MessageChannel] = enum_column(MessageChannel, "consent_channel")
    # Where the channel reaches the member: WeChat's openid; SMS uses the archive's mobile.
    address: Mapped[str | None] = mapped_column(String(128), default=None)
    granted_at: Mapped[datetime]
    granted_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(default=None)
    withdrawn_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    withdrawn_via: Mapped[str | None] = mapped_column(String(16), default=None)  # staff | reply


class Message(IdMixin, Base):
    """One message, written in the transaction of its reason. (member, day, reason,
    ref) is its idempotency key: building the day again adds nothing."""

    __tablename__ = "messages"
    __table_args__ = (
        # The idempotency key, led by what the weekly cap counts (a member's days).
        UniqueConstraint("member_id", "for_day", "reason", "ref"),
        Index(
            "ix_messages_waiting",
            "state",
            "not_before",
            sqlite_where=WAITING,
            postgresql_where=WAITING,
        ),
        Index("ix_messages_store_day", "store_id", "for_day"),
    )

    member_id: Mapped[int] = mapped_column(IdType, ForeignKey("members.id"))
    store_id: Mapped[int] = mapped_column(IdType, ForeignKey("stores.id"))
    channel: Mapped[MessageChannel] = enum_column(MessageChannel, "message_channel")
    reason: Mapped[MessageReason] = enum_column(MessageReason, "message_reason")
    ref: Mapped[str] = mapped_column(String(64), default="")  # the step, lecture, festival…
    for_day: Mapped[date]  # the day it is built for and leaves on (the weekly cap counts these)
    template: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    variables: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    text: Mapped[str] = mapped_column(Text)  # as the member reads it
    state: Mapped[MessageState] = enum_column(MessageState, "message_state")
    not_before: Mapped[datetime]  # the sending window's start, or a retry's time
    provider: Mapped[str | None] = mapped_column(String(16), default=None)
    provider_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), default=None)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"))
    sending_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(default=None)
    cancel_reason: Mapped[str | None] = mapped_column(String(32), default=None)
