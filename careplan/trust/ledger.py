"""Hash chains for the change log and the access log: each entry carries the hash of the
one before it in its chain, so an edited, inserted, reordered or deleted entry is found
by `careplan audit-log verify`, which names the chain and the first entry where it breaks.

An entry's seal is two hashes: `content_hash` over what it records, and `hash` over the
previous entry's hash and this content hash. Keeping the content's hash apart lets a
member's erasure blank personal values in old entries without breaking the chain (the
link still verifies; the entry is reported as erased, not as edited).

Each log is many chains, one per person: an entry's `chain` is the acting staff
member's id (0 for the system and for CLI runs without one), and `seq` numbers it within
that chain, unique per (chain, seq). A writer reads its chain's head and inserts after
it, so the writers of one chain take turns: on PostgreSQL a transaction-scoped advisory
lock on (log, chain) is held from reading the head to commit; SQLite writers already
hold the database's only write lock. Why per person: with one chain per log every
audited change and every recorded look in every store waited for every other (during a
21 s till import another store's write waited 18.7 s). Now only one person's own
concurrent writes wait for each other. Entries written before the split are chain 0
with their seals unchanged (they were one chain); the system's entries continue it.

Why not one chain sealed after commit (entries written unsealed, a sealer process
chaining them in commit order)? Its write path takes no lock at all, but an entry would
stand unsealed until the sealer reached it (changeable unseen in that window, a long one
whenever the sealer is down), the database would have to let the sealer write the seal
columns (a hole in the append-only triggers), and commit order is not id order (the
sealer must wait out transactions holding lower ids): a second process to run, watch and
get right. Per-person chains seal every entry in the transaction that writes it, and
the append-only triggers stay as strict as they were.

What verify finds in a chain: an entry edited (its content no longer matches its hash),
resealed (the next entry's link breaks), deleted (a gap in seq, or a link to an entry
that is not there), inserted, moved from another chain or reordered (a link that does
not hold). What the log cannot show by itself: its newest entries removed (a chain that
ends early, or a whole chain gone, looks complete), its newest entry resealed (nothing
after it to break), an entry appended at a chain's tail (a seal has no secret: whoever
can insert rows can seal as careplan does), or the whole log resealed. Removal and
change are refused by the database itself: triggers on DELETE, UPDATE and (PostgreSQL)
TRUNCATE (migrations 07db7724218f, ecba031b9822, d7a4c1e9b201), so it takes the owner's
rights to lift them. Against whoever has them, `verify --heads FILE` writes every chain's
head to be kept elsewhere, and `verify --against FILE` later finds a chain that no
longer reaches, or no longer carries, a head kept for it; entries written after the heads
were kept are vouched for by the triggers alone, and an appended entry only by who may
write to the database at all. The `chain` column is a key, not evidence: who acted is
in the sealed content (`actor_id`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from operator import attrgetter
from typing import Any

from sqlalchemy import Connection, Table, select, text
from sqlalchemy.orm import Session

GENESIS = "0" * 64
ERASED = "erased"  # key set in `changes` when a member's personal values were blanked
SYSTEM_CHAIN = 0  # the chain of entries with no member of staff acting
_LOCK_KEYS = {"change_log": 7_310_001, "access_log": 7_310_002}
_INT4 = 2**31  # pg_advisory_xact_lock(int, int) takes two 32-bit keys


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


def chain_of(actor_id: int | None) -> int:
    """The chain an entry joins: its acting staff member's, or the system's."""
    return SYSTEM_CHAIN if actor_id is None else actor_id


def _take_turn(connection: Connection, table: Table, chain: int) -> None:
    """Writers of one chain wait for each other until commit; other chains' writers do
    not. A chain id past 2^31 shares its key with a lower one: the two would take turns,
    nothing worse."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(CAST(:log AS integer), CAST(:chain AS integer))"),
            {"log": _LOCK_KEYS[table.name], "chain": chain % _INT4},
        )


def _head(connection: Connection, table: Table, chain: int) -> tuple[int, str]:
    _take_turn(connection, table, chain)
    row = connection.execute(
        select(table.c.seq, table.c.hash)
        .where(table.c.chain == chain)
        .order_by(table.c.seq.desc())
        .limit(1)
    ).first()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def seal(
    connection: Connection, table: Table, rows: list[dict[str, Any]], fields: Iterable[str]
) -> None:
    """Number and seal new entries (dicts about to be inserted), each after the head of
    its actor's chain. One call takes its chains in ascending order, so two such calls
    cannot deadlock over them."""
    names = tuple(fields)
    by_chain: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        by_chain.setdefault(chain_of(row["actor_id"]), []).append(row)
    for chain in sorted(by_chain):
        seq, prev = _head(connection, table, chain)
        for row in by_chain[chain]:
            seq += 1
            content = content_hash({name: row[name] for name in names})
            row["chain"], row["seq"], row["content_hash"] = chain, seq, content
            row["prev_hash"], row["hash"] = prev, link(prev, content)
            prev = row["hash"]


@dataclass(frozen=True)
class Head:
    """A chain's newest entry as verify found it: kept elsewhere, it is checked later."""

    chain: int
    seq: int
    hash: str


@dataclass(frozen=True)
class Break:
    chain: int
    seq: int
    entry_id: int | None  # None: the entry is not there (a kept head's chain ends early)
    reason: str


