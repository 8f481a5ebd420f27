"""Signed-in sessions: a web cookie or an API bearer token. Only a token's hash is kept.

A web session ends when it has not been used for the idle limit (30 minutes by default),
and in any case at its absolute end (12 hours after sign-in), when its owner signs out,
or when an admin ends all of a person's sessions (a lost phone, a leaver).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from careplan.access import Actor, may_end_sessions_of
from careplan.errors import N_, Forbidden
from careplan.models import AuthSession, Staff

# How stale last_seen_at may get before a request writes it again: one write a minute
# per person instead of one per request, at the cost of a minute's slack in the idle limit.
TOUCH_EVERY = timedelta(minutes=1)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, staff: Staff, *, kind: str, hours: int, now: datetime) -> str:
    """A new random token; only its hash is stored, so a database leak reveals none."""
    token = secrets.token_urlsafe(32)
    session.add(
        AuthSession(
            token_hash=_digest(token),
            staff_id=staff.id,
            kind=kind,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            last_seen_at=now,
        )
    )
    session.flush()
    return token


def live_session(
    session: Session, token: str, *, now: datetime, kind: str, idle: timedelta | None = None
) -> AuthSession | None:
    """The session a token opens, if it is still live. A cookie is not a bearer token and
    vice versa: each works only where it was issued."""
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is None or row.kind != kind or row.ended_at is not None or row.expires_at <= now:
        return None
    if idle is not None and (row.last_seen_at or row.created_at) + idle <= now:
        return None
    return row if row.staff.active else None


def staff_for_token(
    session: Session, token: str, *, now: datetime, kind: str = "api"
) -> Staff | None:
    row = live_session(session, token, now=now, kind=kind)
    return row.staff if row is not None else None


def needs_touch(row: AuthSession, now: datetime) -> bool:
    return (row.last_seen_at or row.created_at) + TOUCH_EVERY <= now


def touch(session: Session, session_id: int, now: datetime) -> None:
    session.execute(
        update(AuthSession).where(AuthSession.id == session_id).values(last_seen_at=now)
    )


def end_session(session: Session, token: str, *, now: datetime) -> None:
    row = session.scalar(select(AuthSession).where(AuthSession.token_hash == _digest(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def end_sessions_of(session: Session, actor: Actor, staff: Staff, *, now: datetime) -> int:
    """Every live session of one person, web and API alike (a lost phone, a leaver);
    returns how many ended."""
    if not may_end_sessions_of(actor, staff):
        raise Forbidden(N_("only an admin may end another person's sessions"), field="role")
    return end_all_sessions(session, staff.id, by=actor.staff_id, now=now)


def end_all_sessions(session: Session, staff_id: int, *, by: int | None, now: datetime) -> int:
    """Ends them with no check of its own: for the account changes that imply it (a reset
    password, a closed account), each decided by its own rule."""
    result = session.execute(
        update(AuthSession)
        .where(
            AuthSession.staff_id == staff_id,
            AuthSession.ended_at.is_(None),
            AuthSession.expires_at > now,
        )
        .values(ended_at=now, ended_by_id=by)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
