"""The till-import history a store sees: its imports, taken in or refused, with the
report of each refusal (careplan/adherence/till_import.py records them)."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from careplan.access import Actor, require_manager
from careplan.errors import N_, NotFound
from careplan.models import PurchaseImport, Staff


def _visible(actor: Actor) -> Select[PurchaseImport]:
    """A store sees the imports its own people made; head office sees every one."""
    stmt = select(PurchaseImport)
    if not actor.chain_wide:
        ours = select(Staff.id).where(Staff.store_id == actor.store_id)
        stmt = stmt.where(PurchaseImport.imported_by_id.in_(ours))
    return stmt


def recent_imports(session: Session, actor: Actor, *, limit: int = 20) -> list[PurchaseImport]:
    """The newest imports first, refused ones included."""
    require_manager(actor)
    stmt = _visible(actor).order_by(PurchaseImport.imported_at.desc(), PurchaseImport.id.desc())
    return list(session.scalars(stmt.limit(limit)))


def get_import(session: Session, actor: Actor, import_id: int) -> PurchaseImport:
    require_manager(actor)
    found = session.scalar(_visible(actor).where(PurchaseImport.id == import_id))
    if found is None:
        raise NotFound(N_("no such import"), field="import_id")
    return found
