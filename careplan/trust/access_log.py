"""Who looked at which member's health data, when, how and from where.

Entries are chained like the change log, one chain per person
(careplan/trust/ledger.py), and the database refuses to change or delete them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.db import begin_for_writing
from careplan.errors import N_, Forbidden
from careplan.models import AccessLog
from careplan.models.change_log import ACCESS_FIELDS
from careplan.trust.ledger import seal

WHAT = ("page", "api", "sheet", "export")


@dataclass(frozen=True)
class Look:
    """One request's look at some members' health data."""

    what: str  # one of WHAT
    target: str  # the path asked for
    address: str  # the client's address
    now: datetime


def record(
    factory: sessionmaker[Session], actor: Actor, member_ids: Iterable[int], look: Look
) -> None:
    """Committed on its own (a GET): a page that fails after reading was still read."""
    with factory() as session:
        begin_for_writing(session)
        record_in(session, actor, member_ids, look)
        session.commit()


def record_in(session: Session, actor: Actor, member_ids: Iterable[int], look: Look) -> None:
    """In the caller's transaction: for a request that writes anyway (printing records
    the print), where a second writer would wait for the first's lock."""
    _insert(session, _rows(actor, member_ids, look))


def _insert(session: Session, rows: list[dict[str, object]]) -> None:
    if rows:
        connection = session.connection()
        seal(connection, AccessLog.__table__, rows, ACCESS_FIELDS)  # type: ignore[arg-type]
        connection.execute(insert(AccessLog), rows)


def _rows(actor: Actor, member_ids: Iterable[int], look: Look) -> list[dict[str, object]]:
    assert look.what in WHAT, look.what
    return [
        {"at": look.now, "actor_id": actor.staff_id, "via": actor.via, "member_id": member_id,
         "what": look.what, "target": look.target[:255], "address": look.address[:64]}
        for member_id in sorted(set(member_ids))
    ]  # fmt: skip


def who_looked(
    session: Session, actor: Actor, member_id: int, *, limit: int = 500
) -> list[AccessLog]:
    """The looks at one member, newest first; supervisors and admins only."""
    if not actor.chain_wide:
        raise Forbidden(N_("only supervisors and admins may read the access log"), field="role")
    stmt = (
        select(AccessLog)
        .where(AccessLog.member_id == member_id)
        .order_by(AccessLog.at.desc(), AccessLog.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
