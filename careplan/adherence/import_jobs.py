"""Large till files imported by a worker process while the upload page shows progress.

A chain-wide export of a million lines takes about a minute: too long for a request,
and the import's Python work would hold up the web server's other requests. The upload
is kept as a job (the file, and a small status file beside it) and
`careplan purchases run-job ID` imports it, writing its progress to the status. The
status lives on disk, not in the database: progress is reported every half second, and
the import's own transaction could not show it to anyone before it commits.

The uploaded file is removed once imported or refused, and when its worker is found
dead (a job stalled): till lines are personal data. `sweep` removes what a dead worker
or a half-made upload left behind.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.adherence.till_import import ImportRefused, count_lines, import_csv_committed
from careplan.errors import N_, CareplanError, InvalidInput, NotFound
from careplan.models import Staff

STALLED_AFTER = timedelta(minutes=2)  # a worker reports at least every chunk
PROGRESS_EVERY = timedelta(seconds=0.5)


@dataclass
class JobStatus:
    file_name: str
    staff_id: int
    today: str  # the upload's day: no line may be dated after it
    total: int  # lines in the file, header included (progress counts data lines)
    state: str = "queued"  # queued, running, done, refused, failed
    done: int = 0
    updated_at: str = ""  # ISO time of the last report
    # When done: what the import added; when refused or failed: why.
    result: dict[str, int | str] = field(default_factory=dict)
    message: str = ""
    about: str | None = None  # the field the refusal names
    problems: list[dict[str, object]] = field(default_factory=list)
    problems_in_all: int = 0

    @property
    def live(self) -> bool:
        return self.state in ("queued", "running")

    def stalled(self, now: datetime) -> bool:
        """A worker that stopped reporting has died: say so instead of spinning forever."""
        return self.live and now - datetime.fromisoformat(self.updated_at) > STALLED_AFTER

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / max(self.total - 1, 1)))


def _paths(work_dir: Path, job_id: str) -> tuple[Path, Path]:
    if not job_id.isalnum():  # ids are made here; anything else names no job
        raise NotFound(N_("no such import"), field="job_id")
    return work_dir / f"{job_id}.csv", work_dir / f"{job_id}.json"


def _write(path: Path, status: JobStatus) -> None:
    # Written whole and renamed: a reader never sees half a status.
    part = path.with_suffix(".part")
    part.write_text(json.dumps(asdict(status), ensure_ascii=False), encoding="utf-8")
    os.replace(part, path)


def _read(path: Path) -> JobStatus:
    try:
        return JobStatus(**json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise NotFound(N_("no such import"), field="job_id") from None


def queue(
    work_dir: Path, upload: BinaryIO, *, file_name: str, actor: Actor, today: date, now: datetime
) -> str:
    """Keep the upload as a job for the worker; its id (unguessable, as it names a file
    of members' purchases)."""
    if actor.staff_id is None:
        raise InvalidInput(N_("imports are made by a member of staff"), field="actor")
    work_dir.mkdir(parents=True, exist_ok=True)
    job_id = secrets.token_hex(16)
    data, status_path = _paths(work_dir, job_id)
    with data.open("wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)
    with data.open("rb") as f:
        lines = count_lines(f)
    status = JobStatus(
        file_name=file_name, staff_id=actor.staff_id, today=today.isoformat(),
        total=max(lines, 1), updated_at=now.isoformat(),
    )  # fmt: skip
    _write(status_path, status)
    return job_id


def status(work_dir: Path, job_id: str, actor: Actor, *, now: datetime) -> JobStatus:
    """A job is seen by who uploaded it. A job found stalled has its upload deleted: no
    worker will read it, and it is members' purchases."""
    data, status_path = _paths(work_dir, job_id)
    found = _read(status_path)
    if found.staff_id != actor.staff_id:
        raise NotFound(N_("no such import"), field="job_id")
    if found.stalled(now):
        data.unlink(missing_ok=True)
    return found


def sweep(work_dir: Path, now: datetime) -> int:
    """Delete the uploads no worker will read: those of jobs finished or stalled, and
    those without a readable status (an upload cut off before its job was written)
    untouched for STALLED_AFTER. How many were deleted."""
    deleted = 0
    for data in work_dir.glob("*.csv"):
        try:
            job: JobStatus | None = _read(data.with_suffix(".json"))
        except (NotFound, ValueError, TypeError):
            job = None
        if job is None:
            touched = datetime.fromtimestamp(data.stat().st_mtime, tz=now.tzinfo)
            if now - touched <= STALLED_AFTER:
                continue  # perhaps still being written by queue()
        elif job.live and not job.stalled(now):
            continue
        data.unlink(missing_ok=True)
        deleted += 1
    return deleted


def run(
    factory: sessionmaker[Session], work_dir: Path, job_id: str, *, clock: Callable[[], datetime]
) -> JobStatus:
    """Import a queued job's file (in the worker process), reporting progress; the file
    is removed at the end, whatever the outcome."""
    data, status_path = _paths(work_dir, job_id)
    job = _read(status_path)
    last = datetime.min.replace(tzinfo=clock().tzinfo)

    def report(done: int) -> None:
        nonlocal last
        now = clock()
        if now - last >= PROGRESS_EVERY:
            job.state, job.done, job.updated_at, last = "running", done, now.isoformat(), now
            _write(status_path, job)

    try:
        with factory() as session:
            actor = Actor.of(session.get_one(Staff, job.staff_id), via="import")
        with data.open("rb") as stream:
            # Its own transactions: on SQLite the write lock is held for the final
            # step only, so the web app's writes go on meanwhile (purchase_import.py).
            result = import_csv_committed(
                factory, actor, stream, file_name=job.file_name,
                today=date.fromisoformat(job.today), now=clock(), progress=report,
            )  # fmt: skip
        job.state, job.done = "done", result.lines
        job.result = asdict(result)
    except ImportRefused as exc:
        job.state, job.message, job.about = "refused", exc.message, exc.field
        job.problems, job.problems_in_all = exc.report(), exc.total
    except CareplanError as exc:
        job.state, job.message, job.about = "refused", exc.message, exc.field
    except Exception:
        job.state = "failed"
        raise
    finally:
        job.updated_at = clock().isoformat()
        _write(status_path, job)
        data.unlink(missing_ok=True)
    return job