@dataclass
class Verified:
    table: str
    entries: int = 0
    erased: int = 0
    heads: dict[int, Head] = field(default_factory=dict)  # chain -> its newest entry
    broken: Break | None = None

    @property
    def chains(self) -> int:
        return len(self.heads)


def verify(
    session: Session, table: Table, fields: Iterable[str], kept: Iterable[Head] = ()
) -> Verified:
    """Walk every chain in order; stop at the first entry that does not hold, or at the
    first head kept from an earlier run that its chain no longer reaches or carries."""
    names = tuple(fields)
    report = Verified(table.name)
    by_chain = {head.chain: head for head in kept}
    waiting = deque(by_chain[chain] for chain in sorted(by_chain))
    for chain, entries in groupby(_entries(session, table), key=attrgetter("chain")):
        report.broken = _vanished(waiting, before=chain)
        if report.broken is None:
            own = waiting.popleft() if waiting and waiting[0].chain == chain else None
            report.broken = _walk(report, chain, entries, names, own)
        if report.broken is not None:
            return report
    report.broken = _vanished(waiting, before=None)
    return report


def _entries(session: Session, table: Table) -> Iterator[Any]:
    stmt = select(table).order_by(table.c.chain, table.c.seq).execution_options(yield_per=2000)
    yield from session.execute(stmt)


def _walk(
    report: Verified, chain: int, entries: Iterable[Any], names: tuple[str, ...], kept: Head | None
) -> Break | None:
    """One chain, from its first entry; its head is noted as it goes."""
    expected_seq, prev = 1, GENESIS
    for row in entries:
        broken = _check(row, names, expected_seq, prev) or _carries(row, kept)
        if broken is not None:
            return broken
        if _erased(row, names):
            report.erased += 1
        report.entries += 1
        report.heads[chain] = Head(chain, row.seq, row.hash)
        expected_seq, prev = row.seq + 1, row.hash
    return _reaches(report.heads[chain], kept)


def _missing(first: int, last: int) -> str:
    return f"{first}" if first == last else f"{first}–{last}"


def _check(row: Any, names: tuple[str, ...], expected_seq: int, prev: str) -> Break | None:
    def broken(reason: str) -> Break:
        return Break(row.chain, row.seq, row.id, reason)

    if row.seq != expected_seq:
        return broken(f"entries before it are missing (seq {_missing(expected_seq, row.seq - 1)})")
    if row.prev_hash != prev:
        return broken("the entry before it was changed or replaced")
    content = content_hash({n: getattr(row, n) for n in names})
    if not _erased(row, names) and content != row.content_hash:
        return broken("this entry was edited after it was written")
    if link(row.prev_hash, row.content_hash) != row.hash:
        return broken("this entry's seal was changed")
    return None


def _carries(row: Any, kept: Head | None) -> Break | None:
    if kept is None or row.seq != kept.seq or row.hash == kept.hash:
        return None
    return Break(row.chain, row.seq, row.id, "this entry no longer carries its kept head")


def _reaches(head: Head, kept: Head | None) -> Break | None:
    if kept is None or head.seq >= kept.seq:
        return None
    return Break(head.chain, kept.seq, None, _cut_short(head.seq + 1, kept.seq))


def _vanished(waiting: deque[Head], before: int | None) -> Break | None:
    """A chain with a kept head and no entry left at all."""
    if not waiting or (before is not None and waiting[0].chain >= before):
        return None
    gone = waiting[0]
    return Break(gone.chain, gone.seq, None, _cut_short(1, gone.seq))


def _cut_short(first: int, last: int) -> str:
    return f"entries up to its kept head are missing (seq {_missing(first, last)})"


def _erased(row: Any, names: tuple[str, ...]) -> bool:
    return "changes" in names and isinstance(row.changes, dict) and ERASED in row.changes


def verify_all(
    session: Session, kept: Mapping[str, Iterable[Head]] | None = None
) -> list[Verified]:
    """Both logs: the change log, then the access log; `kept`: heads by table name."""
    from careplan.models.change_log import ACCESS_FIELDS, CHANGE_FIELDS, AccessLog, ChangeLog

    logs: list[tuple[Table, tuple[str, ...]]] = [
        (ChangeLog.__table__, CHANGE_FIELDS),  # type: ignore[list-item]
        (AccessLog.__table__, ACCESS_FIELDS),  # type: ignore[list-item]
    ]
    kept = kept or {}
    return [verify(session, table, fields, kept.get(table.name, ())) for table, fields in logs]


HEADS_HEADER = ["table", "chain", "seq", "hash"]
HEADS_LINE = ",".join(HEADS_HEADER)


def heads_csv(reports: Iterable[Verified]) -> str:
    """Every chain's head, to keep somewhere the database's writers cannot reach."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADS_HEADER)
    for report in reports:
        for head in report.heads.values():
            writer.writerow([report.table, head.chain, head.seq, head.hash])
    return out.getvalue()


def read_heads(body: str) -> dict[str, list[Head]]:
    """Heads written by heads_csv; ValueError names the first line that is not one."""
    rows = csv.reader(io.StringIO(body))
    if next(rows, None) != HEADS_HEADER:
        raise ValueError(f"not a file of kept heads: it does not begin {HEADS_LINE}")
    kept: dict[str, list[Head]] = {}
    for number, row in enumerate(rows, start=2):
        try:
            table, chain, seq, hash_ = row
            kept.setdefault(table, []).append(Head(int(chain), int(seq), hash_))
        except ValueError:
            raise ValueError(f"line {number} of the kept heads is not {HEADS_LINE}") from None
    return kept
