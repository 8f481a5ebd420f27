"""A clerk's day in a real browser: sign in, enrol with the preview, work two steps (one
answered "stopped: side effects"), watch the counts and the escalation change; then the
same save with JavaScript off."""

from __future__ import annotations

import re
from datetime import date

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from careplan import clock
from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.models import CheckpointResult, Escalation, Staff, Store
from careplan.plans import lifecycle
from careplan.vocab import Role
from tests.browser.live import LiveServer
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def store(live_server: LiveServer) -> dict[str, int]:
    """One store, a clerk and a pharmacist; three members, two already in a plan whose
    first step is due today, one waiting to be enrolled."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="B001", name="浏览器测试店", region="华东", address="测试路", phone="1")
        s.add(shop)
        s.flush()
        staff = {}
        for username, role, name in (
            ("web.clerk", Role.clerk, "张丽"),
            ("web.pharmacist", Role.pharmacist, "李药师"),
        ):
            staff[username] = Staff(
                username=username, name=name, role=role, store_id=shop.id, password_hash=HASHED
            )
            s.add(staff[username])
        s.flush()
        actor = Actor.of(staff["web.clerk"], via="test")
        s.info["actor"] = actor
        ids = {}
        for i, name in enumerate(("王秀英", "陈建国", "刘玉梅")):
            member = create_member(
                s,
                actor,
                MemberCreate(
                    card_number=f"W{1000 + i}",
                    name=name,
                    mobile=f"1380013{8000 + i}",
                    drug_allergies=["青霉素"],
                    health_consent=True,
                ),
                now=now,
            )
            ids[name] = member.id
            if i < 2:
                lifecycle.enroll(
                    s, actor, member_id=member.id, protocol_id="osteoporosis",
                    start=today, today=today, now=now,
                )  # fmt: skip
        s.commit()
    return ids


def sign_in(page: Page, base: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(base + "/sign-in?next=/")
    page.get_by_label("用户名").fill("web.clerk")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="我的工作台")).to_be_visible()


def count(page: Page, tab: str) -> int:
    return int(page.locator(f"#count-{tab}").inner_text())


def test_a_clerk_enrols_works_two_steps_and_sees_counts_and_escalation_change(
    browser: Browser, live_server: LiveServer, store: dict[str, int]
):
    base = live_server.url
    context = browser.new_context(locale="zh-CN", viewport={"width": 1024, "height": 900})
    page = context.new_page()
    sign_in(page, base)
    assert count(page, "due") == 2
    escalations_before = count(page, "escalations")

    # Enrol 刘玉梅, looking at the dates first.
    page.goto(f"{base}/members/{store['刘玉梅']}")
    expect(page.locator(".allergy-box")).to_contain_text("青霉素")
    page.get_by_role("link", name="加入慢病方案").click()
    page.get_by_label("慢病方案").select_option("osteoporosis")
    page.get_by_label("开始日期").fill(date.today().isoformat())
    page.get_by_role("button", name="预览回访日期").click()
    preview = page.locator("#preview table")
    expect(preview.locator("tbody tr")).to_have_count(6)
    page.get_by_role("button", name="确认入组").click()
    expect(page.get_by_role("heading", name="慢病关怀", exact=False).first).to_be_visible()
    expect(page.locator(".plan .badge-active")).to_be_visible()

    page.goto(base + "/")
    assert count(page, "due") == 3

    # Step one: taking it as directed, with the checklist.
    first = page.locator(".work-item").first
    first_id = first.get_attribute("id")
    first.get_by_role("link", name="处理此步骤").click()
    form = page.locator(f"#{first_id} form.result-form")
    expect(form).to_be_visible()
    form.get_by_label("电话回访").check()
    form.get_by_label("按时服用").check()
    form.locator("input[type=checkbox]").first.check()
    form.get_by_role("button", name="保存回访结果").click()
    expect(page.locator(f"#{first_id}.saved")).to_contain_text("已保存")
    expect(page.locator("#count-due")).to_have_text("2")

    # Step two: stopped because of side effects — the escalation is raised on screen.
    second = page.locator(".work-item:not(.saved)").first
    second_id = second.get_attribute("id")
    second.get_by_role("link", name="处理此步骤").click()
    form = page.locator(f"#{second_id} form.result-form")
    form.get_by_label("电话回访").check()
    form.get_by_label("已停服").check()
    form.get_by_label("如停服，原因是").select_option("side_effects")
    form.locator("details.effect-record > summary").click()  # folded: this step asks none
    form.get_by_label("服用后（有何变化）").fill("胃部不适，自行停药")
    form.get_by_role("button", name="保存回访结果").click()
    expect(page.locator(f"#{second_id} .escalation-raised")).to_contain_text("已上报")
    expect(page.locator("#count-due")).to_have_text("1")
    expect(page.locator("#count-escalations")).to_have_text(str(escalations_before + 1))
    page.reload()
    assert count(page, "due") == 1
    page.get_by_role("link", name="上报事项").first.click()
    expect(page.locator("table.grid")).to_contain_text("副作用")
    context.close()

    with live_server.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(CheckpointResult)) == 2
        assert s.scalar(select(func.count()).select_from(Escalation)) == 1


def test_the_same_save_works_with_javascript_off(
    browser: Browser, live_server: LiveServer, store: dict[str, int]
):
    base = live_server.url
    context = browser.new_context(locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, base)
    before = count(page, "due")
    assert before >= 1
    page.locator(".work-item").first.get_by_role("link", name="处理此步骤").click()
    # A full page, no htmx, that knows which tab to go back to.
    expect(page).to_have_url(re.compile(r"/checkpoints/\d+\?tab=due$"))
    form = page.locator("form.result-form")
    form.get_by_label("上门拜访").check()
    form.get_by_label("有漏服").check()
    form.get_by_label("备注").fill("上门时发现漏服两次")
    form.get_by_role("button", name="保存回访结果").click()
    expect(page.get_by_role("status")).to_contain_text("该步骤已从您的待办中移除")
    assert count(page, "due") == before - 1
    context.close()
    with live_server.session_factory() as s:
        notes = s.scalars(select(CheckpointResult.notes)).all()
        assert "上门时发现漏服两次" in notes
