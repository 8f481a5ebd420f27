"""Staff accounts and their sign-in sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from careplan.models.base import Base, IdMixin, IdType, TimestampMixin, enum_column
from careplan.models.store import Store
from careplan.vocab import Role


class Staff(IdMixin, TimestampMixin, Base):
    __tablename__ = "staff"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    phone: Mapped[str] = mapped_column(String(32), default="")
    role: Mapped[Role] = enum_column(Role, "staff_role")
    store_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("stores.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    left_on: Mapped[datetime | None] = mapped_column(default=None)
    language: Mapped[str] = mapped_column(String(8), default="zh")
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    # Set by an admin's reset (a one-time password): the account does nothing else until
    # its owner has chosen a password of their own.
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())

    store: Mapped[Store | None] = relationship()


class AuthSession(IdMixin, Base):
    """A signed-in session (web cookie or API bearer token); only the token's hash is kept."""

    __tablename__ = "auth_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(IdType, ForeignKey("staff.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8), default="api")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    # Web sessions end after a while unused; updated at most once a minute, not per request.
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    # Who ended it when it was not its owner signing out (an admin, say).
    ended_by_id: Mapped[int | None] = mapped_column(IdType, ForeignKey("staff.id"), default=None)

    staff: Mapped[Staff] = relationship(lazy="joined", foreign_keys=[staff_id])


class SignInLimit(Base):
    """Wrong passwords counted against one name or one network address (careplan/sign_in.py).

    Names are counted whether or not an account has them, so a locked account and an
    unknown name answer alike; an address is counted across every name, so guessing
    spread over many accounts is stopped as well as guessing at one."""

    __tablename__ = "sign_in_limits"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # "name:…" or "address:…"
    failures: Mapped[int] = mapped_column(default=0)
    counting_since: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
