"""A 客服专员's day in zh, in one browser session (issue 21): the worklist as calls, the step
form in the order of the call, refusals beside the box at fault, "call back at" said back,
my members, the search, enrolment with its preview, and a stop that stays visible."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from careplan import clock
from careplan.access import Actor
from careplan.config import get_settings
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Staff, Store
from careplan.plans import lifecycle
from careplan.vocab import Role
from tests.browser.live import LiveServer, signed_in_page
from tests.factories import HASHED

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def clerk_store(live_server: LiveServer) -> dict[str, int]:
    """王秀英 has two steps open today (osteoporosis week 1, hypertension day 3), 陈建国
    one; 刘玉梅 waits to be enrolled."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="PC01", name="客服测试店", region="华东", address="测试路", phone="1")
        s.add(shop)
        s.flush()
        clerk = Staff(username="persona.clerk", name="周小兰", role=Role.clerk,
                      store_id=shop.id, password_hash=HASHED)  # fmt: skip
        s.add(clerk)
        s.flush()
        actor = Actor.of(clerk, via="test")
        s.info["actor"] = actor
        ids = {}
        for i, name in enumerate(("王秀英", "陈建国", "刘玉梅")):
            member = create_member(
                s, actor,
                MemberCreate(card_number=f"PC{100 + i}", name=name, mobile=f"1390013{7000 + i}",
                             birthday=today.replace(year=today.year - 70 - i) - timedelta(days=9),
                             drug_allergies=["青霉素"], health_consent=True),
                now=now,
            )  # fmt: skip
            ids[name] = member.id
        for name, protocol, start in (
            ("王秀英", "osteoporosis", today),
            ("王秀英", "hypertension", today - timedelta(days=3)),
            ("陈建国", "osteoporosis", today),
        ):
            lifecycle.enroll(s, actor, member_id=ids[name], protocol_id=protocol, start=start,
                         today=today, now=now)  # fmt: skip
        s.commit()
    return ids


def words_doubled(text: str) -> list[str]:
    words = text.split()
    return [a for a, b in itertools.pairwise(words) if a == b]


