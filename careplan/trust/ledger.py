"""Hash chains for the change log and the access log: each entry carries the hash of the
one before, so an edited, inserted or deleted entry is found by `careplan audit-log
verify`, which names the first entry where the chain breaks.

An entry's seal is two hashes: `content_hash` over what it records, and `hash` over the
previous entry's hash and this content hash. Keeping the content's hash apart lets a
member's erasure blank personal values in old entries without breaking the chain (the
link still verifies; the entry is reported as erased, not as edited).

Entries are numbered by `seq` in the order they were chained. Writers take the chain in
turn: on PostgreSQL a transaction-scoped advisory lock is held from reading the head to
commit; SQLite writers already hold the database's only write lock.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.orm import Session

GENESIS = "0" * 64
ERASED = "erased"  # key set in `changes` when a member's personal values were blanked
_LOCK_KEYS = {"change_log": 7_310_001, "access_log": 7_310_002}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):  # one spelling, whatever the database returns
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value


def content_hash(fields: dict[str, Any]) -> str:
    body = json.dumps(
        {k: _plain(v) for k, v in fields.items()},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )  # fmt: skip
    return hashlib.sha256(body.encode()).hexdigest()


def link(prev_hash: str, content: str) -> str:
    return hashlib.sha256(f"{prev_hash}:{content}".encode()).hexdigest()


def _head(connection: Connection, table: Table) -> tuple[int, str]:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEYS[table.name]})
    row = connection.execute(
        select(table.c.seq, table.c.hash).order_by(table.c.seq.desc()).limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def seal(
    connection: Connection, table: Table, rows: list[dict[str, Any]], fields: Iterable[str]
) -> None:
    """Number and seal new entries (dicts about to be inserted), after the chain's head."""
    names = tuple(fields)
    seq, prev = _head(connection, table)
    for row in rows:
        seq += 1
        content = content_hash({name: row[name] for name in names})
        row["seq"], row["content_hash"], row["prev_hash"] = seq, content, prev
        row["hash"] = prev = link(prev, content)


@dataclass(frozen=True)
class Break:
    seq: int
    entry_id: int
    reason: str


@dataclass
class Verified:
    table: str
    entries: int = 0
    erased: int = 0
    head: str = GENESIS
    broken: Break | None = None


def verify(session: Session, table: Table, fields: Iterable[str]) -> Verified:
    """Walk the chain in order; stop at the first entry that does not hold."""
    names = tuple(fields)
    report = Verified(table.name)
    expected_seq, prev = 1, GENESIS
    for row in _entries(session, table):
        broken = _check(row, names, expected_seq, prev)
        if broken is not None:
            report.broken = broken
            return report
        if _erased(row, names):
            report.erased += 1
        report.entries += 1
        expected_seq, prev = row.seq + 1, row.hash
    report.head = prev
    return report


def _entries(session: Session, table: Table) -> Iterator[Any]:
    stmt = select(table).order_by(table.c.seq).execution_options(yield_per=2000)
    yield from session.execute(stmt)


def _check(row: Any, names: tuple[str, ...], expected_seq: int, prev: str) -> Break | None:
    if row.seq != expected_seq:
        last = row.seq - 1
        missing = f"{expected_seq}" if last == expected_seq else f"{expected_seq}–{last}"
        return Break(row.seq, row.id, f"entries before it are missing (seq {missing})")
    if row.prev_hash != prev:
        return Break(row.seq, row.id, "the entry before it was changed or replaced")
    content = content_hash({n: getattr(row, n) for n in names})
    if not _erased(row, names) and content != row.content_hash:
        return Break(row.seq, row.id, "this entry was edited after it was written")
    if link(row.prev_hash, row.content_hash) != row.hash:
        return Break(row.seq, row.id, "this entry's seal was changed")
    return None


def _erased(row: Any, names: tuple[str, ...]) -> bool:
    return "changes" in names and isinstance(row.changes, dict) and ERASED in row.changes


def verify_all(session: Session) -> list[Verified]:
    """Both chains: the change log, then the access log."""
    from careplan.models.change_log import ACCESS_FIELDS, CHANGE_FIELDS, AccessLog, ChangeLog

    return [
        verify(session, ChangeLog.__table__, CHANGE_FIELDS),  # type: ignore[arg-type]
        verify(session, AccessLog.__table__, ACCESS_FIELDS),  # type: ignore[arg-type]
    ]
