"""Every look at a member's health data is recorded: who, when, what, from where; a
supervisor can list them, and the access log's chain verifies."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import AccessLog
from careplan.trust.ledger import verify_all
from tests.factories import World, api_sign_in, enrolled_steps, make_member, sign_in_page


def _looks(world: World, member_id: int) -> list[tuple[str, str, int | None]]:
    world.session.expire_all()
    rows = world.session.scalars(
        select(AccessLog).where(AccessLog.member_id == member_id).order_by(AccessLog.id)
    )
    return [(r.what, r.target, r.actor_id) for r in rows]


def test_pages_api_reads_and_sheets_are_each_recorded(client: TestClient, world: World):
    member = make_member(world, name="王秀英")
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    assert client.get(f"/members/{member.id}").status_code == 200
    cp = steps["medication_guidance"]
    r = client.post(f"/checkpoints/{cp.id}/sheet", data={"csrf_token": token, "paper": "a4"})
    assert r.headers["content-type"] == "application/pdf"
    headers = api_sign_in(client, "clerk.a")
    for path in ("", "/health-checks", "/effects", "/purchases", "/plans"):
        assert client.get(f"/api/v1/members/{member.id}{path}", headers=headers).status_code == 200
    clerk = world.clerk_a.id
    assert _looks(world, member.id) == [
        ("page", f"/members/{member.id}", clerk),
        ("sheet", f"/checkpoints/{cp.id}/sheet", clerk),
        *[("api", f"/api/v1/members/{member.id}{p}", clerk)
          for p in ("", "/health-checks", "/effects", "/purchases", "/plans")],
    ]  # fmt: skip
    row = world.session.scalars(select(AccessLog).where(AccessLog.member_id == member.id)).first()
    assert row is not None and row.address == "testclient" and row.via == "web"

    # A member one may not see is not looked at: nothing recorded.
    other = make_member(world, owner=world.clerk_b)
    world.session.commit()
    assert client.get(f"/api/v1/members/{other.id}", headers=headers).status_code == 404
    assert _looks(world, other.id) == []
    assert all(report.broken is None for report in verify_all(world.session))


def test_a_supervisor_lists_who_looked_and_a_clerk_may_not(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    clerk = api_sign_in(client, "clerk.a")
    client.get(f"/api/v1/members/{member.id}", headers=clerk)
    r = client.get(f"/api/v1/members/{member.id}/access-log", headers=clerk)
    assert r.status_code == 403 and r.json()["error"]["field"] == "role"
    boss = api_sign_in(client, "super")
    looks = client.get(f"/api/v1/members/{member.id}/access-log", headers=boss).json()
    assert [(a["actor_id"], a["what"], a["via"]) for a in looks] == [
        (world.clerk_a.id, "api", "api")
    ]