def test_a_clerks_day(browser: Browser, live_server: LiveServer, clerk_store: dict[str, int]):
    base = live_server.url
    page = signed_in_page(browser, base, "persona.clerk")
    expect(page.get_by_role("heading", level=1)).to_contain_text("我的工作台")

    # The worklist is calls: 王秀英 is one row, with her other step "also due".
    rows = page.locator(".work-item")
    expect(rows).to_have_count(2)
    expect(page.locator("#count-due")).to_have_text("2")
    wang = rows.filter(has_text="王秀英")
    expect(wang).to_have_count(1)
    expect(wang.locator(".also-line")).to_contain_text("该会员还有：")
    for i in range(rows.count()):
        assert not words_doubled(rows.nth(i).locator(".work-main").inner_text())
    expect(page.locator("h1")).to_have_count(1)

    # 陈建国: the form follows the call; nothing is preselected.
    chen = rows.filter(has_text="陈建国")
    chen_id = chen.get_attribute("id")
    chen.get_by_role("link", name="处理此步骤").click()
    form = page.locator(f"#{chen_id} form.result-form")
    expect(form).to_be_visible()
    legends = form.locator("legend").all_inner_texts()
    assert legends.index("会员是否按时服药？") < legends.index("回访方式")
    assert form.locator("input[name=channel]:checked").count() == 0
    expect(form.locator("details.effect-record")).not_to_have_attribute("open", "")
    printing = page.locator(f"#{chen_id}").get_by_role("button", name="打印用药指导单")
    expect(printing).to_have_count(0)
    form.get_by_label("已停服").check()
    form.get_by_label("如停服，原因是").select_option("side_effects")
    form.get_by_role("button", name="保存回访结果").click()
    expect(form.locator(".field-error")).to_contain_text("回访方式")
    expect(form.locator(".field-error")).to_contain_text("请选择您是如何联系到会员的")
    form.get_by_label("电话回访").check()
    form.get_by_role("button", name="保存回访结果").click()
    saved = page.locator(f"#{chen_id}.saved")
    expect(saved).to_contain_text("已保存")
    expect(saved.locator(".escalation-raised")).to_contain_text("副作用")
    expect(saved.get_by_role("button", name="打印用药指导单")).to_be_visible()
    # The focus moved to the saved notice.
    assert page.evaluate("document.activeElement.classList.contains('saved-notice')")

    # 王秀英: a refused measurement is marked on its own box; the other step is offered.
    wang_id = wang.get_attribute("id")
    wang.get_by_role("link", name="处理此步骤").click()
    work = page.locator(f"#{wang_id}")
    expect(work.locator(".also-due")).to_contain_text("该会员现在还有这些待办步骤")
    form = work.locator("form.result-form")
    form.get_by_label("按时服用").check()
    form.get_by_label("收缩压（mmHg）").fill("130")
    form.get_by_label("舒张压（mmHg）").fill("900")
    form.get_by_label("电话回访").check()
    form.get_by_role("button", name="保存回访结果").click()
    box = form.locator(".measure-box", has=page.get_by_label("舒张压（mmHg）"))
    expect(box.locator(".field-error")).to_contain_text("舒张压：超出输入框下方所示的合理范围")
    expect(box.locator(".hint")).to_contain_text("合理范围 20–200")
    expect(form.locator(".field-error")).to_have_count(1)

    # She cannot talk now: "call back at ..." is said back, and the step stays.
    call_back = (clock.now() + timedelta(days=1)).astimezone(get_settings().zone)
    attempt = work.locator("form.attempt-form")
    attempt.get_by_label("约定回电", exact=True).check()
    attempt.get_by_label("回电时间").fill(call_back.strftime("%Y-%m-%dT16:30"))
    attempt.get_by_role("button", name="保存通话结果").click()
    notice = page.locator(f"#{wang_id} .saved-notice")
    expect(notice).to_contain_text("已记录")
    expect(notice).to_contain_text("16:30")
    expect(notice).to_contain_text("该步骤仍在您的待办中")

    # The other step on its own page: logging there keeps the page's layout.
    page.locator(f"#{wang_id} .also-line a").first.click()
    expect(page.locator("h1")).to_have_count(1)
    page.locator("form.attempt-form").get_by_label("未接通", exact=True).check()
    page.get_by_role("button", name="保存通话结果").click()
    expect(page.locator(".saved-notice")).to_contain_text("未接通")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator(".crumbs")).to_be_visible()
    expect(page.locator("form.result-form")).to_be_visible()

    # My members: live plans, next step, last contact; searched and sorted.
    page.get_by_role("link", name="我的会员").click()
    table = page.locator("table.my-members")
    expect(table).to_contain_text("王秀英")
    expect(table).to_contain_text("陈建国")
    expect(table).not_to_contain_text("刘玉梅")  # no live plan yet
    expect(table).to_contain_text("高血压慢病追踪")
    page.get_by_role("link", name="姓名").click()
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("姓名")
    page.get_by_label("姓名、电话、卡号或拼音首字母（如 wxy）").fill("陈建国")
    expect(page.locator("table.my-members tbody tr")).to_have_count(1)

    # 陈建国's stop stays on his page with its open escalation.
    page.goto(f"{base}/members/{clerk_store['陈建国']}")
    expect(page.locator(".plan-stopped")).to_contain_text("会员已停服（副作用）")
    expect(page.locator("section[aria-labelledby=h-escalations] table")).to_contain_text("副作用")
    expect(page.locator(".plan .badge").first).not_to_have_text("已完成")

    # The search shows owner, age and live plans.
    page.get_by_role("link", name="会员", exact=True).click()
    page.get_by_label("姓名、电话、卡号或拼音首字母（如 wxy）").fill("王秀英")
    result = page.locator("#results table tbody tr").first
    expect(result).to_contain_text("周小兰")
    expect(result).to_contain_text("70 岁")
    expect(result).to_contain_text("骨质疏松慢病追踪")

    # Enrol 刘玉梅: numbered from 1; success said; a second one refused at the preview.
    page.goto(f"{base}/members/{clerk_store['刘玉梅']}/enrol")
    page.get_by_label("慢病方案").select_option("osteoporosis")
    page.get_by_role("button", name="预览回访日期").click()
    expect(page.locator("#preview tbody tr").first.locator("td").first).to_have_text("1")
    page.get_by_role("button", name="确认入组").click()
    expect(page.get_by_role("status").first).to_contain_text("已加入“骨质疏松慢病追踪”")
    page.goto(f"{base}/members/{clerk_store['刘玉梅']}/enrol")
    page.get_by_label("慢病方案").select_option("osteoporosis")
    page.get_by_role("button", name="预览回访日期").click()
    expect(page.locator("#preview .error")).to_contain_text("该会员已在此方案中")
    expect(page.locator("#preview table")).to_have_count(0)
    assert re.search(r"加入慢病方案", page.locator("h1").inner_text())
    page.context.close()
