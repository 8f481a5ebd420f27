"""Background jobs: a row is claimed by one task at a time, done once however often its
task is delivered, retried on transient failures only, and recovered by the sweep.

The runs here are inline, on the test's transaction; tests/test_job_consumer.py kills
real consumer processes in the middle of a job.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from huey.storage import MemoryStorage, RedisStorage
from sqlalchemy import exc, func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.adherence import import_jobs
from careplan.config import get_settings
from careplan.jobs import engine, lease, runs, tasks
from careplan.models import ImportJob, Purchase, PurchaseImport, SheetBatch, SheetPrint
from careplan.sheets import sheets
from careplan.vocab import BatchState, ImportState, JobStanding, Paper
from tests.factories import NOW, TODAY, World, enrolled_steps, make_member

LEASE = timedelta(minutes=2)
HEADER = "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额\n"


def _batch(world: World) -> SheetBatch:
    """A queued batch of a store's day: two sheets."""
    enrolled_steps(world, make_member(world), start=date(2024, 2, 1), assignee=world.pharmacist_a)
    manager = world.actor(world.manager_a)
    batch = sheets.create_batch(world.session, manager, store_id=world.store_a.id, on=TODAY,
                                paper=Paper.a4, now=NOW)  # fmt: skip
    world.session.commit()
    return batch


def _fake_pdf(found, paper, progress) -> bytes:  # type: ignore[no-untyped-def]
    for n in range(1, len(found) + 1):
        progress(n)
    return b"%PDF-fake"


def _prints(world: World, batch: SheetBatch) -> int:
    stmt = select(func.count()).select_from(SheetPrint).where(SheetPrint.batch_id == batch.id)
    return world.session.scalar(stmt) or 0


def _fresh(world: World, row: SheetBatch | ImportJob) -> SheetBatch | ImportJob:
    world.session.expire_all()
    return world.session.get_one(type(row), row.id)


def test_one_task_holds_a_batch_until_its_lease_runs_out(
    world: World, session_factory: sessionmaker[Session]
):
    batch = _batch(world)
    first = lease.claim(session_factory, SheetBatch, batch.id, token="a", now=NOW, lease=LEASE)
    assert first is not None
    other = lease.claim(session_factory, SheetBatch, batch.id, token="b", now=NOW, lease=LEASE)
    assert other is None
    # A retry of the task holding it takes it back, and is not counted as an attempt.
    again = lease.claim(session_factory, SheetBatch, batch.id, token="a", now=NOW, lease=LEASE)
    assert again is not None and _fresh(world, batch).attempts == 1

    later = NOW + LEASE + timedelta(seconds=1)  # the first consumer died: nothing renewed
    taken = lease.claim(session_factory, SheetBatch, batch.id, token="b", now=later, lease=LEASE)
    assert taken is not None
    row = _fresh(world, batch)
    assert (row.state, row.claim_token, row.attempts) == (BatchState.running, "b", 2)
    with pytest.raises(lease.LostClaim):  # the first one, were it alive, stops at its next report
        first.renew(session_factory, later, done=1)


def test_a_batch_run_again_once_done_prints_nothing_more(
    world: World, session_factory: sessionmaker[Session]
):
    batch = _batch(world)
    run = {"render": _fake_pdf, "clock": lambda: NOW, "lease": LEASE}
    assert runs.run_sheet_batch(session_factory, batch.id, token="a", **run)
    # The same task delivered again (a consumer killed after its commit), or another.
    assert not runs.run_sheet_batch(session_factory, batch.id, token="a", **run)
    assert not runs.run_sheet_batch(session_factory, batch.id, token="b", **run)
    assert _prints(world, batch) == 2
    assert _fresh(world, batch).state is BatchState.done


