"""A clerk's calls end as they do in life (issue 24), in zh: 王秀英 agrees to come on
Friday, 陈建国's family says he died; the overdue list (riskiest first), the plan page,
the member page and the member's messages change as a person would expect. Screenshots
at 1280 and 768 px go to CAREPLAN_SHOTS (when set), to be looked at."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from careplan import clock
from careplan.access import Actor
from careplan.config import get_settings
from careplan.members.archive import MemberCreate, create_member
from careplan.members.health_records import HealthCheckIn, record_health_check
from careplan.models import CarePlan, Staff, Store
from careplan.outreach import build, consent, wiring
from careplan.plans import lifecycle
from careplan.vocab import MessageChannel, Role
from tests.browser.live import LiveServer, signed_in_page
from tests.factories import HASHED

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("CAREPLAN_SHOTS")


@pytest.fixture(scope="module")
def calls_store(live_server: LiveServer) -> dict[str, int]:
    """Three members overdue on osteoporosis week 1; 赵红's last blood pressure is high;
    陈建国 has a hypertension plan as well."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="CO01", name="通话结果店", region="华东", address="测试路", phone="1")
        s.add(shop)
        s.flush()
        clerk = Staff(username="calls.clerk", name="吴小燕", role=Role.clerk,
                      store_id=shop.id, password_hash=HASHED)  # fmt: skip
        s.add(clerk)
        s.flush()
        actor = Actor.of(clerk, via="test")
        s.info["actor"] = actor
        ids = {}
        for i, name in enumerate(("王秀英", "陈建国", "赵红")):
            member = create_member(
                s, actor,
                MemberCreate(card_number=f"CO{100 + i}", name=name, mobile=f"1390014{7000 + i}",
                             health_consent=True),
                now=now,
            )  # fmt: skip
            ids[name] = member.id
            start = today - timedelta(days=12 - i)
            plan = lifecycle.enroll(s, actor, member_id=member.id, protocol_id="osteoporosis",
                                    start=start, today=today, now=now)  # fmt: skip
            ids[f"plan {name}"] = plan.id
        lifecycle.enroll(s, actor, member_id=ids["陈建国"], protocol_id="hypertension",
                         start=today - timedelta(days=3), today=today, now=now)  # fmt: skip
        high = HealthCheckIn(kind="blood_pressure", values={"systolic": 184, "diastolic": 102},
                             measured_at=now - timedelta(days=2))  # fmt: skip
        record_health_check(s, actor, ids["赵红"], high, now=now)
        for name in ("王秀英", "陈建国"):  # they agreed to SMS; their welcome waits to leave
            consent.grant(s, actor, ids[name], MessageChannel.sms, now=now)
        build.build_day(s, wiring.context(get_settings(), now=now), [build._welcomes])
        s.commit()
    return ids


def shoot(page: Page, name: str) -> None:
    if not SHOTS:
        return
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    for width in (1280, 768):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def next_friday(today: datetime) -> str:
    days = (4 - today.weekday()) % 7 or 7
    return (today + timedelta(days=days)).isoformat()


def test_agreed_to_come_on_friday_and_a_death(
    browser: Browser, live_server: LiveServer, calls_store: dict[str, int]
):
    base = live_server.url
    page = signed_in_page(browser, base, "calls.clerk")
    page.goto(f"{base}/?tab=overdue")
    rows = page.locator(".work-item")
    expect(rows).to_have_count(3)
    expect(page.locator("#count-overdue")).to_have_text("3")
    # 赵红 is the least overdue, and first: her blood pressure.
    expect(rows.first).to_contain_text("赵红")
    expect(rows.first.locator(".chip-risk")).to_have_text("血压 ≥180/110")
    expect(rows.nth(1).locator(".chip-risk")).to_have_count(0)
    shoot(page, "overdue-risk-first")

    # 王秀英 agrees to come on Friday.
    friday = next_friday(clock.today())  # type: ignore[arg-type]
    wang = rows.filter(has_text="王秀英")
    wang_id = wang.get_attribute("id")
    wang.get_by_role("link", name="处理此步骤").click()
    attempt = page.locator(f"#{wang_id} form.attempt-form")
    expect(attempt).to_be_visible()
    attempt.get_by_label("同意某天到店", exact=True).check()
    attempt.get_by_label("约定日期").fill(friday)
    shoot(page, "step-form-outcomes")
    attempt.get_by_role("button", name="保存通话结果").click()
    notice = page.locator(f"#{wang_id} .saved-notice")
    expect(notice).to_contain_text("同意某天到店")
    expect(notice).to_contain_text("不出现在逾期列表")

    # 陈建国's family says he died.
    chen = page.locator(".work-item").filter(has_text="陈建国")
    chen_id = chen.get_attribute("id")
    chen.get_by_role("link", name="处理此步骤").click()
    attempt = page.locator(f"#{chen_id} form.attempt-form")
    attempt.get_by_label("移出随访", exact=True).check()
    attempt.get_by_label("移出原因").select_option("died")
    attempt.get_by_label("备注").fill("家属来电告知")
    attempt.get_by_role("button", name="保存通话结果").click()
    expect(page.locator(f"#{chen_id} .saved-notice")).to_contain_text("所有计划均已停止")

    # The overdue list now holds 赵红 alone.
    page.goto(f"{base}/?tab=overdue")
    expect(page.locator(".work-item")).to_have_count(1)
    expect(page.locator("#count-overdue")).to_have_text("1")
    shoot(page, "overdue-after")

    # 王秀英's plan says she is expected on Friday.
    page.goto(f"{base}/plans/{calls_store['plan 王秀英']}")
    step = page.locator(".timeline li").first
    expect(step.locator(".badge")).to_have_text("已约到店")
    expect(step).to_contain_text("到店")
    expect(step.get_by_role("link", name="处理此步骤")).to_be_visible()
    shoot(page, "plan-agreed")

    # 陈建国's page: the death, every plan stopped for it, no enrolment offered.
    page.goto(f"{base}/members/{calls_store['陈建国']}")
    expect(page.locator(".member-died")).to_contain_text("去世")
    expect(page.locator(".member-died")).to_contain_text("吴小燕")
    expect(page.get_by_role("link", name="加入慢病方案")).to_have_count(0)
    badges = page.locator(".plan h3 .badge")
    expect(badges).to_have_count(2)
    for i in range(2):
        expect(badges.nth(i)).to_have_text("已停止")
    expect(page.locator(".plan-stop-reason").first).to_contain_text("已去世")
    expect(page.locator("#h-log + ul")).to_contain_text("移出随访（已去世）")
    # The outbox: his welcome, still waiting, is cancelled; nothing more is built for him.
    sent = page.locator("section[aria-labelledby=h-messages] tbody").last
    expect(sent).to_contain_text("入会感谢")
    expect(sent).to_contain_text("已取消（会员已故或档案已删除）")
    shoot(page, "member-died")
    page.goto(f"{base}/members/{calls_store['王秀英']}")
    expect(page.locator("section[aria-labelledby=h-messages] tbody").last).to_contain_text("待发送")
    with live_server.session_factory() as s:
        plans = s.query(CarePlan).filter(CarePlan.member_id == calls_store["陈建国"]).all()
        assert {p.status.value for p in plans} == {"stopped"}
    page.context.close()
