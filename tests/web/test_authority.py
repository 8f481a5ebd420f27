"""No role acts above itself: hand-overs and leaving, ending sessions, the chain-wide
product → drug-class mapping, and which card numbers another store has."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import ChangeLog, ProductClass, Staff
from careplan.vocab import Role
from tests.factories import World, api_sign_in, make_member, make_staff, sign_in_page


def _hand_over(client: TestClient, headers: dict[str, str], staff_id: int, to: int, **kw):
    body = {"to_staff_id": to, "staff_left": True} | kw
    return client.post(f"/api/v1/staff/{staff_id}/hand-over", json=body, headers=headers)


def _active(world: World, staff: Staff) -> bool:
    world.session.expire_all()
    return bool(world.session.scalar(select(Staff.active).where(Staff.id == staff.id)))


def test_a_store_manager_cannot_close_head_office_or_peer_accounts(
    client: TestClient, world: World
):
    admin = make_staff(world.session, username="admin.x", role=Role.admin, store=None)
    other_manager = make_staff(
        world.session, username="manager.a2", role=Role.store_manager, store=world.store_a
    )
    world.session.commit()
    manager = api_sign_in(client, "manager.a")
    for target in (world.supervisor, admin, other_manager, world.manager_a, world.clerk_b):
        r = _hand_over(client, manager, target.id, world.clerk_a.id)
        assert r.status_code in (403, 422), (target.username, r.text)
        assert r.json()["error"]["field"] == "from_staff_id"
        assert _active(world, target), target.username
    # Nothing about them was written.
    entries = world.session.scalars(select(ChangeLog).where(ChangeLog.entity == "staff"))
    assert not [e for e in entries if e.action == "update" and "active" in e.changes]


def test_a_hand_over_to_nobody_is_refused_even_with_no_members(client: TestClient, world: World):
    manager = api_sign_in(client, "manager.a")
    r = _hand_over(client, manager, world.clerk_a2.id, 987654)
    assert r.status_code == 422 and r.json()["error"]["field"] == "to_staff_id"
    r = _hand_over(client, manager, world.clerk_a2.id, world.clerk_b.id)  # another store's
    assert r.status_code == 422 and r.json()["error"]["field"] == "to_staff_id"
    r = _hand_over(client, manager, world.clerk_a2.id, world.supervisor.id)  # owns no members
    assert r.status_code == 422 and r.json()["error"]["field"] == "to_staff_id"
    assert _active(world, world.clerk_a2)


def test_a_clerk_leaving_is_closed_with_a_change_log_entry(client: TestClient, world: World):
    make_member(world, owner=world.clerk_a)
    world.session.commit()
    manager = api_sign_in(client, "manager.a")
    r = _hand_over(client, manager, world.clerk_a.id, world.clerk_a2.id, note="离职")
    assert r.status_code == 200 and r.json() == {"members_moved": 1}
    assert not _active(world, world.clerk_a)
    entry = world.session.scalars(
        select(ChangeLog)
        .where(ChangeLog.entity == "staff", ChangeLog.entity_id == world.clerk_a.id)
        .order_by(ChangeLog.id.desc())
    ).first()
    assert entry is not None and entry.action == "update"
    assert entry.actor_id == world.manager_a.id and entry.via == "api"
    assert entry.changes["active"] == [True, False]


def test_a_supervisor_closes_a_managers_account_but_not_a_peers(client: TestClient, world: World):
    peer = make_staff(world.session, username="super.2", role=Role.supervisor, store=None)
    world.session.commit()
    supervisor = api_sign_in(client, "super")
    r = _hand_over(client, supervisor, peer.id, world.clerk_a.id)
    assert r.status_code == 403 and _active(world, peer)
    r = _hand_over(client, supervisor, world.manager_a.id, world.clerk_a.id)
    assert r.status_code == 200 and not _active(world, world.manager_a)


def test_account_changes_log_no_password_hash(world: World):
    from careplan.sign_in import hash_password

    world.clerk_a.password_hash = hash_password("a-new-password-1")
    world.session.flush()
    entry = world.session.scalars(
        select(ChangeLog)
        .where(ChangeLog.entity == "staff", ChangeLog.entity_id == world.clerk_a.id)
        .order_by(ChangeLog.id.desc())
    ).first()
    assert entry is not None and entry.changes == {"password_hash": [None, "(changed)"]}


def test_only_head_office_changes_the_drug_class_mapping(client: TestClient, world: World):
    body = {"product_name": "氨氯地平片", "drug_class": "calcium_channel_blockers"}
    url = "/api/v1/purchases/classes/P-001"
    manager = api_sign_in(client, "manager.a")
    r = client.put(url, json=body, headers=manager)
    assert r.status_code == 403 and r.json()["error"]["field"] == "role"
    assert world.session.scalar(select(ProductClass.id)) is None
    supervisor = api_sign_in(client, "super")
    assert client.put(url, json=body, headers=supervisor).status_code == 200
    # The page shows the mapping to a manager, read-only, and says who keeps it.
    sign_in_page(client, "manager.a")
    page = client.get("/purchases/classes")
    assert "P-001" in page.text and "总部" in page.text
    assert 'action="/purchases/classes"' not in page.text


def test_another_stores_card_number_is_refused_without_saying_it_is_there(
    client: TestClient, world: World
):
    taken = make_member(world)  # in store A
    world.session.commit()
    body = {"card_number": taken.card_number, "name": "李四"}
    same_store = client.post("/api/v1/members", json=body, headers=api_sign_in(client, "clerk.a2"))
    assert same_store.status_code == 409 and "already registered" in same_store.text
    other = client.post("/api/v1/members", json=body, headers=api_sign_in(client, "clerk.b"))
    assert other.status_code == 409 and other.json()["error"]["field"] == "card_number"
    assert "already registered" not in other.text and taken.name not in other.text
