"""The enrolment page through the ASGI app, on both databases: the dates before
confirming."""

from __future__ import annotations

from fastapi.testclient import TestClient

from careplan.models import CarePlan
from tests.factories import (
    HX,
    TravelClock,
    World,
    count,
    make_member,
    sign_in_page,
)


def test_enrolling_shows_the_dates_before_confirming(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    form = {"csrf_token": token, "protocol_id": "osteoporosis", "start": "2024-03-06"}
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "preview"}, headers=HX)
    assert r.status_code == 200
    assert r.text.count("<tr>") == 7  # header + weeks 1/2/3/4/6/8
    assert count(world, CarePlan) == 0
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "confirm"})
    assert r.status_code == 303
    assert count(world, CarePlan) == 1
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "confirm"})
    assert r.status_code == 422 and count(world, CarePlan) == 1
