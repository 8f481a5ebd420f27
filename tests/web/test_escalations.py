"""Escalations over the web: two answers at once, and who may close a case."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from tests.careplan.test_escalations import first_step, open_ones
from tests.conftest import NOW, make_member, make_world
from tests.web.conftest import HASHED, PASSWORD
from web.app import create_app
from web.deps import Clock, get_clock


def test_two_stopped_answers_posted_at_the_same_moment_make_one_case(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        world = make_world(s)
        world.clerk_a.password_hash = HASHED
        member = make_member(world)
        steps = [first_step(world, member.id, p) for p in ("osteoporosis", "hypertension")]
        targets = [(cp.id, cp.version) for cp in steps]
        member_id = member.id
        s.commit()
    app = create_app(factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=steps[0].due_on)
    r = TestClient(app).post(
        "/api/v1/auth/token", json={"username": "clerk.a", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    go = threading.Barrier(len(targets))
    answers: list[tuple[int, list[int]]] = []

    def answer(checkpoint_id: int, version: int) -> None:
        own = TestClient(app)
        go.wait()
        r = own.post(
            f"/api/v1/checkpoints/{checkpoint_id}/result",
            json={"version": version, "channel": "phone", "adherence": "stopped",
                  "stop_reason": "side_effects"},
            headers=headers,
        )  # fmt: skip
        answers.append((r.status_code, r.json().get("escalation_ids", [])))

    threads = [threading.Thread(target=answer, args=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with factory() as s:
        [esc] = open_ones(s, member_id)
        assert esc.reports == 2
    # Both saves succeeded, and each answer names the one case it went to.
    assert sorted(answers) == [(201, [esc.id]), (201, [esc.id])]
