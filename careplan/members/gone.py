"""A member gone (died, erased) gets no more messages: what still waits in the outbox is
cancelled at once, so the store's list says so, and an erased member's messages keep no
text of theirs. The sender checks again as a message leaves (outreach.outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from careplan.models import Message
from careplan.vocab import MessageChannel, MessageState


def cancel_messages(
    session: Session,
    member_ids: list[int],
    why: str,
    *,
    now: datetime,
    channel: MessageChannel | None = None,
) -> int:
    """Cancel the members' messages still queued (one being sent is the sender's: it
    checks the reason itself as it leaves). How many."""
    stmt = update(Message).where(
        Message.member_id.in_(member_ids), Message.state == MessageState.queued
    )
    if channel is not None:
        stmt = stmt.where(Message.channel == channel)
    done = session.execute(
        stmt.values(
            state=MessageState.cancelled, cancelled_at=now, cancel_reason=why
        ).execution_options(synchronize_session=False)
    )
    return int(done.rowcount)  # type: ignore[attr-defined]


def blank_messages(session: Session, member_id: int) -> None:
    """An erased member's messages: the rows stay (counts, states), their words go."""
    session.execute(
        update(Message)
        .where(Message.member_id == member_id)
        .values(text="", variables={})
        .execution_options(synchronize_session=False)
    )
