"""Staff accounts, passwords (argon2), and sign-in with its lockouts (per account and per
network address). The sessions a sign-in opens are in careplan/sessions.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from pwdlib import PasswordHash
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.errors import Conflict, InvalidInput, NotFound
from careplan.models import SignInAddress, Staff, Store
from careplan.vocab import Role

MIN_PASSWORD = 12
_hasher = PasswordHash.recommended()


@cache
def _dummy_hash() -> str:
    """Verified against when the user is unknown, so both paths take equally long."""
    return _hasher.hash("careplan-dummy-password")


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-zA-Z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=80)
    role: Role
    store_code: str | None = None
    phone: str = Field(default="", max_length=32)
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_staff(session: Session, data: StaffIn) -> Staff:
    if session.scalar(select(Staff.id).where(Staff.username == data.username)):
        raise Conflict(f"username {data.username!r} is taken", field="username")
    store_id = None
    if data.store_code is not None:
        store_id = session.scalar(select(Store.id).where(Store.code == data.store_code))
        if store_id is None:
            raise InvalidInput(f"no store with code {data.store_code!r}", field="store_code")
    elif data.role not in (Role.supervisor, Role.admin):
        raise InvalidInput("store staff need a home store", field="store_code")
    staff = Staff(
        username=data.username,
        name=data.name,
        role=data.role,
        store_id=store_id,
        phone=data.phone,
        language=data.language,
        password_hash=hash_password(data.password),
    )
    session.add(staff)
    session.flush()
    return staff


MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
# One address (a store's till PC, a shared network) may mistype more than one person, but
# not 20 times in 15 minutes; an attacker spraying one password over many names does.
MAX_ADDRESS_FAILURES = 20


@dataclass(frozen=True)
class SignIn:
    """The outcome of a sign-in attempt; the caller commits it either way, so that
    failures count even though the attempt is refused."""

    staff: Staff | None
    locked_until: datetime | None = None
    by_address: bool = False  # locked for the network address, not the account


def authenticate(
    session: Session, username: str, password: str, *, now: datetime, address: str = ""
) -> SignIn:
    """Check a password; after MAX_FAILURES wrong ones in a row the account is locked for
    LOCKOUT, even to the right password, so guessing cannot go on at speed. Every path
    verifies exactly one argon2 hash, so an unknown name, a locked account and a wrong
    password take the same time and timing tells nothing about which names exist."""
    staff = session.scalar(select(Staff).where(Staff.username == username.strip()))
    spot = _address(session, address, now)
    if spot is not None and spot.locked_until is not None and spot.locked_until > now:
        _hasher.verify(password, _dummy_hash())
        return SignIn(None, locked_until=spot.locked_until, by_address=True)
    if staff is None or not staff.active:
        _hasher.verify(password, _dummy_hash())
        return _failed(session, None, spot, now)
    if staff.locked_until is not None and staff.locked_until > now:
        _hasher.verify(password, _dummy_hash())
        return SignIn(None, locked_until=staff.locked_until)
    if _hasher.verify(password, staff.password_hash):
        staff.failed_sign_ins, staff.locked_until = 0, None
        session.flush()
        return SignIn(staff)
    staff.failed_sign_ins += 1
    if staff.failed_sign_ins >= MAX_FAILURES:
        staff.failed_sign_ins, staff.locked_until = 0, now + LOCKOUT
    return _failed(session, staff, spot, now)


def _address(session: Session, address: str, now: datetime) -> SignInAddress | None:
    if not address:
        return None
    spot = session.get(SignInAddress, address[:64])
    if spot is None:
        spot = SignInAddress(address=address[:64], failures=0, counting_since=now)
        session.add(spot)
    elif spot.counting_since + LOCKOUT <= now:
        # Failures count within a window, so a busy store's slips do not add up all day.
        spot.failures, spot.counting_since = 0, now
    return spot


def _failed(
    session: Session, staff: Staff | None, spot: SignInAddress | None, now: datetime
) -> SignIn:
    outcome = SignIn(None, locked_until=staff.locked_until if staff is not None else None)
    if spot is not None:
        spot.failures += 1
        if spot.failures >= MAX_ADDRESS_FAILURES:
            spot.failures, spot.locked_until = 0, now + LOCKOUT
            outcome = SignIn(None, locked_until=spot.locked_until, by_address=True)
    session.flush()
    return outcome


def unlock(session: Session, staff_id: int) -> Staff:
    staff = get_staff(session, staff_id)
    staff.failed_sign_ins, staff.locked_until = 0, None
    session.flush()
    return staff


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(f"staff {staff_id} not found", field="staff_id")
    return staff


def by_username(session: Session, username: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None:
        raise NotFound(f"no staff member with username {username!r}", field="username")
    return staff


def set_language(session: Session, staff_id: int, language: str) -> Staff:
    if language not in ("zh", "en"):
        raise InvalidInput("choose zh or en", field="language")
    staff = get_staff(session, staff_id)
    staff.language = language
    session.flush()
    return staff


def store_staff(session: Session, store_id: int, *, active_only: bool = True) -> list[Staff]:
    stmt = select(Staff).where(Staff.store_id == store_id)
    if active_only:
        stmt = stmt.where(Staff.active)
    return list(session.scalars(stmt.order_by(Staff.role, Staff.name, Staff.id)))


def names_of(session: Session, staff_ids: Iterable[int | None]) -> dict[int, str]:
    """Staff names for a page's list, in one query."""
    ids = {i for i in staff_ids if i is not None}
    if not ids:
        return {}
    return {i: n for i, n in session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))}
