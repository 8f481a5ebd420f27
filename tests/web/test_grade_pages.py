"""The relationship grade on the member page (why, history, setting and clearing it),
the referral on the archive form, the search's grade filter, the points balance, and
the grade in the API's member JSON; on both databases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient

from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.models import Member
from tests.factories import NOW, World, api_sign_in, make_member, sign_in_page


def bought_twice(world: World, member: Member) -> None:
    actor = world.actor(world.clerk_a)
    for day in (date(2024, 1, 10), date(2024, 3, 1)):
        data = PurchaseIn(product_code="A70", product_name="阿仑膦酸钠片", quantity=1,
                          purchased_on=day, amount=Decimal("58.00"))  # fmt: skip
        record_purchase(world.session, actor, member.id, data, today=NOW.date(), now=NOW)


def test_the_member_page_says_the_grade_and_why_and_staff_set_it(client: TestClient, world: World):
    member = make_member(world)
    bought_twice(world, member)
    member.points_balance, member.points_as_of = 1240, date(2024, 3, 1)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}").text
    assert "关系等级" in page and "20（E类）" in page
    assert "两次以上购买（首次 2024年1月10日，再次 2024年3月1日）" in page
    assert "积分余额 1,240（截至 2024年3月1日，来自收银系统）" in page
    r = client.post(f"/members/{member.id}/grade", data={"csrf_token": token, "grade": "100"})
    assert r.status_code == 422 and "原因" in r.text
    r = client.post(f"/members/{member.id}/grade",
                    data={"csrf_token": token, "grade": "100", "reason": "员工家属"})  # fmt: skip
    assert r.status_code == 303
    page = client.get(f"/members/{member.id}").text
    assert "100（A类）" in page and "员工家属" in page and "等级变动记录（2）" in page
    r = client.post(f"/members/{member.id}/grade",
                    data={"csrf_token": token, "action": "clear", "reason": "搬走了"})  # fmt: skip
    assert r.status_code == 303
    world.session.refresh(member)
    assert member.relationship_grade == 20 and member.grade_set is None


def test_a_colleague_sees_no_grade_form_and_cannot_post_one(client: TestClient, world: World):
    member = make_member(world)  # owned by clerk.a
    world.session.commit()
    token = sign_in_page(client, "clerk.a2")
    page = client.get(f"/members/{member.id}").text
    assert "关系等级" in page and f'action="/members/{member.id}/grade"' not in page
    r = client.post(f"/members/{member.id}/grade",
                    data={"csrf_token": token, "grade": "80", "reason": "成交"})  # fmt: skip
    assert r.status_code in (403, 422)
    world.session.refresh(member)
    assert member.relationship_grade == 0


def test_the_referral_on_the_form_and_the_referrers_page(client: TestClient, world: World):
    referrer, member = make_member(world, name="李华"), make_member(world, name="张三")
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    form = {"csrf_token": token, "name": "张三", "referred_by_card": member.card_number}
    r = client.post(f"/members/{member.id}", data=form)
    assert r.status_code == 422 and "不能推荐自己" in r.text
    r = client.post(f"/members/{member.id}", data=form | {"referred_by_card": "NOPE-9"})
    assert r.status_code == 422 and "没有会员使用此卡号" in r.text
    r = client.post(f"/members/{member.id}", data=form | {"referred_by_card": referrer.card_number})
    assert r.status_code == 303
    page = client.get(f"/members/{referrer.id}").text
    assert "推荐 1 位会员" in page and f"/members/{member.id}" in page and "60（C类）" in page
    edit = client.get(f"/members/{member.id}/edit").text
    assert f'value="{referrer.card_number}"' in edit


def test_search_by_grade_and_the_api_says_the_grade(client: TestClient, world: World):
    twice, once = make_member(world, name="王一"), make_member(world, name="王二")
    bought_twice(world, twice)
    world.session.commit()
    sign_in_page(client, "clerk.a")
    page = client.get("/members", params={"grade": ["20", "40"]}).text
    assert f"/members/{twice.id}" in page and f"/members/{once.id}" not in page
    headers = api_sign_in(client, "clerk.a")
    found = client.get("/api/v1/members", params={"grade": [0]}, headers=headers).json()
    assert [m["id"] for m in found] == [once.id]
    one = client.get(f"/api/v1/members/{twice.id}", headers=headers).json()
    assert one["relationship_grade"] == 20 and one["points_balance"] is None
    r = client.put(f"/api/v1/members/{once.id}/grade", json={"grade": 80, "reason": "成交"},
                   headers=headers)  # fmt: skip
    assert r.status_code == 200 and r.json()["relationship_grade"] == 80