def test_a_run_whose_batch_was_taken_over_records_no_print(
    world: World, session_factory: sessionmaker[Session]
):
    """A consumer that stalled past its lease while another took its batch over: its
    prints would be a second set, so its commit is refused and rolled back."""
    batch = _batch(world)
    later = NOW + LEASE + timedelta(seconds=1)

    def stalled_render(found, paper, progress) -> bytes:  # type: ignore[no-untyped-def]
        # While this one lays out pages without reporting, another consumer takes over.
        assert lease.claim(session_factory, SheetBatch, batch.id, token="b", now=later,
                           lease=LEASE)  # fmt: skip
        return b"%PDF-late"

    assert not runs.run_sheet_batch(session_factory, batch.id, stalled_render, token="a",
                                    clock=lambda: NOW, lease=LEASE)  # fmt: skip
    assert _prints(world, batch) == 0
    row = _fresh(world, batch)
    assert (row.state, row.claim_token) == (BatchState.running, "b")
    assert runs.run_sheet_batch(session_factory, batch.id, _fake_pdf, token="b",
                                clock=lambda: later, lease=LEASE)  # fmt: skip
    assert _prints(world, batch) == 2


def _upload(world: World, work_dir: Path, lines: int, *, bad: bool = False) -> ImportJob:
    member = make_member(world)
    text = HEADER + "".join(
        f"{member.card_number},A{n},阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,"
        f"{world.store_a.code},{'5.555' if bad and n == 1 else '58.00'}\n"
        for n in range(lines)
    )
    job = import_jobs.queue(world.session, work_dir, io.BytesIO(text.encode()),
                            file_name="till.csv", actor=world.actor(world.manager_a),
                            today=TODAY, now=NOW)  # fmt: skip
    world.session.commit()
    return job


def _purchases(world: World) -> tuple[int, int]:
    world.session.expire_all()
    s = world.session
    return (s.scalar(select(func.count()).select_from(Purchase)) or 0,
            s.scalar(select(func.count()).select_from(PurchaseImport)) or 0)  # fmt: skip


def test_an_import_run_again_once_done_adds_nothing_and_no_second_record(
    world: World, session_factory: sessionmaker[Session], tmp_path: Path
):
    job = _upload(world, tmp_path, 5)
    run = {"work_dir": tmp_path, "clock": lambda: NOW, "lease": LEASE}
    assert runs.run_import(session_factory, job_id=job.id, token="a", **run)
    assert not runs.run_import(session_factory, job_id=job.id, token="b", **run)
    assert _purchases(world) == (5, 1)
    row = _fresh(world, job)
    assert isinstance(row, ImportJob)
    assert (row.state, row.done, row.result and row.result["added"]) == (ImportState.done, 5, 5)
    assert not import_jobs.upload_path(tmp_path, job.id).exists()


def test_an_import_whose_job_was_taken_over_imports_nothing(
    world: World, session_factory: sessionmaker[Session], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):  # fmt: skip
    monkeypatch.setattr("careplan.adherence.till_import.CHUNK", 2)
    job = _upload(world, tmp_path, 5)
    later = NOW + LEASE + timedelta(seconds=1)
    original = lease.Claim.renew

    def renew(self, factory, now, **values):  # type: ignore[no-untyped-def]
        # Before this one's first report, it stalled past its lease and another took over.
        lease.claim(session_factory, ImportJob, job.id, token="b", now=later, lease=LEASE)
        return original(self, factory, now, **values)

    monkeypatch.setattr(lease.Claim, "renew", renew)
    assert not runs.run_import(session_factory, tmp_path, job.id, token="a",
                               clock=lambda: NOW, lease=LEASE)  # fmt: skip
    assert _purchases(world) == (0, 0)
    assert import_jobs.upload_path(tmp_path, job.id).exists()  # the new holder reads it


