"""The store manager's staff page through the ASGI app, on both databases: for managers
only, and hand-overs of a departing clerk's members or of selected ones."""

from __future__ import annotations

from fastapi.testclient import TestClient

from careplan.models import Ownership
from tests.factories import (
    World,
    count,
    make_member,
    sign_in_page,
)


def test_store_pages_are_for_managers(client: TestClient):
    sign_in_page(client, "clerk.a")
    r = client.get("/store/staff")
    assert r.status_code == 403
    assert "只有店长" in r.text


def test_a_manager_hands_over_a_departing_clerks_members_with_history(
    client: TestClient, world: World
):
    members = [make_member(world, name=f"会员{i}") for i in range(3)]
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    assert "会员0" in client.get("/store/staff").text
    data = {
        "csrf_token": token,
        "mode": "all",
        "from_staff_id": str(world.clerk_a.id),
        "to_staff_id": str(world.clerk_a2.id),
        "staff_left": "on",
        "note": "离职交接",
    }
    r = client.post("/store/reassign", data=data)
    assert r.status_code == 303, r.text
    for m in members:
        world.session.refresh(m)
        assert m.owner_id == world.clerk_a2.id
    world.session.refresh(world.clerk_a)
    assert not world.clerk_a.active
    assert count(world, Ownership) == 6
    page = client.get(r.headers["location"]).text
    assert "已移交 3 位会员" in page and "离职交接" in page


def test_a_manager_hands_over_selected_members(client: TestClient, world: World):
    a, b = make_member(world, name="甲"), make_member(world, name="乙")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    data = {"csrf_token": token, "member_ids": [str(a.id)], "to_staff_id": str(world.clerk_a2.id)}
    assert client.post("/store/reassign", data=data).status_code == 303
    world.session.refresh(a)
    world.session.refresh(b)
    assert (a.owner_id, b.owner_id) == (world.clerk_a2.id, world.clerk_a.id)
    r = client.post("/store/reassign", data={"csrf_token": token, "to_staff_id": "1"})
    assert r.status_code == 422 and "请至少选择一位会员" in r.text
