"""Staff accounts. Passwords and sign-in with its lockouts are in careplan/sign_in.py,
the sessions a sign-in opens in careplan/sessions.py.

An admin opens an account with a one-time password, shown once; so is a reset password.
Either must be replaced by the account's owner before they can do anything else, so
nobody but the owner ever knows the password an account works with."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan import sign_in
from careplan.access import Actor, may_grant_role, may_see_staff, require_manage_staff
from careplan.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from careplan.models import Member, Staff, Store
from careplan.sessions import end_all_sessions
from careplan.sign_in import hash_password, verify
from careplan.trust.change_log import log_action
from careplan.vocab import Role

MIN_PASSWORD = 12


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    username: str = Field(min_length=2, max_length=64, pattern=r"^[a-zA-Z0-9_.-]+$")
    name: str = Field(min_length=1, max_length=80)
    role: Role
    store_code: str | None = None
    phone: str = Field(default="", max_length=32)
    language: str = Field(default="zh", pattern=r"^(zh|en)$")
    password: str = Field(min_length=MIN_PASSWORD, max_length=256)


def create_staff(session: Session, data: StaffIn) -> Staff:
    if session.scalar(select(Staff.id).where(Staff.username == data.username)):
        raise Conflict(N_("username %(username)s is taken"), field="username",
                       username=data.username)  # fmt: skip
    store_id = None
    if data.store_code is not None:
        store_id = session.scalar(select(Store.id).where(Store.code == data.store_code))
        if store_id is None:
            raise InvalidInput(N_("no store with code %(code)s"), field="store_code",
                               code=data.store_code)  # fmt: skip
    elif data.role in STORE_ROLES:
        raise InvalidInput(N_("store staff need a home store"), field="store_code")
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


def unlock(session: Session, staff_id: int) -> Staff:
    """Lift a sign-in lock before it ends by itself; an account change, so logged."""
    staff = get_staff(session, staff_id)
    sign_in.unlock(session, staff.username)
    log_action(session, "staff", staff.id, "unlock", {})
    return staff


def get_staff(session: Session, staff_id: int) -> Staff:
    staff = session.get(Staff, staff_id)
    if staff is None:
        raise NotFound(N_("staff %(id)s not found"), field="staff_id", id=staff_id)
    return staff


def by_username(session: Session, username: str) -> Staff:
    staff = session.scalar(select(Staff).where(Staff.username == username))
    if staff is None:
        raise NotFound(N_("no staff member with username '%(username)s'"), field="username",
                       username=username)  # fmt: skip
    return staff


def set_language(session: Session, staff_id: int, language: str) -> Staff:
    if language not in ("zh", "en"):
        raise InvalidInput(N_("choose zh or en"), field="language")
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


# --- Accounts run from the admin console ----------------------------------------------

USERNAME = re.compile(r"[a-zA-Z0-9_.-]{2,64}", re.ASCII)
# No 0/o, 1/l/i: a one-time password is read out or copied by hand.
ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
MAX_PASSWORD = 256
STORE_ROLES = frozenset({Role.clerk, Role.pharmacist, Role.store_manager})


@dataclass(frozen=True)
class Account:
    """What the admin's form says about an account (a new one: with its username)."""

    name: str
    role: str
    store_id: int | None
    username: str = ""


def one_time_password() -> str:
    """Four groups of four (about 79 bits): easy to read out, never guessed."""
    return "-".join("".join(secrets.choice(ONE_TIME_ALPHABET) for _ in range(4)) for _ in range(4))


def needs_new_password(staff: Staff) -> bool:
    """An account on a one-time password may do one thing: choose its own."""
    return staff.must_change_password


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(N_("choose a value from the list"), field="role") from None


def _home_store(session: Session, role: Role, store_id: int | None) -> int | None:
    if store_id is not None and session.get(Store, store_id) is None:
        raise InvalidInput(N_("choose a store"), field="store_id")
    if store_id is None and role in STORE_ROLES:
        raise InvalidInput(N_("store staff need a home store"), field="store_id")
    return store_id


def _checked(session: Session, actor: Actor, data: Account) -> tuple[str, Role, int | None]:
    name = data.name.strip()
    if not name:
        raise InvalidInput(N_("required"), field="name")
    if len(name) > 80:
        raise InvalidInput(N_("at most %(n)s characters"), field="name", n=80)
    role = _role(data.role)
    store_id = _home_store(session, role, data.store_id)
    if not may_grant_role(actor, role, store_id):
        raise Forbidden(N_("you may not give this role at this store"), field="role")
    return name, role, store_id


