"""Running a job's row under its claim, and the sweep that recovers what crashes left.

Each run claims the row first (lease.py) and does nothing when the claim fails: the job
is finished, or another consumer holds it. Its outcome is sealed in the transaction that
commits the work. What a run does with a failure:

- transient (the database unreachable or locked: OperationalError) is raised as it is,
  the row left running under this task's claim, for huey to retry with backoff: the
  retry, carrying the same task id, takes the row back at once;
- a refusal (a till file with bad lines) is the job's outcome, kept in the row; never
  retried, as the same file would be refused again;
- anything else fails the row (the page says printing or the import stopped) and is
  raised, for the log.

The same functions serve the huey tasks (tasks.py), an operator's `careplan sheets
run-batch ID` and the tests' inline runs.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exc, select, update
from sqlalchemy.orm import Session, sessionmaker

from careplan.adherence import import_jobs
from careplan.adherence.till_import import ImportResult
from careplan.db import begin_for_writing
from careplan.errors import CareplanError, InvalidInput
from careplan.jobs.lease import (
    FAILED,
    MAX_ATTEMPTS,
    QUEUED,
    RUNNING,
    STALLED_AFTER,
    Claim,
    Leased,
    LostClaim,
    changed,
    claim,
    stale,
)
from careplan.models import ImportJob, SheetBatch
from careplan.sheets import sheets
from careplan.sheets.sheets import Render

log = logging.getLogger(__name__)

# Failures worth trying again: the database went away or was busy. Raised by SQLAlchemy
# as OperationalError (psycopg's and sqlite3's), or by careplan.db's write queue as
# sqlite3's own.
TRANSIENT: tuple[type[BaseException], ...] = (
    exc.OperationalError, exc.InterfaceError, exc.DisconnectionError, sqlite3.OperationalError,
)  # fmt: skip
PROGRESS_EVERY = timedelta(seconds=0.5)  # an import reports at most this often
# A queued row this old with no task waiting for it lost its task (the enqueue after its
# commit failed, or a consumer died with it dequeued): the sweep queues another.
QUEUE_GRACE = timedelta(minutes=1)
Clock = Callable[[], datetime]


def _finished(now: datetime) -> dict[str, Any]:
    return {"updated_at": now, "finished_at": now}


def _under(claimed: Claim, factory: sessionmaker[Session], clock: Clock,
           work: Callable[[], None]) -> bool:  # fmt: skip
    """Run the work under the claim: True if this task finished the job."""
    try:
        work()
    except TRANSIENT:
        raise  # retried by huey; the row stays this task's until its lease runs out
    except LostClaim:
        log.warning("%s %s was taken over; this run's work is rolled back",
                    claimed.model.__tablename__, claimed.row_id)  # fmt: skip
        return False
    except Exception as error:
        claimed.fail(factory, clock(), f"{type(error).__name__}: {error}")
        raise
    return True


def run_sheet_batch(
    factory: sessionmaker[Session],
    batch_id: int,
    render: Render,
    *,
    token: str,
    clock: Clock,
    lease: timedelta,
) -> bool:
    """Render a queued batch, once: True if this run did it."""
    claimed = claim(factory, SheetBatch, batch_id, token=token, now=clock(), lease=lease)
    if claimed is None:
        log.info("sheet batch %s is not waiting: nothing to do", batch_id)
        return False

    def work() -> None:
        sheets.run_batch(
            factory, batch_id, render, clock=clock,
            progress=lambda done: claimed.renew(factory, clock(), done=done),
            seal=claimed.seal,
        )  # fmt: skip

    return _under(claimed, factory, clock, work)


def _throttled(report: Callable[[int], None], clock: Clock) -> Callable[[int], None]:
    """An import reports a chunk every fraction of a second: a write at most every
    PROGRESS_EVERY."""
    last: list[datetime] = []

    def progress(done: int) -> None:
        now = clock()
        if not last or now - last[0] >= PROGRESS_EVERY:
            last[:] = [now]
            report(done)

    return progress


def run_import(
    factory: sessionmaker[Session],
    work_dir: Path,
    job_id: int,
    *,
    token: str,
    clock: Clock,
    lease: timedelta,
) -> bool:
    """Import a queued upload, once: True if this run finished it (imported, refused or
    failed). Its upload is deleted once the job has ended."""
    claimed = claim(factory, ImportJob, job_id, token=token, now=clock(), lease=lease)
    if claimed is None:
        log.info("import job %s is not waiting: nothing to do", job_id)
        return False

    def finish(session: Session, import_id: int, outcome: ImportResult | InvalidInput) -> None:
        claimed.seal(session, import_jobs.finished(import_id, outcome) | _finished(clock()))

    def work() -> None:
        try:
            import_jobs.run(
                factory, work_dir, job_id, clock=clock, finish=finish,
                progress=_throttled(lambda n: claimed.renew(factory, clock(), done=n), clock),
            )  # fmt: skip
        except CareplanError as refusal:
            # A refusal the history keeps was sealed with it; one it does not (the
            # uploader is no longer a manager) is sealed alone.
            if not refusal.recorded:
                ended = import_jobs.finished(None, refusal) | _finished(clock())
                claimed.seal_alone(factory, ended)
        except FileNotFoundError as missing:
            raise RuntimeError(
                f"the upload is not in the work directory ({missing.filename}): consumers "
                "on several machines need the work directory on a volume they all mount"
            ) from missing

    try:
        return _under(claimed, factory, clock, work)
    finally:
        _forget_if_ended(factory, work_dir, job_id)


def _forget_if_ended(factory: sessionmaker[Session], work_dir: Path, job_id: int) -> None:
    """Till lines are personal data: the upload goes as soon as no run will read it."""
    try:
        with factory() as session:
            state = session.get_one(ImportJob, job_id).state
    except TRANSIENT:
        return  # the sweep deletes it later
    if state not in (QUEUED, RUNNING):
        import_jobs.forget_upload(work_dir, job_id)


# --- The sweep -------------------------------------------------------------------------


@dataclass
class Swept:
    """What one sweep did: the rows to queue a task for again, and counts."""

    requeue: list[tuple[Leased, int]] = field(default_factory=list)
    failed: int = 0
    uploads_deleted: int = 0


def _ids(session: Session, statement: Any) -> list[int]:
    found = session.scalars(statement, execution_options={"synchronize_session": False})
    return [int(i) for i in found]


def _sweep_rows(
    session: Session, model: Leased, now: datetime, waiting: Collection[int], swept: Swept
) -> None:
    """The rules, each one statement whose WHERE says when it applies, so two sweeps at
    once (one per consumer) never both act on a row."""
    m = model
    lease_over = (m.state == RUNNING) & (m.lease_until < now)
    given_up = (m.attempts >= MAX_ATTEMPTS) & ((m.state == QUEUED) | lease_over)
    for rule, error in ((stale(m, now), f"stalled: not run for {STALLED_AFTER}"),
                        (given_up, f"given up after {MAX_ATTEMPTS} attempts")):  # fmt: skip
        stmt = update(m).where(rule).values(state=FAILED, error=error, lease_until=None,
                                            **_finished(now))  # fmt: skip
        swept.failed += changed(session, stmt)
    # Its consumer died (the lease ran out): queued again, for a new task to claim.
    back = update(m).where(lease_over).values(state=QUEUED, claim_token=None, lease_until=None,
                                              updated_at=now).returning(m.id)  # fmt: skip
    swept.requeue += [(m, i) for i in _ids(session, back)]
    # Queued a while, and no task waiting for it: it lost its task (the enqueue after its
    # commit failed, or a consumer died with it in hand before claiming it).
    lost = select(m.id).where(m.state == QUEUED, m.updated_at < now - QUEUE_GRACE,
                              m.id.not_in(waiting))  # fmt: skip
    swept.requeue += [(m, i) for i in _ids(session, lost)]


def sweep(
    factory: sessionmaker[Session],
    work_dir: Path,
    now: datetime,
    *,
    waiting: dict[Leased, Collection[int]],
) -> Swept:
    """Recover what crashes left behind, in one short transaction: the rows to queue
    again (the caller queues their tasks once this has committed), rows given up, and
    uploads no job will read. `waiting`: the ids that have a task in the queue."""
    swept = Swept()
    with factory() as session:
        begin_for_writing(session)
        for model in (SheetBatch, ImportJob):
            _sweep_rows(session, model, now, waiting.get(model, ()), swept)
        session.commit()
        swept.uploads_deleted = import_jobs.sweep_uploads(session, work_dir, now)
        session.rollback()
    return swept
