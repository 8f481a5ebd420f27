"""Clients for the API and the pages, with a fixed clock and real argon2 passwords."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan.sign_in import hash_password
from tests.factories import NOW, World
from web.app import create_app
from web.deps import Clock, get_clock

PASSWORD = "a-long-enough-password"
HASHED = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class TravelClock:
    """A clock tests can move forward (lockouts expire, steps fall due)."""

    now: datetime = field(default_factory=lambda: NOW.replace(day=6))

    def __call__(self) -> Clock:
        return Clock(now=self.now, today=self.today)

    @property
    def today(self) -> date:
        return self.now.date()

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


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


def csrf_of(client: TestClient, url: str = "/sign-in") -> str:
    page = client.get(url)
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {url}: {page.status_code}"
    return found.group(1)


def sign_in_page(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in pages."""
    token = csrf_of(client)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
    )
    assert r.status_code == 303, r.text
    return csrf_of(client, "/settings")


def api_sign_in(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}
