"""Concurrent writes through the web app on real committed databases: a request reads
(who is asking) before it writes, and on SQLite a read-then-write transaction that meets
another writer's commit cannot wait its turn: it fails at once. Writes start their
transaction with the write lock (BEGIN IMMEDIATE), so they queue instead."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan.vocab import SeatStatus
from tests.careplan.test_lectures import race, seats_by_status
from tests.factories import NOW, PASSWORD
from web.app import create_app
from web.deps import Clock, get_clock

THREADS = 24


def test_concurrent_registrations_over_the_api_all_succeed_without_overbooking(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    setup = race(factory, clerks=THREADS, members=THREADS, capacity=10)
    lecture_id, member_ids = setup.lecture_id, setup.member_ids
    app = create_app(factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=NOW.date())
    client = TestClient(app)
    tokens = []
    for clerk in setup.clerks:  # each clerk signed in (a token in the database)
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
    counts = seats_by_status(factory, lecture_id)
    assert counts == {SeatStatus.registered: 10, SeatStatus.waitlisted: THREADS - 10}
