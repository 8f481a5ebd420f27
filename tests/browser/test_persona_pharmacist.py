"""A 药师's day in zh, in one browser session (issue 21): a blood-pressure reading refused on
the exact box, the guidance sheet offered after the save and naming the medicine the member
bought, an effect record opened where the step asks for one, and the member's pages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from careplan import clock
from careplan.access import Actor
from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.members.archive import MemberCreate, create_member
from careplan.models import EffectRecord, Staff, Store
from careplan.plans import lifecycle
from careplan.vocab import Role
from tests import pdf
from tests.browser.live import LiveServer, signed_in_page
from tests.factories import HASHED

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def pharmacy(live_server: LiveServer) -> dict[str, int]:
    """孙丽华: hypertension, day 3 due today, bought amlodipine; 赵德华: post-purchase, the
    day-28 step (which asks for the effects in detail) due today."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="PP01", name="药师测试店", region="华东", address="测试路", phone="1")
        s.add(shop)
        s.flush()
        pharmacist = Staff(username="persona.pharm", name="钱药师", role=Role.pharmacist,
                           store_id=shop.id, password_hash=HASHED)  # fmt: skip
        s.add(pharmacist)
        s.flush()
        actor = Actor.of(pharmacist, via="test")
        s.info["actor"] = actor
        ids = {}
        for i, (name, protocol, days_ago) in enumerate(
            (("孙丽华", "hypertension", 3), ("赵德华", "post_purchase", 28))
        ):
            member = create_member(
                s, actor,
                MemberCreate(card_number=f"PP{100 + i}", name=name, mobile=f"1370013{7000 + i}",
                             health_consent=True),
                now=now,
            )  # fmt: skip
            ids[name] = member.id
            lifecycle.enroll(s, actor, member_id=member.id, protocol_id=protocol,
                         start=today - timedelta(days=days_ago), today=today, now=now)  # fmt: skip
        bought = PurchaseIn(
            product_code="AML5", product_name="氨氯地平片", drug_class="calcium_channel_blockers",
            quantity=1, days_supply=30, purchased_on=today - timedelta(days=3),
            amount=Decimal("26.00"),
        )  # fmt: skip
        record_purchase(s, actor, ids["孙丽华"], bought, today=today, now=now)
        s.commit()
    return ids


def test_a_pharmacists_day(browser: Browser, live_server: LiveServer, pharmacy: dict[str, int]):
    base = live_server.url
    page = signed_in_page(browser, base, "persona.pharm")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("h1")).to_contain_text("我的工作台")
    expect(page.locator(".work-item")).to_have_count(2)

    # 孙丽华's blood pressure: a typo is refused on the systolic box, beside its range.
    sun = page.locator(".work-item", has_text="孙丽华")
    sun_id = sun.get_attribute("id")
    sun.get_by_role("link", name="处理此步骤").click()
    form = page.locator(f"#{sun_id} form.result-form")
    form.locator("input[type=checkbox]").first.check()
    form.get_by_label("按时服用").check()
    form.get_by_label("收缩压（mmHg）").fill("1350")
    form.get_by_label("舒张压（mmHg）").fill("85")
    form.get_by_label("到店").check()
    form.get_by_role("button", name="保存回访结果").click()
    systolic = form.locator(".measure-box", has=page.get_by_label("收缩压（mmHg）"))
    expect(systolic.locator(".field-error")).to_contain_text("收缩压：超出输入框下方所示的合理范围")
    expect(systolic.locator(".hint")).to_contain_text("合理范围 50–300")
    expect(page.get_by_label("收缩压（mmHg）")).to_have_value("1350")  # kept, to correct
    assert page.get_by_label("收缩压（mmHg）").get_attribute("aria-invalid") == "true"
    page.get_by_label("收缩压（mmHg）").fill("135")
    form.get_by_role("button", name="保存回访结果").click()
    saved = page.locator(f"#{sun_id}.saved")
    expect(saved).to_contain_text("已保存")
    assert page.evaluate("document.activeElement.classList.contains('saved-notice')")

    # The guidance sheet, offered after the save, names the medicine she bought.
    print_form = saved.locator("form.print-form")
    expect(print_form.get_by_role("button", name="打印用药指导单")).to_be_visible()
    action = print_form.get_attribute("action")
    token = print_form.locator("input[name=csrf_token]").get_attribute("value")
    assert action and token
    answer = page.request.post(base + action, form={"csrf_token": token, "paper": "a4",
                                                    "language": "member"})  # fmt: skip
    assert answer.ok
    text = pdf.text(answer.body())
    assert "氨氯地平片" in text and "钙通道阻滞剂" not in text

    # 赵德华's day-28 step asks for the effects in detail: the record is open.
    zhao = page.locator(".work-item:not(.saved)", has_text="赵德华")
    zhao_id = zhao.get_attribute("id")
    zhao.get_by_role("link", name="处理此步骤").click()
    form = page.locator(f"#{zhao_id} form.result-form")
    expect(form.locator("details.effect-record")).to_have_attribute("open", "")
    form.get_by_label("服用前").fill("夜里常醒")
    form.get_by_label("服用后（有何变化）").fill("能睡到天亮")
    form.get_by_label("按时服用").check()
    form.get_by_label("电话回访").check()
    form.get_by_role("button", name="保存回访结果").click()
    expect(page.locator(f"#{zhao_id}.saved")).to_contain_text("已保存")

    # His page: one heading, the effect recorded, routine contacts told apart.
    page.goto(f"{base}/members/{pharmacy['赵德华']}")
    expect(page.locator("h1")).to_have_count(1)
    expect(page.locator("section[aria-labelledby=h-effects]")).to_contain_text("能睡到天亮")
    expect(page.locator("section[aria-labelledby=h-escalations]")).to_contain_text(
        "没有未处理的上报事项"
    )
    timeline = page.locator(".timeline").first.inner_text()
    assert "常规维护联系 · 第1个月第1次" in timeline and "常规维护联系 · 第1个月第2次" in timeline

    # My members: both, with the next step and the last contact of today.
    page.get_by_role("link", name="我的会员").click()
    table = page.locator("table.my-members")
    expect(table.locator("tbody tr")).to_have_count(2)
    expect(table).to_contain_text(re.compile(r"\d{4}年\d{1,2}月\d{1,2}日"))
    page.context.close()

    with live_server.session_factory() as s:
        assert s.query(EffectRecord).count() == 1
