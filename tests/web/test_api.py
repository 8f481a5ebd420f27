"""The JSON API end to end through the ASGI app, on both databases."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.models import CarePlan, CheckpointResult, HealthCheck, Member, Purchase
from tests.factories import HASHED, NOW, PASSWORD, World
from web.app import create_app
from web.deps import Clock, get_clock

TODAY = date(2024, 3, 6)


@pytest.fixture
def app_client(world: World, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    for staff in (world.clerk_a, world.clerk_b, world.supervisor, world.manager_a):
        staff.password_hash = HASHED
    world.session.commit()
    app = create_app(session_factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW.replace(day=6), today=TODAY)
    with TestClient(app) as client:
        yield client


def sign_in(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def count(world: World, model: type) -> int:
    return world.session.scalar(select(func.count()).select_from(model)) or 0


def new_member(client: TestClient, headers: dict[str, str], **kw) -> dict:
    body = {
        "card_number": "M10001",
        "name": "王秀英",
        "mobile": "13800138000",
        "drug_allergies": ["青霉素"],
        "health_consent": True,
    } | kw
    r = client.post("/api/v1/members", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def enrolled(client: TestClient, headers: dict[str, str]) -> tuple[dict, dict]:
    member = new_member(client, headers)
    r = client.post(
        "/api/v1/plans",
        json={"member_id": member["id"], "protocol_id": "osteoporosis", "start_date": "2024-03-04"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return member, r.json()


def test_without_a_token_every_route_is_401(app_client: TestClient):
    r = app_client.get("/api/v1/members")
    assert r.status_code == 401
    assert r.json()["error"]["message"].startswith("sign in first")


def test_a_wrong_password_is_refused(app_client: TestClient):
    r = app_client.post("/api/v1/auth/token", json={"username": "clerk.a", "password": "nope"})
    assert r.status_code == 401


def test_enrol_work_a_step_and_see_it_done(app_client: TestClient, world: World):
    h = sign_in(app_client, "clerk.a")
    _member, plan = enrolled(app_client, h)
    first = plan["checkpoints"][0]
    assert (first["key"], first["due_on"], first["status"]) == (
        "medication_guidance",
        "2024-03-10",
        "due",
    )
    r = app_client.post(
        f"/api/v1/checkpoints/{first['id']}/result",
        headers=h,
        json={
            "version": first["version"],
            "channel": "phone",
            "adherence": "stopped",
            "stop_reason": "side_effects",
            "checklist": {"dose_explained": True},
            "measurements": [{"kind": "bone_density", "values": {"t_score": -2.6}}],
            "effect": {"side_effects": "胃部不适", "member_words": "吃完药胃不舒服"},
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["checkpoint"]["status"] == "done" and len(body["escalation_ids"]) == 1
    # Committed before the response: a fresh session sees it.
    assert count(world, CheckpointResult) == 1 and count(world, HealthCheck) == 1
    due = app_client.get("/api/v1/checkpoints", params={"status": "due"}, headers=h).json()
    assert first["id"] not in [c["id"] for c in due]
    esc = app_client.get("/api/v1/escalations", headers=sign_in(app_client, "manager.a")).json()
    assert [e["reason"] for e in esc] == ["side_effects"]


def test_a_stale_save_is_409_with_the_current_answer(app_client: TestClient):
    h = sign_in(app_client, "clerk.a")
    _, plan = enrolled(app_client, h)
    cp = plan["checkpoints"][0]
    body = {
        "version": cp["version"],
        "channel": "phone",
        "adherence": "as_directed",
        "notes": "已电话指导",
    }
    assert (
        app_client.post(f"/api/v1/checkpoints/{cp['id']}/result", json=body, headers=h).status_code
        == 201
    )
    r = app_client.post(
        f"/api/v1/checkpoints/{cp['id']}/result", json=body | {"notes": "覆盖"}, headers=h
    )
    assert r.status_code == 409
    assert r.json()["error"]["field"] == "version"
    assert r.json()["error"]["current"]["result"]["notes"] == "已电话指导"


def test_store_a_records_are_404_for_the_clerk_of_store_b(app_client: TestClient):
    member, plan = enrolled(app_client, sign_in(app_client, "clerk.a"))
    cp = plan["checkpoints"][0]
    hb = sign_in(app_client, "clerk.b")
    for url in (
        f"/api/v1/members/{member['id']}",
        f"/api/v1/members/{member['id']}/plans",
        f"/api/v1/members/{member['id']}/health-checks",
        f"/api/v1/plans/{plan['id']}",
        f"/api/v1/checkpoints/{cp['id']}",
    ):
        assert app_client.get(url, headers=hb).status_code == 404, url
    r = app_client.post(
        f"/api/v1/checkpoints/{cp['id']}/result",
        headers=hb,
        json={"version": cp["version"], "channel": "phone", "adherence": "as_directed"},
    )
    assert r.status_code == 404
    assert app_client.get("/api/v1/members", headers=hb).json() == []
    hs = sign_in(app_client, "super")
    assert app_client.get(f"/api/v1/plans/{plan['id']}", headers=hs).status_code == 200


BAD_INPUTS = [
    ("/api/v1/members", {"card_number": "M1", "name": "王"}, "card_number"),
    ("/api/v1/members", {"card_number": "M20001", "name": "王", "mobile": "1234"}, "mobile"),
    (
        "/api/v1/members",
        {"card_number": "M20001", "name": "王", "drug_allergies": ["青霉素"]},
        "health_consent",
    ),
    (
        "/api/v1/members",
        {"card_number": "M20001", "name": "王", "birthday": "2090-01-01"},
        "birthday",
    ),
    ("/api/v1/members", {"card_number": "M20001", "name": "王", "shoe_size": 42}, "shoe_size"),
    (
        "/api/v1/plans",
        {"member_id": 0, "protocol_id": "osteoporosis", "start_date": "2024-13-01"},
        "start_date",
    ),
]


@pytest.mark.parametrize(("url", "body", "field"), BAD_INPUTS)
def test_bad_input_names_the_field_and_writes_nothing(
    app_client: TestClient, world: World, url: str, body: dict, field: str
):
    h = sign_in(app_client, "clerk.a")
    before = count(world, Member), count(world, CarePlan)
    r = app_client.post(url, json=body, headers=h)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == field
    assert field in r.json()["error"]["message"]
    assert (count(world, Member), count(world, CarePlan)) == before


def test_bad_step_results_are_refused_and_nothing_is_written(app_client: TestClient, world: World):
    h = sign_in(app_client, "clerk.a")
    member, plan = enrolled(app_client, h)
    cp = plan["checkpoints"][0]
    url = f"/api/v1/checkpoints/{cp['id']}/result"
    base = {"version": cp["version"], "channel": "phone", "adherence": "as_directed"}
    cases = [
        (base | {"channel": "message"}, "channel"),
        (base | {"adherence": "stopped"}, "stop_reason"),
        (base | {"checklist": {"not_a_step_item": True}}, "checklist.not_a_step_item"),
        (
            base
            | {
                "measurements": [
                    {"kind": "blood_pressure", "values": {"systolic": 1300, "diastolic": 80}}
                ]
            },
            "systolic",
        ),
        (base | {"contacted_on": "2024-03-20"}, "contacted_on"),
    ]
    for body, field in cases:
        r = app_client.post(url, json=body, headers=h)
        assert r.status_code == 422, (body, r.text)
        assert field in r.json()["error"]["message"], r.text
    assert count(world, CheckpointResult) == 0 and count(world, HealthCheck) == 0
    r = app_client.post(
        f"/api/v1/members/{member['id']}/purchases",
        headers=h,
        json={
            "product_code": "P1",
            "product_name": "阿仑膦酸钠片",
            "quantity": 1,
            "purchased_on": "2024-04-01",
            "amount": "58.00",
        },
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "purchased_on"
    assert count(world, Purchase) == 0


def test_enrolling_twice_is_a_409(app_client: TestClient):
    h = sign_in(app_client, "clerk.a")
    member, _ = enrolled(app_client, h)
    r = app_client.post(
        "/api/v1/plans",
        json={"member_id": member["id"], "protocol_id": "osteoporosis", "start_date": "2024-03-05"},
        headers=h,
    )
    assert r.status_code == 409 and r.json()["error"]["field"] == "protocol_id"


def test_the_preview_shows_dates_and_saves_nothing(app_client: TestClient, world: World):
    h = sign_in(app_client, "clerk.a")
    r = app_client.post(
        "/api/v1/plans/preview",
        headers=h,
        json={"protocol_id": "hypertension", "start_date": "2024-01-31"},
    )
    assert r.status_code == 200
    assert [s["due_on"] for s in r.json()["steps"]][:4] == [
        "2024-02-03",
        "2024-02-13",
        "2024-02-27",  # the refill reminder, at week 4 until the member buys the tablets
        "2024-02-29",
    ]
    assert count(world, CarePlan) == 0


def test_the_openapi_document_lists_the_routes(app_client: TestClient):
    paths = app_client.get("/api/v1/openapi.json").json()["paths"]
    for p in (
        "/api/v1/members",
        "/api/v1/plans",
        "/api/v1/checkpoints",
        "/api/v1/checkpoints/{checkpoint_id}/result",
        "/api/v1/plans/migration/preview",
    ):
        assert p in paths
