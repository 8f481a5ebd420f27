"""The backup drill: back up a running instance while it writes, restore into another
database, and find it whole — integrity, migrations at head, the hash chains, and (with
writes stopped) every table's row count equal to the source's."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text

from careplan import clock, migrate
from careplan.access import Actor
from careplan.config import ROOT
from careplan.db import make_engine, make_session_factory, transaction
from careplan.demo import chain
from careplan.members.archive import MemberCreate, create_member
from careplan.models import ChangeLog, Member, Staff
from careplan.plans import protocols
from careplan.trust import backup
from careplan.trust.ledger import verify_all
from tests.databases import PG_ENV, PG_SKIP


@pytest.fixture(params=["sqlite", "postgresql"])
def two_databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'live.db'}", f"sqlite:///{tmp_path / 'restored.db'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    root = base.rsplit("/", 1)[0]
    names = [f"careplan_drill_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    admin = create_engine(f"{root}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{root}/{names[0]}", f"{root}/{names[1]}"
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _seeded(url: str) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    with transaction(make_session_factory(engine), actor=Actor.system("test")) as s:
        protocols.publish(s, protocols.read_files(protocols.protocol_files(ROOT / "protocols")))
        chain.seed(s, today=clock.today(), now=clock.now())
    engine.dispose()


def _keep_registering(url: str, stop: threading.Event, done: list[int]) -> None:
    """The running instance: a member registered per transaction until told to stop."""
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        clerk = s.scalars(select(Staff).where(Staff.username == "xh.clerk1")).one()
        actor = Actor.of(clerk, via="test")
    while not stop.is_set():
        n = len(done)
        with transaction(factory, actor=actor) as s:
            data = MemberCreate(name=f"新会员{n}", card_number=f"DRILL-{n:05d}")
            create_member(s, actor, data, now=clock.now())
        done.append(n)
    engine.dispose()


def test_a_backup_taken_under_writes_restores_whole(
    two_databases: tuple[str, str], tmp_path: Path
) -> None:
    live, restored = two_databases
    _seeded(live)
    stop, done = threading.Event(), list[int]()
    writer = threading.Thread(target=_keep_registering, args=(live, stop, done))
    writer.start()
    try:
        while len(done) < 5:  # the instance is busy writing
            stop.wait(0.05)
        backup.backup(live, tmp_path / "under-writes.bak")  # while the writer goes on
    finally:
        stop.set()
        writer.join()

    checked = backup.restore(restored, tmp_path / "under-writes.bak")
    assert (checked.integrity, checked.at_head) == ("ok", True)
    engine = make_engine(restored)
    with make_session_factory(engine)() as s:
        assert all(r.broken is None for r in verify_all(s))
        drill = s.scalars(select(Member.card_number).where(Member.card_number.like("DRILL-%")))
        cards = sorted(drill)
        # A snapshot: the first k registrations, each whole with its change-log entry.
        assert cards == [f"DRILL-{n:05d}" for n in range(len(cards))] and len(cards) >= 5
        logged = s.scalar(
            select(func.count())
            .select_from(ChangeLog)
            .where(ChangeLog.entity == "member", ChangeLog.action == "create")
        )
        assert logged == s.scalar(select(func.count()).select_from(Member))
    engine.dispose()

    # Writes stopped: a second backup restores to the same row count in every table.
    backup.backup(live, tmp_path / "quiet.bak")
    checked = backup.restore(restored, tmp_path / "quiet.bak")
    assert checked.counts == backup.check(live).counts
    assert checked.counts["members"] == 60 + len(done)  # the demo's 60, then the writes
