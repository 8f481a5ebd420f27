"""Attributable changes: every insert/update/delete of care data is logged in the same
transaction, with the actor, the time and each field's old and new value.

It hangs off the Session's flush, so no service can forget it, and a change made without
an actor in `session.info["actor"]` is refused rather than left anonymous.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session, UOWTransaction

from careplan.access import Actor
from careplan.errors import N_, Forbidden
from careplan.models import (
    CarePlan,
    ChangeLog,
    Checkpoint,
    CheckpointResult,
    Complaint,
    ContactAttempt,
    EffectRecord,
    Escalation,
    HealthCheck,
    Lecture,
    LectureInvitation,
    LectureSeat,
    Member,
    MessageConsent,
    Ownership,
    ProductClass,
    Purchase,
    PurchaseImport,
    SheetPrint,
    Staff,
    Store,
)
from careplan.models.base import utcnow
from careplan.models.change_log import CHANGE_FIELDS
from careplan.trust.ledger import seal

AUDITED: dict[type, str] = {
    Member: "member",
    MessageConsent: "message_consent",
    Ownership: "ownership",
    CarePlan: "plan",
    Checkpoint: "checkpoint",
    CheckpointResult: "checkpoint_result",
    ContactAttempt: "contact_attempt",
    HealthCheck: "health_check",
    EffectRecord: "effect_record",
    Purchase: "purchase",
    PurchaseImport: "purchase_import",
    ProductClass: "product_class",
    Escalation: "escalation",
    Complaint: "complaint",
    Lecture: "lecture",
    LectureInvitation: "lecture_invitation",
    LectureSeat: "lecture_seat",
    SheetPrint: "sheet_print",
    Staff: "staff",  # every account change: created, role, store, left, password reset
    Store: "store",  # opened, renamed, moved: the admin console's changes
}
# Bookkeeping columns whose change says nothing about care.
IGNORED = frozenset({"created_at", "updated_at", "version"})
# Columns whose change is logged but never their value: a hash kept in the log would
# outlive the password's reset.
REDACTED = frozenset({"password_hash"})
SECRET = "(changed)"


class UnattributedChange(RuntimeError):
    """Health data changed with nobody named as responsible: a programming error."""


def plain_value(value: Any) -> Any:
    """A JSON-safe copy of a column value."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    return value


def _diff(obj: Any, action: str) -> dict[str, list[Any]]:
    changes = _plain_diff(obj, action)
    for key in REDACTED.intersection(changes):
        changes[key] = [None, SECRET]
    return changes


def _plain_diff(obj: Any, action: str) -> dict[str, list[Any]]:
    state = inspect(obj)
    changes: dict[str, list[Any]] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in IGNORED:
            continue
        hist = state.attrs[attr.key].history
        if action == "create":
            changes[attr.key] = [None, plain_value(getattr(obj, attr.key))]
        elif action == "delete":
            old = hist.unchanged or hist.deleted
            changes[attr.key] = [plain_value(old[0]) if old else None, None]
        elif hist.has_changes():
            old = hist.deleted[0] if hist.deleted else None
            new = hist.added[0] if hist.added else None
            if plain_value(old) != plain_value(new):
                changes[attr.key] = [plain_value(old), plain_value(new)]
    return changes


def _actor(session: Session) -> Actor:
    actor = session.info.get("actor")
    if not isinstance(actor, Actor):
        raise UnattributedChange("care data changed without an actor in session.info['actor']")
    return actor


def _rows(session: Session) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for action, objs in (
        ("create", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objs:
            entity = AUDITED.get(type(obj))
            if entity is None:
                continue
            changes = _diff(obj, action)
            if action == "update" and not changes:
                continue
            actor = _actor(session)
            rows.append(
                {
                    "at": utcnow(),
                    "actor_id": actor.staff_id,
                    "via": actor.via,
                    "entity": entity,
                    "entity_id": obj.id,
                    "action": action,
                    "changes": changes,
                }
            )
    return rows


@event.listens_for(Session, "after_flush")
def _log_changes(session: Session, _flush: UOWTransaction) -> None:
    # after_flush still sees new/dirty/deleted and attribute history, and new rows have ids.
    _write(session, _rows(session))


def log_action(
    session: Session, entity: str, entity_id: int, action: str, changes: dict[str, Any]
) -> None:
    """An entry for a change made by a bulk statement, which the flush does not see
    (an erasure must not log the values it blanks)."""
    actor = _actor(session)
    row = {"at": utcnow(), "actor_id": actor.staff_id, "via": actor.via, "entity": entity,
           "entity_id": entity_id, "action": action, "changes": changes}  # fmt: skip
    _write(session, [row])


def log_actions(
    session: Session, entity: str, action: str, changes: dict[int, dict[str, Any]]
) -> None:
    """log_action for many records changed by one set-based statement: one write of
    the log for all of them (a till import moves thousands of grades at once)."""
    actor, at = _actor(session), utcnow()
    _write(session, [
        {"at": at, "actor_id": actor.staff_id, "via": actor.via, "entity": entity,
         "entity_id": entity_id, "action": action, "changes": change}
        for entity_id, change in changes.items()
    ])  # fmt: skip


def _write(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection = session.connection()
        seal(connection, ChangeLog.__table__, rows, CHANGE_FIELDS)  # type: ignore[arg-type]
        connection.execute(insert(ChangeLog), rows)


def history(
    session: Session, actor: Actor, entity: str, entity_id: int, *, limit: int = 200
) -> list[ChangeLog]:
    """The recorded changes of one record, oldest first; chain-wide roles only."""
    if not actor.chain_wide:
        raise Forbidden(N_("only supervisors and admins may read the change log"), field="role")
    stmt = (
        select(ChangeLog)
        .where(ChangeLog.entity == entity, ChangeLog.entity_id == entity_id)
        .order_by(ChangeLog.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))