def test_a_refused_upload_is_refused_once_with_its_report(
    world: World, session_factory: sessionmaker[Session], tmp_path: Path
):
    job = _upload(world, tmp_path, 3, bad=True)
    assert runs.run_import(session_factory, tmp_path, job.id, token="a", clock=lambda: NOW,
                           lease=LEASE)  # fmt: skip
    row = _fresh(world, job)
    assert isinstance(row, ImportJob) and row.state is ImportState.refused
    assert row.result is not None and [p["line"] for p in row.result["problems"]] == [3]
    assert row.import_id is not None  # the history keeps it too, once
    assert _purchases(world) == (0, 1)
    assert not import_jobs.upload_path(tmp_path, job.id).exists()


@pytest.fixture
def queue(
    session_factory: sessionmaker[Session], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MemoryStorage]:
    """The tasks on an in-memory queue, on the test's database."""
    monkeypatch.setenv("CAREPLAN_WORK_DIR", str(tmp_path))
    get_settings.cache_clear()
    storage = MemoryStorage("test")
    engine.huey.storage = storage
    tasks.provide(factory=session_factory, render=_fake_pdf)
    yield storage
    engine.huey.immediate = False
    tasks.forget()
    engine.reset()
    get_settings.cache_clear()


def test_a_transient_failure_is_retried_with_backoff_and_the_batch_done_once(
    world: World, queue: MemoryStorage, monkeypatch: pytest.MonkeyPatch
):
    batch = _batch(world)
    failures = [exc.OperationalError("SELECT 1", {}, Exception("server closed the connection"))]

    def flaky(found, paper, progress) -> bytes:  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return _fake_pdf(found, paper, progress)

    tasks.provide(render=flaky)
    monkeypatch.setattr("careplan.clock.now", lambda: NOW)
    engine.huey.immediate = True  # the task runs as it is queued
    tasks.queue_sheet_batch(batch.id)

    (retry,) = engine.huey.scheduled()
    assert retry.retries == tasks.RETRIES - 1 and retry.retry_delay == 2 * tasks.RETRY_DELAY
    row = _fresh(world, batch)
    assert (row.state, row.claim_token, _prints(world, batch)) == (BatchState.running, retry.id, 0)
    (due,) = engine.huey.read_schedule(retry.eta)  # what the consumer's scheduler takes, then
    engine.huey.execute(due, timestamp=retry.eta)  # in 5 s
    assert _fresh(world, batch).state is BatchState.done and _prints(world, batch) == 2
    assert engine.huey.scheduled() == []


def test_a_failure_that_is_not_transient_fails_the_batch_and_is_not_retried(
    world: World, queue: MemoryStorage, monkeypatch: pytest.MonkeyPatch
):
    batch = _batch(world)

    def broken(found, paper, progress) -> bytes:  # type: ignore[no-untyped-def]
        raise ValueError("a font is missing")

    tasks.provide(render=broken)
    monkeypatch.setattr("careplan.clock.now", lambda: NOW)
    engine.huey.immediate = True
    tasks.queue_sheet_batch(batch.id)
    assert engine.huey.scheduled() == []
    row = _fresh(world, batch)
    assert row.state is BatchState.failed and "a font is missing" in (row.error or "")


def test_a_queue_that_cannot_be_reached_loses_no_batch(
    world: World, queue: MemoryStorage, monkeypatch: pytest.MonkeyPatch
):
    """Redis down as the page queues the batch: the page still answers (the batch is
    committed, queued), and the next sweep queues its task."""
    batch = _batch(world)
    engine.huey.storage = RedisStorage("test", url="redis://127.0.0.1:1/0")  # nothing there
    tasks.queue_sheet_batch(batch.id)  # logged, not raised
    engine.huey.storage = queue  # back up
    monkeypatch.setattr("careplan.clock.now", lambda: NOW + runs.QUEUE_GRACE * 2)
    assert [i for _, i in tasks.sweep_now().requeue] == [batch.id]
    (waiting,) = engine.huey.pending()
    assert (waiting.name, waiting.args) == ("render_sheet_batch", (batch.id,))


def _as_if(world: World, row: SheetBatch | ImportJob, **values: object) -> None:
    for name, value in values.items():
        setattr(row, name, value)
    world.session.commit()


