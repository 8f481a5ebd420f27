"""A consumer killed (kill -9) in the middle of its jobs: the next one finishes them, once.

Real consumers (`careplan jobs consume --workers 2`: huey's consumer, its two workers
processes of their own, which die with it) on a real queue (huey's SQLite file, and
Redis) against a real database (SQLite, PostgreSQL). A sheet batch and a till upload are
queued as the web app queues them. Once the import reports progress its worker is frozen
there (SIGSTOP: an import is faster than a batch's first pages, and would otherwise
finish first); once the batch reports progress too, the consumer is killed -9, and its
workers die with it. A new consumer starts once the dead one's lease has run out: its
first sweep queues both again and its workers run them. Each is then done once: one set
of prints and one PDF holding every sheet; the file's lines imported once, under one
import record.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock
from careplan.access import Actor
from careplan.adherence import import_jobs
from careplan.config import get_settings
from careplan.db import make_engine, make_session_factory
from careplan.jobs import engine as jobs_engine
from careplan.jobs import tasks
from careplan.members.archive import MemberCreate, create_member
from careplan.models import (
    ImportJob,
    Purchase,
    PurchaseImport,
    SheetBatch,
    SheetPrint,
    Staff,
    Store,
)
from careplan.plans import lifecycle, protocols
from careplan.sheets import sheets
from careplan.staff import StaffIn, create_staff
from careplan.vocab import BatchState, ImportState, Paper, Role
from tests import pdf
from tests.databases import migrated_database
from tests.factories import ROOT, shipped_protocols

MEMBERS = 5  # started 20 days ago: weeks 1 and 2 overdue, week 3 due today: 15 sheets
LINES = 45_000  # progress is reported every 20,000 lines
LEASE_SECONDS = 1  # a dead consumer's jobs are taken over this soon
# The tests' own Redis database (the queue name is each test's own).
REDIS = os.environ.get("CAREPLAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield url, engine
        engine.dispose()


@pytest.fixture
def queue(
    database: tuple[str, Engine], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """The queue's settings, for this process (which queues the tasks) and the consumers:
    as installed, huey's SQLite file beside a SQLite database (`make run`), Redis beside
    PostgreSQL (a chain), there with a queue name of this test's own, flushed afterwards.
    (All four pairs ran once: the two kinds of queue behave alike on either database.)"""
    embedded = database[0].startswith("sqlite")
    url = f"sqlite:///{tmp_path / 'jobs.db'}" if embedded else REDIS
    if url == REDIS:
        _redis_or_skip()
    env = {"CAREPLAN_JOBS_URL": url, "CAREPLAN_JOBS_QUEUE": f"test_{uuid.uuid4().hex}",
           "CAREPLAN_JOBS_LEASE_SECONDS": str(LEASE_SECONDS),
           "CAREPLAN_WORK_DIR": str(tmp_path / "work")}  # fmt: skip
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield env
    jobs_engine.huey.flush()
    jobs_engine.reset()
    monkeypatch.undo()
    get_settings.cache_clear()


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis run skipped: no Redis at {REDIS} (set CAREPLAN_TEST_REDIS_URL)")


def _chain(factory: sessionmaker[Session]) -> Actor:
    """A store, its manager, MEMBERS members whose plans have three contacts today."""
    today, now = clock.today(), clock.now()
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        protocols.publish(s, shipped_protocols())
        s.add(Store(code="K001", name="测试店", region="华东", address="测试路1号", phone="1"))
        s.flush()
        staff = create_staff(s, StaffIn(username="k.manager", name="周店长",
                                        role=Role.store_manager, store_code="K001",
                                        password="a-long-enough-password"))  # fmt: skip
        manager = Actor.of(staff, via="test")
        s.info["actor"] = manager
        for i in range(MEMBERS):
            member = create_member(s, manager, MemberCreate(card_number=f"K{i:05d}",
                                   name=f"会员{i:02d}", health_consent=True), now=now)  # fmt: skip
            lifecycle.enroll(s, manager, member_id=member.id, protocol_id="osteoporosis",
                             start=today - timedelta(days=20), today=today, now=now)  # fmt: skip
        s.commit()
        return Actor.of(s.get_one(Staff, staff.id), via="test")


def _jobs(factory: sessionmaker[Session], manager: Actor, work: Path) -> tuple[int, int]:
    """A day's batch and a till upload, as the pages write and queue them."""
    till = "card_number,product_code,product_name,quantity,purchased_on,store_code,amount\n"
    till += "".join(f"K{n % MEMBERS:05d},A{n},钙片,1,{clock.today()},K001,58.00\n"
                    for n in range(LINES))  # fmt: skip
    with factory() as s:
        s.info["actor"] = manager
        store = s.scalar(select(Store.id))
        assert store is not None
        batch = sheets.create_batch(s, manager, store_id=store, on=clock.today(),
                                    paper=Paper.a4, now=clock.now())  # fmt: skip
        job = import_jobs.queue(s, work, io.BytesIO(till.encode()), file_name="till.csv",
                                actor=manager, today=clock.today(), now=clock.now())  # fmt: skip
        s.commit()
        ids = batch.id, job.id
    tasks.queue_sheet_batch(ids[0])
    tasks.queue_import(ids[1])
    return ids


