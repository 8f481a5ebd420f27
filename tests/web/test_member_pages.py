"""The member archive's pages through the ASGI app, on both databases: registering,
duplicates, the search, confirming, editing without consent, the member page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import Member
from tests.factories import (
    HX,
    TravelClock,
    World,
    count,
    due_step,
    make_member,
    result_form,
    sign_in_page,
)


def archive_form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "孙玉梅",
        "card_number": "C20001",
        "mobile": "138 0013 8000",
        "health_consent": "on",
        "drug_allergies": "青霉素，磺胺",
    } | fields


def test_registering_a_member_validates_and_writes_nothing_on_error(
    client: TestClient, world: World
):
    token = sign_in_page(client, "clerk.a")
    before = count(world, Member)
    r = client.post("/members", data=archive_form(token, mobile="1234"))
    assert r.status_code == 422
    assert "手机号" in r.text and "不是有效的手机号" in r.text
    # The refused box is outlined, tied to the message and focused; the others are not.
    mobile = re.search(r'<input id="f-mobile"[^>]*>', r.text)
    assert mobile and 'aria-invalid="true"' in mobile[0] and "form-error" in mobile[0]
    assert "autofocus" in mobile[0] and r.text.count('aria-invalid="true"') == 1
    # A list's line that is too long is named by its place in the list.
    r = client.post("/members", data=archive_form(token, drug_allergies="青霉素\n" + "磺" * 81))
    assert r.status_code == 422 and "过敏史（第 2 项）：最多 80 个字符" in r.text
    r = client.post("/members", data=archive_form(token, health_consent=""))
    assert r.status_code == 422 and "授权" in r.text
    assert count(world, Member) == before
    r = client.post("/members", data=archive_form(token))
    assert r.status_code == 303
    member = world.session.scalar(select(Member).where(Member.card_number == "C20001"))
    assert member is not None
    assert member.mobile == "13800138000"
    assert member.drug_allergies == ["青霉素", "磺胺"]
    assert member.owner_id == world.clerk_a.id
    page = client.get(r.headers["location"]).text
    assert "allergy-box" in page and "青霉素、磺胺" in page


def test_duplicates_by_phone_are_flagged(client: TestClient, world: World):
    first = make_member(world, name="王秀英", mobile="13900139000")
    second = make_member(world, name="王秀英", mobile="13900139000")
    world.session.commit()
    sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{second.id}").text
    assert "该手机号已登记给" in page and f"/members/{first.id}" in page
    check = client.get("/members/mobile-check?mobile=139-0013-9000", headers=HX).text
    assert "是否为同一人" in check


def test_search_finds_members_by_pinyin_initials_phone_and_card(client: TestClient, world: World):
    member = make_member(world, name="单田芳", mobile="13700137000")
    world.session.commit()
    sign_in_page(client, "clerk.a")
    for q in ("stf", "dtf", "单田", "0137000", member.card_number):
        assert f"/members/{member.id}" in client.get(f"/members?q={q}").text, q
    assert f"/members/{member.id}" not in client.get("/members?q=wxy").text


def test_confirmed_today_is_one_click(client: TestClient, world: World, clock: TravelClock):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    assert "今日已核实" in client.get(f"/members/{member.id}").text  # the button
    r = client.post(f"/members/{member.id}/verified", headers=HX | {"X-CSRF-Token": token})
    assert "✓" in r.text
    world.session.refresh(member)
    assert member.last_verified_on == clock.today


def test_editing_without_consent_cannot_add_health_data(client: TestClient, world: World):
    member = make_member(world, consent=False)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    edit = client.get(f"/members/{member.id}/edit").text
    assert re.search(r'<textarea [^>]*name="drug_allergies"[^>]*disabled', edit)
    r = client.post(
        f"/members/{member.id}",
        data={"csrf_token": token, "name": "王秀英", "drug_allergies": "青霉素"},
    )
    assert r.status_code == 303  # the disabled part is ignored, the rest saved
    world.session.refresh(member)
    assert member.drug_allergies == []
    r = client.post(f"/members/{member.id}", data={"csrf_token": token, "name": ""})
    assert r.status_code == 422 and "姓名" in r.text


def test_the_member_page_shows_plans_checks_and_ownership(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock, name="刘淑珍")
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp, **{"m.bone_density.t_score": "-2.8"})
    client.post(f"/checkpoints/{cp.id}/result", data=data)
    page = client.get(f"/members/{cp.plan.member_id}").text
    assert "骨质疏松" in page
    assert '<svg class="chart"' in page and "骨密度" in page
    assert "负责人变更记录" in page and "登记该会员" in page
    assert "档案完整度" in page
    # No space after a Chinese colon: "负责人：张丽", "过敏史：未记录" (issue 21).
    assert '负责人：<span translate="no">' in page
    assert '过敏史：</strong><span translate="no">青霉素' in page
    assert not re.search(r"[：。]\s+<(span|strong)", page)
