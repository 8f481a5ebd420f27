"""The sign-in page through the ASGI app, on both databases: pages ask for it, its cookie,
its CSRF token and where it sends staff, the lockout after wrong passwords, signing out,
and its language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import (
    HX,
    PASSWORD,
    TravelClock,
    World,
    csrf_of,
    make_member,
    sign_in_page,
)


def test_pages_need_a_signed_in_user(client: TestClient):
    r = client.get("/members")
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=/members"


def test_sign_in_sets_an_http_only_same_site_cookie(client: TestClient, world: World):
    token = csrf_of(client)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "clerk.a", "password": PASSWORD, "next": "/"},
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "careplan_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert client.get("/").status_code == 200


def test_a_crafted_next_cannot_send_staff_to_another_site(client: TestClient):
    token = csrf_of(client)
    data = {"csrf_token": token, "username": "clerk.a", "password": PASSWORD}
    r = client.post("/sign-in", data=data | {"next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_the_sign_in_form_needs_its_csrf_token_too(client: TestClient):
    r = client.post("/sign-in", data={"username": "clerk.a", "password": PASSWORD})
    assert r.status_code == 403
    assert "careplan_session" not in r.headers.get("set-cookie", "")


def test_the_sign_in_pages_token_opens_no_signed_in_form(client: TestClient, world: World):
    """A token minted for the anonymous cookie (anyone can get one from the sign-in page,
    and plant the cookie) is good for signing in and nothing else."""
    member = make_member(world)
    world.session.commit()
    planted = csrf_of(client)  # the sign-in page's, for this browser's anonymous cookie
    own = sign_in_page(client, "clerk.a")
    assert client.cookies.get("careplan_anon")  # still sent alongside the session
    url = f"/members/{member.id}/verified"
    assert client.post(url, data={"csrf_token": planted}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": planted} | HX).status_code == 403
    assert client.post(url, data={"csrf_token": own}).status_code == 303


def test_five_wrong_passwords_lock_the_account_for_a_while(client: TestClient, clock: TravelClock):
    token = csrf_of(client)
    data = {"csrf_token": token, "username": "clerk.a", "next": "/"}
    for _ in range(5):
        r = client.post("/sign-in", data=data | {"password": "wrong-password!"})
        assert r.status_code == 401
        assert "用户名或密码错误" in r.text or "账号已锁定" in r.text
    r = client.post("/sign-in", data=data | {"password": PASSWORD})
    assert r.status_code == 401
    assert "账号已锁定" in r.text
    # The API shares the lock.
    r = client.post("/api/v1/auth/token", json={"username": "clerk.a", "password": PASSWORD})
    assert r.status_code == 423
    clock.advance(minutes=16)
    r = client.post("/sign-in", data=data | {"password": PASSWORD})
    assert r.status_code == 303


def test_sign_out_ends_the_session(client: TestClient):
    token = sign_in_page(client, "clerk.a")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_a_page_cookie_is_not_an_api_token(client: TestClient):
    sign_in_page(client, "clerk.a")
    cookie = client.cookies.get("careplan_session")
    r = client.get("/api/v1/members", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401


def test_the_sign_in_page_follows_accept_language(client: TestClient):
    assert "Sign in" in client.get("/sign-in", headers={"Accept-Language": "en-GB,en"}).text
    assert "登录" in client.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "登录" in client.get("/sign-in", headers={"Accept-Language": "fr"}).text