def test_the_sweep_queues_again_what_a_crash_left_and_gives_up_the_rest(
    world: World, queue: MemoryStorage, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
):
    now = NOW + timedelta(minutes=3)
    monkeypatch.setattr("careplan.clock.now", lambda: now)
    died, lost, waiting, tried, forgotten = (_batch(world) for _ in range(5))
    # Its consumer died: running, the lease over.
    _as_if(world, died, state=BatchState.running, claim_token="x", attempts=1,
           lease_until=now - timedelta(seconds=1))  # fmt: skip
    # `lost` is queued, and no task for it (the enqueue after its commit failed).
    tasks.queue_sheet_batch(waiting.id)  # queued, behind others
    _as_if(world, tried, state=BatchState.running, claim_token="y", attempts=3,
           lease_until=now - timedelta(seconds=1))  # fmt: skip
    _as_if(world, forgotten, updated_at=now - timedelta(minutes=16))  # no consumer that long
    done_job = _upload(world, tmp_path, 2)
    _as_if(world, done_job, state=ImportState.done)
    live_job = _upload(world, tmp_path, 2)
    orphan, old_orphan = tmp_path / "import-999998.csv", tmp_path / "import-999999.csv"
    for path, age in ((orphan, 0), (old_orphan, 3)):  # their requests never committed
        path.write_text(HEADER)
        moment = (now - timedelta(minutes=age)).timestamp()
        os.utime(path, (moment, moment))

    swept = tasks.sweep_now()

    assert sorted(i for _, i in swept.requeue) == sorted([died.id, lost.id, live_job.id])
    assert (swept.failed, swept.uploads_deleted) == (2, 2)  # tried, forgotten; 2 uploads
    pending = sorted((t.name, t.args[0]) for t in engine.huey.pending())
    assert pending == sorted([("render_sheet_batch", i) for i in (died.id, lost.id, waiting.id)]
                             + [("import_upload", live_job.id)])  # fmt: skip
    states = {b.id: _fresh(world, b).state for b in (died, lost, waiting, tried, forgotten)}
    assert states == {died.id: BatchState.queued, lost.id: BatchState.queued,
                      waiting.id: BatchState.queued, tried.id: BatchState.failed,
                      forgotten.id: BatchState.failed}  # fmt: skip
    assert orphan.exists() and not old_orphan.exists()  # fresh: its request may be committing
    assert import_jobs.upload_path(tmp_path, live_job.id).exists()
    assert not import_jobs.upload_path(tmp_path, done_job.id).exists()
    # A second sweep (another consumer's, at once) queues nothing twice.
    assert tasks.sweep_now().requeue == []


def test_where_a_batch_stands_waiting_working_interrupted_stopped_done(
    world: World, session_factory: sessionmaker[Session]
):
    """One answer for the batch's page and the list of batches (a QA walk found the page
    saying "failed" while the list said "waiting", and a dead consumer's batch frozen at
    "sheet 2 of 15" for minutes)."""
    batch = _batch(world)
    assert lease.standing(_fresh(world, batch), NOW) is JobStanding.waiting
    assert lease.standing(_fresh(world, batch), NOW + lease.STALLED_AFTER * 2) is (
        JobStanding.stopped  # nobody took it: given up
    )
    lease.claim(session_factory, SheetBatch, batch.id, token="a", now=NOW, lease=LEASE)
    assert lease.standing(_fresh(world, batch), NOW) is JobStanding.working
    later = NOW + LEASE + timedelta(seconds=1)  # its consumer died: nothing renewed
    assert lease.standing(_fresh(world, batch), later) is JobStanding.interrupted
    assert runs.run_sheet_batch(session_factory, batch.id, _fake_pdf, token="b",
                                clock=lambda: later, lease=LEASE)  # fmt: skip
    assert lease.standing(_fresh(world, batch), later) is JobStanding.done
