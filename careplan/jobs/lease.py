"""Who runs a job's row: claimed with one UPDATE, held under a lease, sealed with the work.

A task (huey's, or an operator's command) claims the row before any work:

    UPDATE … SET state='running', claimed_by=…, claim_token=…, lease_until=now+lease
    WHERE id=… AND (state='queued' OR lease expired OR this task holds it already)

Only one claimant's UPDATE matches, on SQLite (one writer at a time) as on PostgreSQL
(the second waits for the first's row lock, then finds the row no longer free). Every
progress report renews the lease, in its own short transaction; the work's last
transaction ends with `seal`, which marks the row finished only if this task still
holds it: the work's writes and the mark commit together or not at all, so a job re-run
after a crash finds its row finished and does nothing, and a consumer that lost its
row (it stalled past its lease and another took over) rolls its work back.
"""

from __future__ import annotations

import os
import socket
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Executable,
    and_,
    case,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from careplan.db import begin_for_writing
from careplan.models import ImportJob, SheetBatch
from careplan.vocab import JobStanding

Leased = type[SheetBatch] | type[ImportJob]
# A row claimed this often (crashed consumers, or a job that kills its consumer) is
# given up: the sweep marks it failed rather than let it take consumer after consumer.
MAX_ATTEMPTS = 3
# A row queued this long (no consumer has run, or the queue is hours deep), or running
# with its lease over and no report for as long, is given up: shown as stopped, never
# claimed after, and failed by the sweep. A day's batch or a large till file should not
# appear an hour after its page said it had stopped and the person printed it again.
STALLED_AFTER = timedelta(minutes=15)
QUEUED, RUNNING, FAILED, DONE, REFUSED = "queued", "running", "failed", "done", "refused"


class LostClaim(Exception):
    """The row is no longer this task's: it ended, or another consumer took it over once
    this one's lease had run out. The work stops, and its last transaction rolls back."""


def this_process() -> str:
    """Who claims: the machine and process, for the operator reading the row."""
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE changed. The ORM is told not to mirror it into loaded objects: the
    row's columns are read afresh wherever they are needed."""
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(cast(CursorResult[Any], result).rowcount)


def stalled(row: SheetBatch | ImportJob, now: datetime) -> bool:
    """Queued, or its consumer's lease over, and untouched for STALLED_AFTER: given up."""
    lease_over = row.state == RUNNING and (row.lease_until is None or row.lease_until < now)
    return (row.state == QUEUED or lease_over) and now - row.updated_at > STALLED_AFTER


# A job nobody has worked on for this long (queued, or its consumer's lease over) says
# that no consumer is running: /healthz fails, long before the job is given up.
UNATTENDED_AFTER = timedelta(minutes=3)


def unattended(session: Session, now: datetime) -> int:
    """How many jobs no consumer has touched for UNATTENDED_AFTER (and not yet given up)."""
    found = 0
    for model in (SheetBatch, ImportJob):
        idle = _untouched(model, now, UNATTENDED_AFTER)
        found += (
            session.scalar(select(func.count()).select_from(model).where(idle, ~stale(model, now)))
            or 0
        )
    return found


def standing(row: SheetBatch | ImportJob, now: datetime) -> JobStanding:
    """The one answer every page and list gives about a job (its page, the store's list
    of batches): waiting, working, interrupted (its consumer died; the sweep hands it to
    another once the lease is over), stopped, done or refused."""
    if row.state in (DONE, REFUSED):
        return JobStanding(row.state)
    if row.state == FAILED or stalled(row, now):
        return JobStanding.stopped
    if row.state == QUEUED:
        return JobStanding.waiting
    live = row.lease_until is not None and row.lease_until >= now
    return JobStanding.working if live else JobStanding.interrupted


def stale(model: Leased, now: datetime) -> ColumnElement[bool]:
    """`stalled` as SQL."""
    return _untouched(model, now, STALLED_AFTER)


def _untouched(model: Leased, now: datetime, idle: timedelta) -> ColumnElement[bool]:
    """Queued, or its consumer's lease over, and not reported on for `idle`."""
    lease_over = and_(model.state == RUNNING, model.lease_until < now)
    return and_(model.updated_at < now - idle, or_(model.state == QUEUED, lease_over))


@dataclass(frozen=True)
class Claim:
    """This task's hold on one row."""

    model: Leased
    row_id: int
    token: str  # the task's id: its retries hold the row as it did
    lease: timedelta

    def _mine(self) -> ColumnElement[bool]:
        m = self.model
        return and_(m.id == self.row_id, m.claim_token == self.token, m.state == RUNNING)

    def renew(self, factory: sessionmaker[Session], now: datetime, **values: Any) -> None:
        """Report progress (`values`) and extend the lease, in a transaction of its own
        that any web process polling the row sees at once."""
        with factory() as session:
            begin_for_writing(session)
            stmt = update(self.model).where(self._mine())
            rows = changed(session, stmt.values(lease_until=now + self.lease, updated_at=now,
                                                **values))  # fmt: skip
            session.commit()
        if rows != 1:
            raise LostClaim(f"{self.model.__tablename__} {self.row_id}")

    def seal(self, session: Session, values: dict[str, Any]) -> None:
        """Mark the row finished (`values`), in the caller's transaction, which commits
        the work: refused with LostClaim when the row is no longer this task's."""
        stmt = update(self.model).where(self._mine()).values(lease_until=None, **values)
        if changed(session, stmt) != 1:
            raise LostClaim(f"{self.model.__tablename__} {self.row_id}")

    def seal_alone(self, factory: sessionmaker[Session], values: dict[str, Any]) -> None:
        """seal in a transaction of its own: an outcome with no work to commit."""
        with factory() as session:
            begin_for_writing(session)
            self.seal(session, values)
            session.commit()

    def fail(self, factory: sessionmaker[Session], now: datetime, error: str) -> None:
        """The work went wrong for good: the row says so, for the page and the operator.
        A row no longer this task's is left to whoever holds it."""
        with suppress(LostClaim):
            self.seal_alone(factory, {"state": FAILED, "error": error[:2000],
                                      "updated_at": now, "finished_at": now})  # fmt: skip


def _free(model: Leased, token: str, now: datetime) -> ColumnElement[bool]:
    free = or_(
        and_(model.state == QUEUED, model.attempts < MAX_ATTEMPTS),
        and_(model.state == RUNNING, model.claim_token == token),  # this task's retry
        and_(model.state == RUNNING, model.lease_until < now, model.attempts < MAX_ATTEMPTS),
    )
    return and_(free, ~stale(model, now))


def claim(
    factory: sessionmaker[Session],
    model: Leased,
    row_id: int,
    *,
    token: str,
    now: datetime,
    lease: timedelta,
) -> Claim | None:
    """Take the row for this task, or None: it is finished, held by another task whose
    lease still runs, or given up (claimed too often, or stalled). A retry of the task
    holding it takes it back without counting an attempt."""
    values = {
        "state": RUNNING, "claimed_by": this_process(), "claim_token": token,
        "lease_until": now + lease, "updated_at": now,
        "attempts": model.attempts + case((model.claim_token == token, 0), else_=1),
    }  # fmt: skip
    with factory() as session:
        begin_for_writing(session)
        stmt = update(model).where(model.id == row_id, _free(model, token, now)).values(values)
        rows = changed(session, stmt)
        session.commit()
    return Claim(model, row_id, token, lease) if rows == 1 else None
