"""A store manager in a real browser: two members registered past a one-seat lecture,
the seated one cancels (the waitlisted one is promoted), and checks them in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from careplan import clock
from careplan.access import Actor
from careplan.lectures import lectures
from careplan.members.archive import MemberCreate, create_member
from careplan.models import LectureSeat, Staff, Store
from careplan.vocab import Role, SeatStatus
from tests.browser.live import LiveServer
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser


def test_register_past_capacity_cancel_promotes_then_check_in(
    browser: Browser, live_server: LiveServer
) -> None:
    now = clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="L001", name="讲座测试店", region="华东", address="讲座路", phone="1")
        s.add(shop)
        s.flush()
        boss = Staff(
            username="lecture.manager", name="周店长", role=Role.store_manager,
            store_id=shop.id, password_hash=HASHED,
        )  # fmt: skip
        s.add(boss)
        s.flush()
        actor = Actor.of(boss, via="test")
        s.info["actor"] = actor
        for i, name in enumerate(("孙一", "李二")):
            create_member(s, actor, MemberCreate(card_number=f"L{100 + i}", name=name), now=now)
        # Under way now, so check-in is open; registration stays open until it ends.
        lecture = lectures.create_lecture(
            s, actor, lectures.parse_lecture({
                "title_zh": "防跌倒讲座", "title_en": "Fall prevention", "topic": "fall_prevention",
                "store_id": shop.id, "starts_at": now + timedelta(minutes=1),
                "ends_at": now + timedelta(hours=2), "capacity": 1,
                "register_by": now + timedelta(minutes=1),
            }), now=now,
        )  # fmt: skip
        s.commit()
        lecture_id = lecture.id

    base = live_server.url
    page = browser.new_context(locale="zh-CN").new_page()
    page.goto(base + "/sign-in")
    page.get_by_label("用户名").fill("lecture.manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="健康讲座").click()
    page.get_by_role("link", name="防跌倒讲座").click()

    for name, told in (("孙一", "已报名"), ("李二", "候补，排第 1 位")):
        page.get_by_label("姓名、电话、卡号或拼音首字母").fill(name)
        page.get_by_role("button", name="搜索").click()
        page.get_by_role("button", name=f"报名：{name}", exact=True).click()
        expect(page.get_by_role("status")).to_contain_text(told)
    expect(page.locator("#seat-count")).to_have_text("1 / 1")
    expect(page.locator("#waitlist-count")).to_have_text("1")
    roster = page.locator("#roster")
    expect(roster.locator("tr", has_text="李二")).to_contain_text("候补")

    page.get_by_role("button", name="取消报名：孙一", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("候补第一位")
    expect(roster.locator("tr", has_text="李二")).to_contain_text("由候补转正")
    expect(page.locator("#waitlist-count")).to_have_text("0")

    page.get_by_role("button", name="签到：李二", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("已签到")
    expect(roster.locator("tr", has_text="李二").locator("button", has_text="签到")).to_have_count(
        0
    )

    with live_server.session_factory() as s:
        seats = {
            seat.member.name: seat
            for seat in s.scalars(select(LectureSeat).where(LectureSeat.lecture_id == lecture_id))
        }
        assert seats["孙一"].status is SeatStatus.cancelled
        assert seats["李二"].status is SeatStatus.registered
        assert seats["李二"].promoted_at is not None and seats["李二"].checked_in_at is not None
