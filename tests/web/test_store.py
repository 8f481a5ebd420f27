"""The store manager's staff page: each person's load, hand-overs and holiday cover."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from careplan.models import Member, Staff
from careplan.plans.checkpoints import CheckpointFilter, count_checkpoints
from careplan.vocab import CheckpointStatus
from tests.factories import (
    TravelClock,
    World,
    api_sign_in,
    enrolled_steps,
    make_member,
    sign_in_page,
)


def staff_row(page: str, name: str) -> list[str]:
    """The cells of one person's row of the staff table, as text."""
    row = next(r for r in page.split("<tr>") if f">{name}</a>" in r)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in row.split("</td>")[:-1]]


def test_the_staff_page_shows_each_persons_open_and_overdue_steps(
    client: TestClient, world: World, clock: TravelClock
):
    world.clerk_a.name, world.clerk_a2.name = "李娜", "王芳"
    behind = make_member(world, owner=world.clerk_a)
    enrolled_steps(world, behind, start=date(2024, 2, 1), assignee=world.clerk_a)
    world.session.commit()
    actor = world.actor(world.manager_a)

    def count(status: CheckpointStatus) -> int:
        f = CheckpointFilter(status=status, staff_id=world.clerk_a.id)
        return count_checkpoints(world.session, actor, f, today=clock.today)

    overdue, due = count(CheckpointStatus.overdue), count(CheckpointStatus.due)
    assert overdue > 0
    sign_in_page(client, "manager.a")
    page = client.get("/store/staff").text
    assert "待办步骤" in page and "已逾期" in page
    # name, role, members, open steps, overdue, status
    assert staff_row(page, "李娜")[2:5] == ["1", str(due + overdue), str(overdue)]
    assert staff_row(page, "王芳")[2:5] == ["0", "0", "0"]
    assert f'href="/?staff={world.clerk_a.id}&amp;tab=overdue"' in page


def test_a_holiday_cover_is_given_shown_and_ended_on_the_staff_page(
    client: TestClient, world: World, clock: TravelClock
):
    world.clerk_a.name, world.clerk_a2.name = "李娜", "王芳"
    member = make_member(world, owner=world.clerk_a)
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    form = {"csrf_token": token, "store": world.store_a.id, "mode": "all",
            "from_staff_id": world.clerk_a.id, "to_staff_id": world.clerk_a2.id,
            "until": "2024-03-15"}  # fmt: skip
    assert client.post("/store/reassign", data=form).status_code == 303
    page = client.get("/store/staff").text
    start = page.index("进行中的休假代管")
    covers = page[start : page.index("</table>", start)]
    assert "李娜" in covers and "王芳" in covers and "2024年3月15日" in covers
    assert "休假代管 · 至 2024年3月15日" in page  # the hand-over history
    world.session.expire_all()
    assert world.session.get_one(Member, member.id).owner_id == world.clerk_a2.id
    r = client.post(f"/store/covers/{world.clerk_a.id}/end",
                    data={"csrf_token": token, "store": world.store_a.id})  # fmt: skip
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "已有 1 位会员交回原负责人。" in page and "进行中的休假代管" not in page
    assert "休假代管结束，交回" in page
    world.session.expire_all()
    assert world.session.get_one(Member, member.id).owner_id == world.clerk_a.id


def test_a_cover_whose_last_day_has_passed_is_refused_naming_the_box(
    client: TestClient, world: World
):
    make_member(world, owner=world.clerk_a)
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    form = {"csrf_token": token, "store": world.store_a.id, "mode": "all",
            "from_staff_id": world.clerk_a.id, "to_staff_id": world.clerk_a2.id,
            "until": "2024-03-01"}  # fmt: skip
    r = client.post("/store/reassign", data=form)
    assert r.status_code == 422 and "代管的最后一天不能早于今天。" in r.text


def test_the_api_gives_a_holiday_cover_with_a_last_day(client: TestClient, world: World):
    member = make_member(world, owner=world.clerk_a)
    world.session.commit()
    headers = api_sign_in(client, "manager.a")
    r = client.post(f"/api/v1/staff/{world.clerk_a.id}/hand-over", headers=headers,
                    json={"to_staff_id": world.clerk_a2.id, "until": "2024-03-20"})  # fmt: skip
    assert r.status_code == 200 and r.json() == {"members_moved": 1}
    r = client.get(f"/api/v1/members/{member.id}/ownership", headers=headers)
    latest = r.json()[-1]
    assert (latest["reason"], latest["cover_until"], latest["returns_to_id"]) == (
        "cover", "2024-03-20", world.clerk_a.id
    )  # fmt: skip
    world.session.expire_all()
    assert world.session.get_one(Staff, world.clerk_a.id).active  # a cover closes no account