def _consumer(url: str, queue: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    env = os.environ | queue | {"CAREPLAN_DATABASE_URL": url}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "web", "jobs", "consume", "--workers", "2"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True,  # its own process group, for the clean-up
        )  # fmt: skip


def _worker(row: SheetBatch | ImportJob) -> int:
    """The worker process that claimed the row (claimed_by is host:pid)."""
    return int((row.claimed_by or "").rpartition(":")[2])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie is dead, waiting to be reaped


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _until(what: str, ready: Callable[[], bool], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not seen in {timeout} s; consumers said:\n{log.read_text()}")
        time.sleep(0.05)


def _rows(factory: sessionmaker[Session], batch_id: int, job_id: int):  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.get_one(SheetBatch, batch_id), s.get_one(ImportJob, job_id)


def _count(factory: sessionmaker[Session], stmt) -> int:  # type: ignore[no-untyped-def]
    with factory() as s:
        return s.scalar(stmt) or 0


def test_a_consumer_killed_mid_job_leaves_each_job_done_once_by_the_next(
    database: tuple[str, Engine], queue: dict[str, str], tmp_path: Path
):
    url, engine = database
    factory = make_session_factory(engine)
    manager = _chain(factory)
    batch_id, job_id = _jobs(factory, manager, Path(queue["CAREPLAN_WORK_DIR"]))
    log = tmp_path / "consumers.log"

    first = _consumer(url, queue, log)
    try:
        _until("the import's progress", lambda: _rows(factory, batch_id, job_id)[1].done > 0, log)
        # Frozen between two reports: it holds no write lock, and is killed mid-way.
        os.kill(_worker(_rows(factory, batch_id, job_id)[1]), signal.SIGSTOP)
        _until("the batch's progress", lambda: _rows(factory, batch_id, job_id)[0].done > 0, log)
        os.kill(first.pid, signal.SIGKILL)  # the consumer; its workers die with it
        first.wait(timeout=10)
        workers = [_worker(row) for row in _rows(factory, batch_id, job_id)]
        _until("its workers gone", lambda: not any(map(_alive, workers)), log, timeout=10)
    finally:
        _kill_group(first)  # anything left, should the test have failed
    batch, job = _rows(factory, batch_id, job_id)
    assert (batch.state, job.state) == (BatchState.running, ImportState.running)
    assert batch.done < batch.total and job.done < LINES  # killed in the middle of both
    assert _count(factory, select(func.count()).select_from(SheetPrint)) == 0
    assert _count(factory, select(func.count()).select_from(PurchaseImport)) == 0

    # The next consumer starts once the dead one's leases have run out.
    leases = [row.lease_until for row in (batch, job)]
    _until("the leases running out", lambda: all(t and t < clock.now() for t in leases), log)
    second = _consumer(url, queue, log)
    try:

        def both_ended() -> bool:
            batch, job = _rows(factory, batch_id, job_id)
            return batch.state is BatchState.done and job.state is ImportState.done

        _until("both jobs done", both_ended, log)
        upload = import_jobs.upload_path(Path(queue["CAREPLAN_WORK_DIR"]), job_id)
        _until("the upload deleted", lambda: not upload.exists(), log, timeout=10)
    finally:
        second.kill()
        second.wait(timeout=10)
        _kill_group(second)

    batch, job = _rows(factory, batch_id, job_id)
    assert (batch.attempts, job.attempts) == (2, 2)  # the dead consumer's, and the next one's
    with factory() as s:
        prints = s.scalar(select(func.count()).where(SheetPrint.batch_id == batch_id))
        assert prints == batch.total == 3 * MEMBERS
        assert pdf.pages(s.get_one(SheetBatch, batch_id).pdf or b"") == 3 * MEMBERS
        assert s.scalar(select(func.count()).select_from(Purchase)) == LINES
        assert s.scalars(select(PurchaseImport.added)).all() == [LINES]
    assert job.result is not None and job.result["added"] == LINES
