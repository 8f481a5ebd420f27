"""Clients for the API and the pages, with a fixed clock and real argon2 passwords."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock as careplan_clock
from tests.factories import HASHED, TravelClock, World
from web.app import create_app


@pytest.fixture
def clock() -> TravelClock:
    return TravelClock()


@pytest.fixture
def client(
    world: World, session_factory: sessionmaker[Session], clock: TravelClock,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:  # fmt: skip
    for staff in (
        world.clerk_a,
        world.clerk_a2,
        world.pharmacist_a,
        world.clerk_b,
        world.supervisor,
        world.manager_a,
    ):
        staff.password_hash = HASHED
    world.session.commit()
    app = create_app(session_factory)
    # The app reads the time from careplan.clock, as it does when served. Not through
    # FastAPI's dependency_overrides: any override makes FastAPI analyse every
    # dependency again on every request, which doubled the cost of each test request.
    monkeypatch.setattr(careplan_clock, "now", lambda: clock.now)
    monkeypatch.setattr(careplan_clock, "today", lambda: clock.today)
    with TestClient(app, follow_redirects=False) as c:
        yield c
