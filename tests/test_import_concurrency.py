"""A long till import does not hold up the other writers.

The import runs as a job's consumer does (`careplan purchases run-job`, its own
process, reporting its progress in the job's row) on a 200,000-line upload, while
threads of this process register members as the web app does: each its own
transaction, begun with begin_for_writing. None of them may fail, and none may wait more
than two seconds. On SQLite, before the import staged its lines, each waited out the
10 s busy timeout and failed "database is locked"; on PostgreSQL each waited for the
whole import behind the change log's chain, which the import's record took at its start.

On SQLite the one wait left is the final copy (the import's only write, one
transaction so that a file is imported whole or not at all), which grows with the
lines: about 0.55 s for these 200,000 on a quiet machine, and up to 2.5 times that on a
loaded CI runner (300,000 lines there took 2.1 s). Before the staging, the same file
held the lock for its whole import, well past the busy timeout.

PostgreSQL imports half of the lines: nothing its import holds grows with them (the
new rows are its own), and the suite stays fast.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.adherence import import_jobs
from careplan.db import begin_for_writing, make_engine, make_session_factory
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Member, Purchase, Staff, Store
from careplan.staff import StaffIn, create_staff
from careplan.vocab import Role
from tests.databases import migrated_database
from tests.factories import ROOT

LINES = {"sqlite": 200_000, "postgresql": 100_000}
CARDS = 1000
WRITERS = 3  # each registers a member every tenth of a second: a busy chain's web app
PAUSE = 0.1
MAX_WAIT = 2.0  # seconds a write may take, waiting for the lock included
NOW = datetime(2024, 3, 1, 2, tzinfo=UTC)
HEADER = (
    "card_number,product_code,product_name,drug_class,quantity,days_supply,purchased_on,"
    "store_code,amount\n"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield url, engine
        engine.dispose()


def _chain(factory: sessionmaker[Session]) -> tuple[Actor, Actor]:
    """A store, its manager (who imports) and a clerk (who registers), CARDS members."""
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        s.add(Store(code="K001", name="测试店", region="华东"))
        s.flush()
        staff = [
            create_staff(s, StaffIn(username=name, name=name, role=role, store_code="K001",
                                    password="a-long-enough-password"))
            for name, role in (("k.manager", Role.store_manager), ("k.clerk", Role.clerk))
        ]  # fmt: skip
        store = s.scalar(select(Store.id))
        s.execute(insert(Member), [
            {"card_number": f"K{n:05d}", "home_store_id": store, "owner_id": staff[1].id,
             "name": f"会员{n}", "health_consent": False, "created_at": NOW, "updated_at": NOW}
            for n in range(CARDS)
        ])  # fmt: skip
        s.commit()
        return tuple(Actor.of(s.get_one(Staff, x.id), via="test") for x in staff)  # type: ignore[return-value]


def _till_file(path: Path, lines: int) -> None:
    """Distinct lines, written in one go (a second or so)."""
    path.write_text(
        HEADER
        + "".join(
            f"K{n % CARDS:05d},A{n},阿仑膦酸钠片,bisphosphonates,1,28,"
            f"2024-01-{1 + n % 28:02d},K001,58.00\n"
            for n in range(lines)
        ),
        encoding="utf-8",
    )


class Writers:
    """Threads registering members one transaction at a time until told to stop; each
    write's time, from opening its session to its commit, is kept."""

    def __init__(self, factory: sessionmaker[Session], clerk: Actor) -> None:
        self.factory, self.clerk = factory, clerk
        self.waits: list[float] = []
        self.errors: list[BaseException] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(WRITERS)]

    def _write(self, card: str) -> None:
        with self.factory() as session:
            begin_for_writing(session)  # as the web app's writes begin
            session.info["actor"] = self.clerk
            create_member(session, self.clerk, MemberCreate(name="新会员", card_number=card),
                          now=NOW)  # fmt: skip
            session.commit()

    def _run(self, thread: int) -> None:
        n = 0
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                self._write(f"W{thread}-{n}")
            except BaseException as exc:  # every failure is the test's finding
                self.errors.append(exc)
            self.waits.append(time.perf_counter() - started)
            n += 1
            time.sleep(PAUSE)

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def test_other_writers_go_on_during_a_long_till_import(database, tmp_path: Path):
    url, engine = database
    lines = LINES[engine.dialect.name]
    factory = make_session_factory(engine)
    manager, clerk = _chain(factory)
    upload = tmp_path / "till.csv"
    _till_file(upload, lines)
    work = tmp_path / "work"
    with upload.open("rb") as f, factory() as s:
        job = import_jobs.queue(s, work, f, file_name="till.csv", actor=manager,
                                today=date(2024, 3, 1), now=datetime.now(UTC)).id  # fmt: skip
        s.commit()
    env = os.environ | {"CAREPLAN_DATABASE_URL": url, "CAREPLAN_WORK_DIR": str(work)}

    with Writers(factory, clerk) as writers:
        worker = subprocess.run(
            [sys.executable, "-m", "web", "purchases", "run-job", str(job)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert worker.returncode == 0, worker.stderr

    with factory() as s:
        status = import_jobs.get_job(s, manager, job)
        assert status.state == "done" and status.result, status.error
        assert status.result["added"] == lines, status.result
    assert writers.errors == []
    assert len(writers.waits) > 50, "the writers hardly ran alongside the import"
    assert max(writers.waits) <= MAX_WAIT, sorted(writers.waits)[-5:]
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Purchase)) == lines
        assert s.scalar(select(func.count()).select_from(Member)) == CARDS + len(writers.waits)
