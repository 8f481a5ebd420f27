"""Staff accounts. Passwords and sign-in with its lockouts are in careplan/sign_in.py,
the sessions a sign-in opens in careplan/sessions.py."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan import sign_in
from careplan.change_log import log_action
from careplan.errors import N_, Conflict, InvalidInput, NotFound
from careplan.models import Staff, Store
from careplan.sign_in import hash_password
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
    elif data.role not in (Role.supervisor, Role.admin):
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
