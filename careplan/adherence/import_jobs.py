"""Large till files imported by a job while the upload page shows progress.

A chain-wide export of a million lines takes about a minute: too long for a request,
and the import's Python work would hold up the web server's other requests. The upload
becomes a job: a row (who, which file, how far, how it ended: careplan.models.ImportJob)
and the file itself, kept in the work directory under the row's id until the job has
read it. A task of the job engine (careplan/jobs) carries the id and imports the file,
reporting progress in the row, each report its own short transaction.

The file stays on disk rather than in the row: it is read as a stream (a million lines
are 100 MB, never held whole), and it would bloat the database, its WAL and every backup
for the minute it is needed. Consumers on several machines therefore need the work
directory on a volume they all mount (NFS or the like); a consumer that cannot find the
file fails the job, saying so to the operator.

The uploaded file is removed once imported or refused, and when its job is found
stalled: till lines are personal data. `sweep_uploads` removes what a dead consumer or a
half-made upload left behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.adherence.till_import import (
    Finish,
    ImportRefused,
    ImportResult,
    count_lines,
    import_csv_committed,
    refusal_report,
)
from careplan.errors import N_, CareplanError, InvalidInput, NotFound
from careplan.models import ImportJob, Staff
from careplan.vocab import ImportState

# An upload written but not (yet) a committed job is left alone this long: its request
# may still be committing.
UPLOAD_GRACE = timedelta(minutes=2)


def upload_path(work_dir: Path, job_id: int) -> Path:
    return work_dir / f"import-{job_id}.csv"


def _job_id_of(path: Path) -> int | None:
    number = path.stem.removeprefix("import-")
    return int(number) if path.stem.startswith("import-") and number.isdigit() else None


def queue(
    session: Session,
    work_dir: Path,
    upload: BinaryIO,
    *,
    file_name: str,
    actor: Actor,
    today: date,
    now: datetime,
) -> ImportJob:
    """Keep the upload as a job for the job engine (the caller commits, then queues its
    task). The file is copied before the row is written: a transaction never waits for
    a hundred megabytes to be copied."""
    if actor.staff_id is None:
        raise InvalidInput(N_("imports are made by a member of staff"), field="actor")
    work_dir.mkdir(parents=True, exist_ok=True)
    part = work_dir / f"upload-{secrets.token_hex(8)}.part"
    with part.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
    with part.open("rb") as f:
        lines = count_lines(f)
    job = ImportJob(
        file_name=file_name[:255], uploaded_by_id=actor.staff_id, today=today,
        total=max(lines, 1), state=ImportState.queued, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(job)
    session.flush()
    os.replace(part, upload_path(work_dir, job.id))
    return job


def get_job(session: Session, actor: Actor, job_id: int) -> ImportJob:
    """A job is seen by who uploaded it."""
    job = session.get(ImportJob, job_id)
    if job is None or job.uploaded_by_id != actor.staff_id:
        raise NotFound(N_("no such import"), field="job_id")
    return job


def unfinished_jobs(session: Session, actor: Actor, limit: int = 10) -> list[ImportJob]:
    """The uploader's imports still queued or running, newest first: the import page
    lists them, so that one left for other work can be found again."""
    stmt = (
        select(ImportJob)
        .where(
            ImportJob.uploaded_by_id == actor.staff_id,
            ImportJob.state.in_((ImportState.queued, ImportState.running)),
        )
        .order_by(ImportJob.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def forget_upload(work_dir: Path, job_id: int) -> None:
    """Delete a job's upload: it has been read, or no job will read it."""
    upload_path(work_dir, job_id).unlink(missing_ok=True)


def run(
    factory: sessionmaker[Session],
    work_dir: Path,
    job_id: int,
    *,
    clock: Callable[[], datetime],
    progress: Callable[[int], None],
    finish: Finish,
) -> ImportResult:
    """Import a job's upload, a job having claimed it, as its uploader (who must still
    be a manager); `finish` marks the row in the transaction that commits the outcome.
    A refusal is raised after it is recorded; a missing upload raises FileNotFoundError."""
    with factory() as session:
        job = session.get_one(ImportJob, job_id)
        actor = Actor.of(session.get_one(Staff, job.uploaded_by_id), via="import")
        file_name, today = job.file_name, job.today
    with upload_path(work_dir, job_id).open("rb") as stream:
        return import_csv_committed(
            factory, actor, stream, file_name=file_name, today=today, now=clock(),
            progress=progress, finish=finish,
        )  # fmt: skip


def finished(import_id: int | None, outcome: ImportResult | CareplanError) -> dict[str, Any]:
    """The row's values for how the import ended: done with its counts, or refused with
    the report its uploader is shown."""
    if isinstance(outcome, ImportResult):
        return {"state": ImportState.done, "done": outcome.lines, "import_id": import_id,
                "result": asdict(outcome)}  # fmt: skip
    values: dict[str, Any] = {"state": ImportState.refused, "import_id": import_id,
                              "result": refusal_report(outcome)}  # fmt: skip
    if isinstance(outcome, ImportRefused):
        values["done"] = outcome.lines
    return values


def sweep_uploads(session: Session, work_dir: Path, now: datetime) -> int:
    """Delete the uploads no job will read: those of jobs finished, and those of no job
    (an upload cut off, or its request rolled back) untouched for UPLOAD_GRACE. How many
    were deleted."""
    if not work_dir.is_dir():
        return 0
    files = {
        path: _job_id_of(path)
        for path in [*work_dir.glob("import-*.csv"), *work_dir.glob("upload-*.part")]
    }
    ids = [i for i in files.values() if i is not None]
    stmt = select(ImportJob.id, ImportJob.state).where(ImportJob.id.in_(ids))
    states = {job_id: state for job_id, state in session.execute(stmt)}
    deleted = 0
    for path, job_id in files.items():
        state = None if job_id is None else states.get(job_id)
        if state in (ImportState.queued, ImportState.running):
            continue
        if state is None and now - _touched(path, now) <= UPLOAD_GRACE:
            continue  # perhaps still being written, or its job being committed
        path.unlink(missing_ok=True)
        deleted += 1
    return deleted


def _touched(path: Path, now: datetime) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=now.tzinfo)
    except FileNotFoundError:
        return now
