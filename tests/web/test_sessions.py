"""Web sessions end when left idle, at their absolute end, and when an admin ends them;
sign-in is paused for an address that guesses at many names."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import AuthSession
from careplan.sign_in import MAX_ADDRESS_FAILURES
from careplan.vocab import Role
from tests.factories import (
    HASHED,
    PASSWORD,
    TravelClock,
    World,
    api_sign_in,
    csrf_of,
    make_staff,
    sign_in_page,
)


def test_a_session_left_idle_for_30_minutes_ends(client: TestClient, clock: TravelClock):
    sign_in_page(client, "clerk.a")
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    # Each use restarts the idle time: 29 more minutes after that use are fine.
    clock.advance(minutes=29)
    assert client.get("/").status_code == 200
    clock.advance(minutes=31)
    r = client.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/sign-in")


def test_a_session_in_use_still_ends_12_hours_after_sign_in(client: TestClient, clock: TravelClock):
    sign_in_page(client, "clerk.a")
    for _ in range(24):  # used every 30 minutes less a second, for nearly 12 hours
        clock.advance(minutes=29, seconds=59)
        assert client.get("/").status_code == 200
    clock.advance(minutes=29, seconds=59)
    assert client.get("/").status_code == 303


def test_an_admin_ends_every_session_of_a_person(client: TestClient, world: World):
    admin = make_staff(world.session, username="admin.x", role=Role.admin, store=None)
    admin.password_hash = HASHED
    world.session.commit()
    sign_in_page(client, "clerk.a")
    clerk_page_cookie = client.cookies.get("careplan_session")
    clerk_api = api_sign_in(client, "clerk.a")
    assert client.get("/api/v1/members", headers=clerk_api).status_code == 200

    # Only an admin may: a supervisor is refused and nothing ends.
    supervisor = api_sign_in(client, "super")
    url = f"/api/v1/staff/{world.clerk_a.id}/sessions/end"
    assert client.post(url, headers=supervisor).status_code == 403
    assert client.get("/api/v1/members", headers=clerk_api).status_code == 200

    client.cookies.clear()
    csrf = sign_in_page(client, "admin.x")
    page = client.get(f"/store/staff?store={world.store_a.id}")
    assert "结束全部登录" in page.text
    r = client.post(
        f"/store/staff/{world.clerk_a.id}/sessions/end",
        data={"csrf_token": csrf, "store": world.store_a.id},
    )
    assert r.status_code == 303
    assert "已结束 2 个登录" in client.get(r.headers["location"]).text

    assert client.get("/api/v1/members", headers=clerk_api).status_code == 401
    client.cookies.clear()
    client.cookies.set("careplan_session", clerk_page_cookie or "")
    assert client.get("/").status_code == 303
    ended = world.session.scalars(
        select(AuthSession).where(AuthSession.staff_id == world.clerk_a.id)
    ).all()
    assert {s.ended_by_id for s in ended} == {admin.id}


def test_an_address_guessing_at_many_names_is_paused(client: TestClient, clock: TravelClock):
    token = csrf_of(client)
    for n in range(MAX_ADDRESS_FAILURES):
        data = {
            "csrf_token": token,
            "username": f"guess{n}",
            "password": "Password123!",
            "next": "/",
        }
        assert client.post("/sign-in", data=data).status_code == 401
    # Now even the right password from this address waits, for every account.
    right = {"csrf_token": token, "username": "clerk.a", "password": PASSWORD, "next": "/"}
    r = client.post("/sign-in", data=right)
    assert r.status_code == 401 and "此电脑" in r.text
    r = client.post("/api/v1/auth/token", json={"username": "pharm.a", "password": PASSWORD})
    assert r.status_code == 423 and "address" in r.json()["error"]["message"]
    clock.advance(minutes=16)
    assert client.post("/sign-in", data=right).status_code == 303


def test_an_unknown_name_and_a_wrong_password_get_the_same_answer(client: TestClient):
    unknown = client.post("/api/v1/auth/token", json={"username": "nobody.x", "password": "x"})
    wrong = client.post("/api/v1/auth/token", json={"username": "clerk.a", "password": "x"})
    assert unknown.status_code == wrong.status_code == 401
    # Alike but for each request's own id, which tells nothing about the name.
    bodies = [unknown.json(), wrong.json()]
    for r, body in zip((unknown, wrong), bodies, strict=True):
        assert body["error"].pop("request_id") == r.headers["x-request-id"]
    assert bodies[0] == bodies[1]
