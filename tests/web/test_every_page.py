"""What holds on every page through the ASGI app, on both databases: forms need their CSRF
token and are refused from another site, another store's URLs are 404, and every answer
carries the security headers."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import Checkpoint, Escalation
from tests.factories import (
    HX,
    TravelClock,
    World,
    api_sign_in,
    enrolled,
    make_member,
    sign_in_page,
)


def test_posts_without_the_csrf_token_are_refused(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    url = f"/members/{member.id}/verified"
    assert client.post(url).status_code == 403
    assert client.post(url, data={"csrf_token": "0" * 64}).status_code == 403
    assert "表单已过期" in client.post(url).text
    world.session.refresh(member)
    assert member.last_verified_on == date(2024, 3, 1)  # unchanged
    assert client.post(url, data={"csrf_token": token}).status_code == 303
    assert client.post(url, headers={"X-CSRF-Token": token} | HX).status_code == 200


def test_a_form_posted_from_another_site_is_refused(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    url, data = f"/members/{member.id}/verified", {"csrf_token": token}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://testserver.evil.example"},
    ):
        r = client.post(url, data=data, headers=headers)
        assert r.status_code == 403, headers
        assert "表单已过期" in r.text
    world.session.refresh(member)
    assert member.last_verified_on == date(2024, 3, 1)  # unchanged
    assert client.post(url, data=data, headers={"Origin": "http://testserver"}).status_code == 303
    same_site = {"Referer": "http://testserver/members/1"}
    assert client.post(url, data=data, headers=same_site).status_code == 303


def test_every_store_a_url_and_api_route_is_404_for_the_clerk_of_store_b(
    client: TestClient, world: World, clock: TravelClock
):
    plan = enrolled(world, clock, start=date(2024, 3, 4))
    member_id, plan_id = plan.member_id, plan.id
    cp = world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan_id)).first()
    assert cp is not None
    world.session.add(
        Escalation(
            member_id=member_id,
            store_id=world.store_a.id,
            plan_id=plan_id,
            checkpoint_id=cp.id,
            reason="service",
            role="store_manager",
            action_zh="上门",
            action_en="Visit",
            due_on=clock.today,
            raised_by_id=world.clerk_a.id,
            raised_at=clock.now,
        )
    )
    world.session.commit()
    esc_id = world.session.scalar(select(Escalation.id))
    pages = [
        f"/members/{member_id}",
        f"/members/{member_id}/edit",
        f"/members/{member_id}/enrol",
        f"/plans/{plan_id}",
        f"/checkpoints/{cp.id}",
        f"/checkpoints/{cp.id}/form",
    ]
    posts = [
        f"/members/{member_id}",
        f"/members/{member_id}/verified",
        f"/members/{member_id}/consent",
        f"/members/{member_id}/enrol",
        f"/checkpoints/{cp.id}/result",
        f"/checkpoints/{cp.id}/attempt",
        f"/escalations/{esc_id}/resolve",
    ]
    api_gets = [
        f"/api/v1/members/{member_id}",
        f"/api/v1/members/{member_id}/ownership",
        f"/api/v1/members/{member_id}/plans",
        f"/api/v1/members/{member_id}/health-checks",
        f"/api/v1/members/{member_id}/effects",
        f"/api/v1/members/{member_id}/purchases",
        f"/api/v1/plans/{plan_id}",
        f"/api/v1/checkpoints/{cp.id}",
    ]
    api_posts = [
        ("patch", f"/api/v1/members/{member_id}", {"name": "X"}),
        ("post", f"/api/v1/members/{member_id}/verified", None),
        ("post", f"/api/v1/members/{member_id}/health-consent", None),
        ("post", f"/api/v1/members/{member_id}/reassign", {"owner_id": world.clerk_b.id}),
        (
            "post",
            f"/api/v1/members/{member_id}/health-checks",
            {"kind": "weight", "values": {"value": 60}},
        ),
        ("post", f"/api/v1/members/{member_id}/effects", {"after": "好"}),
        ("post", f"/api/v1/plans/{plan_id}/pause", None),
        ("post", f"/api/v1/plans/{plan_id}/resume", None),
        ("post", f"/api/v1/plans/{plan_id}/stop", {"reason": "x"}),
        (
            "post",
            f"/api/v1/checkpoints/{cp.id}/result",
            {"version": cp.version, "channel": "phone", "adherence": "as_directed"},
        ),
        ("post", f"/api/v1/checkpoints/{cp.id}/attempts", {}),
        ("post", f"/api/v1/checkpoints/{cp.id}/skip", {"reason": "x"}),
        ("post", f"/api/v1/escalations/{esc_id}/resolve", {"resolution": "x"}),
    ]
    token_b = sign_in_page(client, "clerk.b")
    for url in pages:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data={"csrf_token": token_b}).status_code == 404, url
    hb = api_sign_in(client, "clerk.b")
    for url in api_gets:
        assert client.get(url, headers=hb).status_code == 404, url
    for method, url, body in api_posts:
        r = client.request(method.upper(), url, headers=hb, json=body)
        assert r.status_code == 404, (url, r.status_code, r.text)
    assert f"/members/{member_id}" not in client.get("/members?q=王").text
    # The same URLs open for the clerk of store A and for the supervisor.
    for username in ("clerk.a", "super"):
        client.cookies.clear()
        sign_in_page(client, username)
        for url in pages:
            assert client.get(url).status_code == 200, (username, url)
        headers = api_sign_in(client, username)
        for url in api_gets:
            assert client.get(url, headers=headers).status_code == 200, (username, url)


def test_every_answer_carries_the_security_headers(client: TestClient, world: World):
    """No inline script may run, nobody else may frame careplan, types are not sniffed,
    and pages with health data are not cached; the vendored files may be."""
    for path in ("/sign-in", "/api/v1/members", "/no-such-page"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert "frame-ancestors 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    r = client.get("/static/vendor/htmx/htmx.min.js")
    assert r.status_code == 200 and r.headers.get("cache-control") != "no-store"
