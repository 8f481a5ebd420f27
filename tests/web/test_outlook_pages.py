"""The outlook on the member page, and the three-contacts-a-year list for managers."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from fastapi.testclient import TestClient

from careplan.value import outlook
from careplan.vocab import Outlook
from tests.factories import TravelClock, World, make_member, sign_in_page
from tests.value.test_snapshot import buy


def test_the_member_page_shows_the_default_and_sets_the_outlook(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world, name="周淑珍")
    for days in (0, 45, 90):
        buy(world, member.id, clock.today - timedelta(days=days), "50")
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}").text
    part = page[page.index('id="h-outlook"') :]
    assert "尚未设定" in part and "两个月内 · 约每 45 天购买一次" in part
    assert 'value="two_months" checked' in part  # the default, pre-selected
    url = f"/members/{member.id}/outlook"
    refused = client.post(url, data={"csrf_token": token, "outlook": "two_months"})
    assert refused.status_code == 422 and "请说明判断依据" in refused.text
    r = client.post(url, data={"csrf_token": token, "outlook": "two_months",
                               "outlook_reason": "按购买节奏"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].endswith("?outlook=1#h-outlook")
    page = client.get(r.headers["location"]).text
    part = page[page.index('id="h-outlook"') :]
    assert "预计续购已保存" in part and "按购买节奏" in part and "联系计划·预计两个月内续购" in part
    world.session.expire_all()
    assert world.session.get(type(member), member.id).outlook is Outlook.two_months


def test_only_the_owner_or_a_manager_is_offered_the_form(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a2")
    page = client.get(f"/members/{member.id}").text
    assert f'action="/members/{member.id}/outlook"' not in page
    data = {"csrf_token": token, "outlook": "beyond", "outlook_reason": "猜的"}
    r = client.post(f"/members/{member.id}/outlook", data=data)
    assert r.status_code == 422 and "只有会员的负责人或店长可以设定预计续购" in r.text
    assert not outlook.live_contact_plans(world.session, member.id)


def test_managers_see_who_was_called_fewer_than_three_times_and_export_it(
    client: TestClient, world: World, clock: TravelClock
):
    world.clerk_a.name = "李娜"
    make_member(world, name="吴秀梅", mobile="13900000002")
    make_member(world, owner=world.clerk_b, name="陈静")
    world.session.commit()
    sign_in_page(client, "manager.a")
    page = client.get("/audit/contact-floor").text
    row = page[page.index("吴秀梅") :]
    row = row[: row.index("</tr>")]
    assert "13900000002" in row and "李娜" in row and "从未" in row
    assert "陈静" not in page  # another store's member
    r = client.get("/audit/contact-floor.csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    head = rows[0]
    assert [x[head.index("会员")] for x in rows[1:]] == ["吴秀梅"]
    assert rows[1][head.index("近365天联系次数")] == "0"
    client.cookies.clear()
    sign_in_page(client, "clerk.a")
    assert client.get("/audit/contact-floor").status_code == 403