def owned_members(session: Session, staff_id: int) -> int:
    return int(
        session.scalar(select(func.count(Member.id)).where(Member.owner_id == staff_id)) or 0
    )


def _members_stay(session: Session, staff: Staff, field: str) -> None:
    """Members belong to store staff of their own store: someone who still owns members
    neither moves store, nor takes a head-office role, nor leaves, until they are handed
    over (the store's staff page), or the members would be left with nobody to call them."""
    n = owned_members(session, staff.id)
    if n:
        raise Conflict(N_("hand over this person's %(n)s members first"), field=field, n=n)


def create_account(session: Session, actor: Actor, data: Account) -> tuple[Staff, str]:
    """A new account and its one-time password (shown once: only its hash is kept)."""
    username = data.username.strip()
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            N_("2 to 64 letters, digits, dots, dashes or underscores"), field="username"
        )
    name, role, store_id = _checked(session, actor, data)
    if session.scalar(select(Staff.id).where(func.lower(Staff.username) == username.lower())):
        raise Conflict(N_("username %(username)s is taken"), field="username",
                       username=username)  # fmt: skip
    password = one_time_password()
    staff = Staff(username=username, name=name, role=role, store_id=store_id,
                  password_hash=hash_password(password), must_change_password=True)  # fmt: skip
    session.add(staff)
    session.flush()
    return staff, password


def change_account(session: Session, actor: Actor, staff_id: int, data: Account) -> Staff:
    """A new name, role or home store, each within what the actor may grant."""
    staff = get_staff(session, staff_id)
    require_manage_staff(actor, staff)
    name, role, store_id = _checked(session, actor, data)
    if role not in STORE_ROLES:
        _members_stay(session, staff, "role")
    elif store_id != staff.store_id:
        _members_stay(session, staff, "store_id")
    staff.name, staff.role, staff.store_id = name, role, store_id
    session.flush()
    return staff


def reset_password(session: Session, actor: Actor, staff_id: int, *, now: datetime) -> str:
    """A one-time password in place of the old one; every session of the account ends
    (a reset often follows a leak), and the next sign-in must choose a new password."""
    staff = get_staff(session, staff_id)
    require_manage_staff(actor, staff)
    if not staff.active:
        raise Conflict(N_("this account is closed"), field="staff_id")
    password = one_time_password()
    staff.password_hash = hash_password(password)
    staff.must_change_password = True
    session.flush()
    end_all_sessions(session, staff.id, by=actor.staff_id, now=now)
    return password


def unlock_account(session: Session, actor: Actor, staff_id: int) -> Staff:
    staff = get_staff(session, staff_id)
    require_manage_staff(actor, staff)
    return unlock(session, staff.id)


def close_account(session: Session, actor: Actor, staff_id: int, *, now: datetime) -> Staff:
    """The person has left (离职): they can no longer sign in; their history stays."""
    staff = get_staff(session, staff_id)
    require_manage_staff(actor, staff)
    if not staff.active:
        raise Conflict(N_("this account is closed"), field="staff_id")
    _members_stay(session, staff, "staff_id")
    staff.active, staff.left_on = False, now
    session.flush()
    end_all_sessions(session, staff.id, by=actor.staff_id, now=now)
    return staff


def choose_password(session: Session, staff_id: int, password: str, repeat: str) -> Staff:
    """The owner's own password in place of a one-time one (or their old one)."""
    staff = get_staff(session, staff_id)
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(N_("at least %(n)s characters"), field="new_password", n=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        raise InvalidInput(N_("at most %(n)s characters"), field="new_password", n=MAX_PASSWORD)
    if password != repeat:
        raise InvalidInput(N_("the two passwords differ"), field="repeat_password")
    if verify(password, staff.password_hash):
        raise InvalidInput(N_("choose a password different from the old one"),
                           field="new_password")  # fmt: skip
    staff.password_hash = hash_password(password)
    staff.must_change_password = False
    session.flush()
    return staff


def list_accounts(
    session: Session, actor: Actor, *, store_id: int | None = None, limit: int = 500
) -> list[Staff]:
    """Accounts the actor may see, active ones first, by store and name."""
    stmt = select(Staff)
    if store_id is not None:
        stmt = stmt.where(Staff.store_id == store_id)
    stmt = stmt.order_by(Staff.active.desc(), Staff.store_id, Staff.role, Staff.name, Staff.id)
    return [s for s in session.scalars(stmt.limit(limit)) if may_see_staff(actor, s)]
