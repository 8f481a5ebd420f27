"""Stores (门店): opened and edited by an admin, every change in the change log."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_manage_stores, scope_stores
from careplan.errors import N_, Conflict, InvalidInput, NotFound
from careplan.models import Staff, Store

CODE = re.compile(r"[A-Za-z0-9_-]{1,32}", re.ASCII)
# What a landline or a mobile is written with: 021-6438 8888, (021) 64388888, +86 138…
PHONE = re.compile(r"[0-9 ()+-]*", re.ASCII)


@dataclass(frozen=True)
class StoreForm:
    """A store as the admin's form gives it (plain text, checked here)."""

    store_code: str
    store_name: str
    region: str
    store_address: str = ""
    store_phone: str = ""


def _text(value: str, field: str, longest: int, *, required: bool) -> str:
    value = value.strip()
    if required and not value:
        raise InvalidInput(N_("required"), field=field)
    if len(value) > longest:
        raise InvalidInput(N_("at most %(n)s characters"), field=field, n=longest)
    return value


def _checked(session: Session, data: StoreForm, store_id: int | None) -> dict[str, str]:
    code = data.store_code.strip()
    if not CODE.fullmatch(code):
        raise InvalidInput(N_("1 to 32 letters, digits, dashes or underscores"), field="store_code")
    taken = session.scalar(
        select(Store.id).where(func.lower(Store.code) == code.lower(), Store.id != (store_id or 0))
    )
    if taken is not None:
        raise Conflict(N_("another store has the code %(code)s"), field="store_code", code=code)
    phone = _text(data.store_phone, "store_phone", 32, required=False)
    if not PHONE.fullmatch(phone):
        raise InvalidInput(N_("digits, spaces, dashes and brackets only"), field="store_phone")
    return {
        "code": code,
        "name": _text(data.store_name, "store_name", 120, required=True),
        "region": _text(data.region, "region", 64, required=True),
        "address": _text(data.store_address, "store_address", 255, required=False),
        "phone": phone,
    }


def create_store(session: Session, actor: Actor, data: StoreForm) -> Store:
    require_manage_stores(actor)
    store = Store(**_checked(session, data, None))
    session.add(store)
    session.flush()
    return store


def update_store(session: Session, actor: Actor, store_id: int, data: StoreForm) -> Store:
    """A new name, code, region, address or phone. A changed code takes effect at once:
    till files must then name the new code."""
    require_manage_stores(actor)
    store = get_store(session, store_id)
    for key, value in _checked(session, data, store.id).items():
        setattr(store, key, value)
    session.flush()
    return store


def get_store(session: Session, store_id: int) -> Store:
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound(N_("store not found"), field="store_id")
    return store


def visible_stores(session: Session, actor: Actor) -> list[Store]:
    """The stores this person may see, by code (access.scope_stores decides which)."""
    return list(session.scalars(scope_stores(select(Store), actor).order_by(Store.code)))


def store_names(session: Session, actor: Actor) -> dict[int, str]:
    return {s.id: s.name for s in visible_stores(session, actor)}


def list_stores(session: Session) -> list[Store]:
    return list(session.scalars(select(Store).order_by(Store.region, Store.code)))


def regions(session: Session) -> list[str]:
    """The regions stores already name, offered when opening the next one."""
    return list(session.scalars(select(Store.region).distinct().order_by(Store.region)))


def active_staff_counts(session: Session) -> dict[int, int]:
    stmt = (
        select(Staff.store_id, func.count(Staff.id))
        .where(Staff.active, Staff.store_id.is_not(None))
        .group_by(Staff.store_id)
    )
    return {store_id: n for store_id, n in session.execute(stmt) if store_id is not None}
