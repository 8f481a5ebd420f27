"""A burst of sign-ins while others work: on SQLite each used to hold the database's only
write lock through its argon2 check, so after the busy timeout other requests (pages and
saves alike) failed with "database is locked"."""

from __future__ import annotations

import threading
import time

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.careplan.test_lectures import race
from tests.factories import NOW, PASSWORD, csrf_of
from web.app import create_app
from web.deps import Clock, get_clock

SIGN_INS = 30


def test_thirty_sign_ins_at_once_alongside_page_reads_and_saves_give_no_server_error(
    committed_db: sessionmaker[Session], real_argon2: None
) -> None:
    setup = race(committed_db, clerks=SIGN_INS + 1, members=4, capacity=50)
    app = create_app(committed_db)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=NOW.date())
    worker = setup.clerks[-1]
    reader = TestClient(app)
    token = reader.post(
        "/api/v1/auth/token", json={"username": worker.username, "password": PASSWORD}
    ).json()["token"]
    api = {"Authorization": f"Bearer {token}"}
    statuses: list[int] = []
    waits: list[float] = []
    go = threading.Barrier(SIGN_INS + 2)
    running = threading.Event()
    running.set()

    def sign_in(username: str) -> None:
        own = TestClient(app, follow_redirects=False)
        form = {"csrf_token": csrf_of(own), "username": username, "password": PASSWORD}
        go.wait()
        statuses.append(own.post("/sign-in", data=form | {"next": "/"}).status_code)

    def work(kind: str) -> None:
        own = TestClient(app)
        go.wait()
        n = 0
        while running.is_set():
            start = time.perf_counter()
            if kind == "read":
                r = own.get("/api/v1/members", headers=api)
            else:  # a save: each registration writes a seat and its change-log entry
                n += 1
                body = {"member_id": setup.member_ids[n % len(setup.member_ids)]}
                r = own.post(f"/api/v1/lectures/{setup.lecture_id}/seats", json=body, headers=api)
            waits.append(time.perf_counter() - start)
            statuses.append(r.status_code)

    signers = [threading.Thread(target=sign_in, args=(c.username,)) for c in setup.clerks[:-1]]
    workers = [threading.Thread(target=work, args=(k,)) for k in ("read", "write")]
    for t in (*signers, *workers):
        t.start()
    for t in signers:
        t.join()
    running.clear()
    for t in workers:
        t.join()

    assert statuses.count(303) == SIGN_INS, sorted(set(statuses))  # every sign-in went through
    assert not [s for s in statuses if s >= 500], statuses
    assert max(waits) < 5, f"a request waited {max(waits):.1f} s"
