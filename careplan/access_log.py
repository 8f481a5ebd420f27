"""Who looked at which member's health data, when, how and from where.

Each look is written and committed on its own, before the data is shown: a page that
fails after reading was still read. Entries are chained like the change log
(careplan/ledger.py) and the database refuses to change or delete them.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.db import begin_for_writing
from careplan.errors import Forbidden
from careplan.ledger import seal
from careplan.models import AccessLog
from careplan.models.change_log import ACCESS_FIELDS

WHAT = ("page", "api", "sheet", "export")


def record(
    factory: sessionmaker[Session],
    actor: Actor,
    member_ids: Iterable[int],
    *,
    what: str,
    target: str,
    address: str,
    now: datetime,
) -> None:
    rows = _rows(actor, member_ids, what, target, address, now)
    if not rows:
        return
    with factory() as session:
        begin_for_writing(session)
        _insert(session, rows)
        session.commit()


def record_in(
    session: Session,
    actor: Actor,
    member_ids: Iterable[int],
    *,
    what: str,
    target: str,
    address: str,
    now: datetime,
) -> None:
    """The same, in the caller's transaction: for a request that writes anyway (printing
    records the print), where a second writer would wait for the first's lock."""
    _insert(session, _rows(actor, member_ids, what, target, address, now))


def _insert(session: Session, rows: list[dict[str, object]]) -> None:
    if rows:
        connection = session.connection()
        seal(connection, AccessLog.__table__, rows, ACCESS_FIELDS)  # type: ignore[arg-type]
        connection.execute(insert(AccessLog), rows)


def _rows(
    actor: Actor, member_ids: Iterable[int], what: str, target: str, address: str, now: datetime
) -> list[dict[str, object]]:
    assert what in WHAT, what
    return [
        {"at": now, "actor_id": actor.staff_id, "via": actor.via, "member_id": member_id,
         "what": what, "target": target[:255], "address": address[:64]}
        for member_id in sorted(set(member_ids))
    ]  # fmt: skip


def who_looked(
    session: Session, actor: Actor, member_id: int, *, limit: int = 500
) -> list[AccessLog]:
    """The looks at one member, newest first; supervisors and admins only."""
    if not actor.chain_wide:
        raise Forbidden("only supervisors and admins may read the access log", field="role")
    stmt = (
        select(AccessLog)
        .where(AccessLog.member_id == member_id)
        .order_by(AccessLog.at.desc(), AccessLog.seq.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
