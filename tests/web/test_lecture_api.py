"""The lectures' JSON API and registering from the member's page, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.models import Lecture, LectureSeat, Member
from tests.factories import TravelClock, World, api_sign_in, make_member, sign_in_page

LECTURE = {
    "title_zh": "防跌倒健康讲座",
    "title_en": "Fall prevention talk",
    "topic": "fall_prevention",
    "conditions": ["osteoporosis"],
    "protocols": ["osteoporosis"],
    "speaker": "李药师",
    "venue": "二楼会议室",
    "capacity": 1,
    "starts_at": "2024-03-20T14:00:00+08:00",
    "ends_at": "2024-03-20T15:30:00+08:00",
    "register_by": "2024-03-19T18:00:00+08:00",
}


def count(world: World, model: type) -> int:
    world.session.expire_all()
    return world.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_lecture_time_without_its_zone_is_refused_naming_the_field(
    client: TestClient, world: World
) -> None:
    headers = api_sign_in(client, "manager.a")
    body = LECTURE | {"store_id": world.store_a.id, "starts_at": "2024-03-20T14:00:00"}
    r = client.post("/api/v1/lectures", json=body, headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "starts_at"
    assert count(world, Lecture) == 0


def test_register_past_capacity_cancel_promotes_and_history_and_attendance(
    client: TestClient, world: World, clock: TravelClock
) -> None:
    first, second = make_member(world, name="赵一"), make_member(world, name="钱二")
    world.session.commit()
    headers = api_sign_in(client, "manager.a")
    r = client.post(
        "/api/v1/lectures", json=LECTURE | {"store_id": world.store_a.id}, headers=headers
    )
    assert r.status_code == 201, r.text
    lecture = r.json()
    url = f"/api/v1/lectures/{lecture['id']}"

    seats = [
        client.post(f"{url}/seats", json={"member_id": m.id}, headers=headers).json()
        for m in (first, second)
    ]
    assert [s["status"] for s in seats] == ["registered", "waitlisted"]
    again = client.post(f"{url}/seats", json={"member_id": first.id}, headers=headers)
    assert again.status_code == 409 and again.json()["error"]["field"] == "member_id"
    assert client.get(url, headers=headers).json()["seats"] == {
        "registered": 1, "waitlisted": 1, "checked_in": 0,
    }  # fmt: skip

    r = client.post(f"{url}/seats/{seats[0]['id']}/cancel", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["promoted"]["member_name"] == "钱二"
    assert r.json()["promoted"]["promoted_at"] is not None

    history = client.get(f"/api/v1/members/{second.id}/lectures", headers=headers).json()
    assert [(h["lecture"]["title_zh"], h["seat"]["status"]) for h in history] == [
        ("防跌倒健康讲座", "registered")
    ]

    clock.advance(days=14, hours=5)  # 2024-03-20 15:00 in Shanghai: the lecture is on
    headers = api_sign_in(client, "manager.a")  # the morning's token has long expired
    r = client.post(f"{url}/seats/{seats[1]['id']}/check-in", headers=headers)
    assert r.status_code == 200 and r.json()["checked_in_at"] is not None
    clock.advance(hours=2)
    figures = client.get("/api/v1/lectures/attendance", headers=headers).json()
    assert figures["per_lecture"][str(lecture["id"])] == {
        "registered": 1, "attended": 1, "no_shows": 0,
        "attendance_rate": 1.0, "no_show_rate": 0.0,
    }  # fmt: skip


def test_another_stores_clerk_can_neither_see_nor_register(
    client: TestClient, world: World
) -> None:
    member_b = make_member(world, owner=world.clerk_b)
    world.session.commit()
    manager = api_sign_in(client, "manager.a")
    lecture = client.post(
        "/api/v1/lectures", json=LECTURE | {"store_id": world.store_a.id}, headers=manager
    ).json()
    r = client.post(
        f"/api/v1/lectures/{lecture['id']}/seats", json={"member_id": member_b.id}, headers=manager
    )
    assert r.status_code == 404 and r.json()["error"]["field"] == "member_id"
    clerk_b = api_sign_in(client, "clerk.b")
    assert client.get(f"/api/v1/lectures/{lecture['id']}", headers=clerk_b).status_code == 404
    assert count(world, LectureSeat) == 0


def test_cancelling_lists_everyone_to_tell(client: TestClient, world: World) -> None:
    members = [make_member(world, name=n) for n in ("赵一", "钱二")]
    world.session.commit()
    headers = api_sign_in(client, "manager.a")
    lecture = client.post(
        "/api/v1/lectures", json=LECTURE | {"store_id": world.store_a.id}, headers=headers
    ).json()
    url = f"/api/v1/lectures/{lecture['id']}"
    for m in members:
        client.post(f"{url}/seats", json={"member_id": m.id}, headers=headers)
    r = client.post(f"{url}/cancel", json={"reason": ""}, headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "reason"
    r = client.post(f"{url}/cancel", json={"reason": "讲师生病"}, headers=headers)
    assert r.status_code == 200
    assert r.json()["lecture"]["status"] == "cancelled"
    assert sorted(s["member_name"] for s in r.json()["released"]) == ["赵一", "钱二"]
    assert {s["status"] for s in r.json()["released"]} == {"released"}


def member_and_lecture(client: TestClient, world: World) -> tuple[Member, dict]:  # type: ignore[type-arg]
    """A member of store A, and a lecture there scheduled by its manager over the API."""
    member = make_member(world, name="孙三")
    world.session.commit()
    headers = api_sign_in(client, "manager.a")
    lecture = client.post(
        "/api/v1/lectures", json=LECTURE | {"store_id": world.store_a.id}, headers=headers
    ).json()
    return member, lecture


def test_registering_from_the_member_page_shows_in_their_history(
    client: TestClient, world: World
) -> None:
    member, lecture = member_and_lecture(client, world)
    token = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}")
    assert "尚未报名任何讲座" in page.text and "防跌倒健康讲座" in page.text  # offered
    r = client.post(
        f"/members/{member.id}/lectures", data={"csrf_token": token, "lecture_id": lecture["id"]}
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/members/{member.id}?lecture=registered#h-lectures"
    page = client.get(r.headers["location"])
    assert "已报名讲座" in page.text and "尚未举行" in page.text
    assert count(world, LectureSeat) == 1


def test_registering_after_the_deadline_is_refused_on_the_member_page(
    client: TestClient, world: World, clock: TravelClock
) -> None:
    member, lecture = member_and_lecture(client, world)
    clock.advance(days=14)  # 2024-03-20 10:00: registration closed last evening
    token = sign_in_page(client, "clerk.a")
    r = client.post(
        f"/members/{member.id}/lectures", data={"csrf_token": token, "lecture_id": lecture["id"]}
    )
    assert r.status_code == 422
    assert "报名已截止" in r.text and "孙三" in r.text  # the member's page, with why
    assert count(world, LectureSeat) == 0
