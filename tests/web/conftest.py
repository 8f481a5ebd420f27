"""Clients for the API and the pages, with a fixed clock and real argon2 passwords."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import HASHED, TravelClock, World
from web.app import create_app
from web.deps import get_clock


@pytest.fixture
def clock() -> TravelClock:
    return TravelClock()


@pytest.fixture
def client(
    world: World, session_factory: sessionmaker[Session], clock: TravelClock
) -> Iterator[TestClient]:
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
    app.dependency_overrides[get_clock] = clock
    with TestClient(app, follow_redirects=False) as c:
        yield c
