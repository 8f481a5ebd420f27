"""Concurrent writes through the web app on real committed databases: a request reads
(who is asking) before it writes, and on SQLite a read-then-write transaction that meets
another writer's commit cannot wait its turn: it fails at once. Writes start their
transaction with the write lock (BEGIN IMMEDIATE), so they queue instead."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.models import Checkpoint, ContactAttempt
from careplan.plans import lifecycle
from careplan.sessions import open_session
from careplan.vocab import SeatStatus
from tests.careplan.test_lectures import race, seats_by_status
from tests.factories import NOW, PASSWORD, make_member, make_world
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


def test_a_double_click_on_unreachable_logs_one_attempt_even_at_the_same_instant(
    committed_db: sessionmaker[Session],
) -> None:
    """Two identical "unreachable" saves of one step sent together (a double click, a
    flaky network resending): one attempt logged, both answered, no server error."""
    factory = committed_db
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        world = make_world(s)
        plan = lifecycle.enroll(s, world.actor(world.clerk_a), member_id=make_member(world).id,
                                protocol_id="osteoporosis", start=NOW.date(), today=NOW.date(),
                                now=NOW)  # fmt: skip
        cp = s.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id)).first()
        assert cp is not None
        token = open_session(s, world.clerk_a, kind="api", hours=8, now=datetime.now(UTC))
        s.commit()
        checkpoint_id, version = cp.id, cp.version
    app = create_app(factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=NOW.date())
    headers = {"Authorization": f"Bearer {token}"}
    body = {"outcome": "unreachable", "channel": "phone", "version": version}
    statuses: list[int] = []
    go = threading.Barrier(2)

    def save() -> None:
        own = TestClient(app)
        go.wait()
        r = own.post(f"/api/v1/checkpoints/{checkpoint_id}/attempts", headers=headers, json=body)
        statuses.append(r.status_code)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [201, 201], statuses
    with factory() as s:
        attempts = s.scalar(select(func.count()).select_from(ContactAttempt))
    assert attempts == 1
