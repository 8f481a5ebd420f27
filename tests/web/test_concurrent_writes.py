"""Concurrent writes through the web app on real committed databases: a request reads
(who is asking) before it writes, and on SQLite a read-then-write transaction that meets
another writer's commit cannot wait its turn: it fails at once. Writes start their
transaction with the write lock (BEGIN IMMEDIATE), so they queue instead."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan import lectures, protocols
from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.members import MemberCreate, create_member
from careplan.models import LectureSeat, Store
from careplan.vocab import Role, SeatStatus
from tests.careplan.test_lectures import lecture_in
from tests.conftest import NOW, make_staff, migrated_database, shipped_protocols
from tests.web.conftest import HASHED, PASSWORD
from web.app import create_app
from web.deps import Clock, get_clock

THREADS = 24


@pytest.fixture(params=["sqlite", "postgresql"])
def factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


def test_concurrent_registrations_over_the_api_all_succeed_without_overbooking(
    factory: sessionmaker[Session],
) -> None:
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        protocols.publish(s, shipped_protocols())
        store = Store(code="C001", name="并发店", region="华东")
        s.add(store)
        s.flush()
        clerks = [
            make_staff(s, username=f"c.clerk{i}", role=Role.clerk, store=store)
            for i in range(THREADS)
        ]
        manager = make_staff(s, username="c.manager", role=Role.store_manager, store=store)
        for person in (*clerks, manager):
            person.password_hash = HASHED
        s.info["actor"] = Actor.of(manager, via="test")
        lecture = lectures.create_lecture(
            s, s.info["actor"], lecture_in(store, capacity=10), now=NOW
        )
        s.info["actor"] = Actor.of(clerks[0], via="test")
        member_ids = [
            create_member(
                s, s.info["actor"], MemberCreate(card_number=f"C{i:05d}", name=f"会员{i}"), now=NOW
            ).id
            for i in range(THREADS)
        ]
        s.commit()
        lecture_id = lecture.id

    app = create_app(factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=NOW.date())
    client = TestClient(app)
    tokens = []
    for clerk in clerks:  # each clerk signed in (a token in the database)
        r = client.post(
            "/api/v1/auth/token", json={"username": clerk.username, "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        tokens.append({"Authorization": f"Bearer {r.json()['token']}"})

    statuses: list[int] = []
    go = threading.Barrier(THREADS)

    def take(member_id: int, headers: dict[str, str]) -> None:
        own = TestClient(app)
        go.wait()
        r = own.post(
            f"/api/v1/lectures/{lecture_id}/seats", json={"member_id": member_id}, headers=headers
        )
        statuses.append(r.status_code)

    threads = [
        threading.Thread(target=take, args=(m, h)) for m, h in zip(member_ids, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert statuses == [201] * THREADS
    with factory() as s:
        counts = dict(
            s.execute(
                select(LectureSeat.status, func.count())
                .where(LectureSeat.lecture_id == lecture_id)
                .group_by(LectureSeat.status)
            ).all()
        )
    assert counts == {SeatStatus.registered: 10, SeatStatus.waitlisted: THREADS - 10}
