"""A supervisor's day in zh, in one browser session: lands on the chain audit, drills
down by the breadcrumb's levels reading Chinese names (no protocol or step ids, no
outcome codes), and hands the stores their lapsed members, filtered and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from careplan import clock
from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Purchase, Staff, Store
from careplan.plans import lifecycle
from careplan.vocab import Role
from tests.browser.live import LiveServer
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chain(live_server: LiveServer) -> dict[str, int]:
    """Two stores in two regions, each with a clerk behind on an osteoporosis plan whose
    member's tablets ran out; and the supervisor 杜志."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        s.add(Staff(username="s.super", name="杜志", role=Role.supervisor, password_hash=HASHED))
        ids: dict[str, int] = {}
        for code, store_name, region, clerk_name, member_name, mobile in (
            ("S001", "徐汇店", "华东", "李娜", "王秀英", "13900001111"),
            ("S002", "朝阳店", "华北", "陈静", "刘玉梅", "13900002222"),
        ):
            store = Store(code=code, name=store_name, region=region, address="路", phone="1")
            s.add(store)
            s.flush()
            clerk = Staff(username=f"s.{code}", name=clerk_name, role=Role.clerk,
                          store_id=store.id, password_hash=HASHED)  # fmt: skip
            s.add(clerk)
            s.flush()
            actor = Actor.of(clerk, via="test")
            s.info["actor"] = actor
            member = create_member(s, actor, MemberCreate(
                card_number=f"{code}-1", name=member_name, mobile=mobile, health_consent=True
            ), now=now)  # fmt: skip
            lifecycle.enroll(s, actor, member_id=member.id, protocol_id="osteoporosis",
                         start=today - timedelta(days=10), today=today, now=now)  # fmt: skip
            s.add(Purchase(
                member_id=member.id, store_id=store.id, product_code="A70",
                product_name="阿仑膦酸钠片", drug_class="bisphosphonates", quantity=1,
                days_supply=28, purchased_on=today - timedelta(days=40), amount=Decimal("58"),
                recorded_by_id=clerk.id, recorded_at=now,
            ))  # fmt: skip
            ids[code] = store.id
        s.commit()
    return ids


def test_a_supervisor_lands_on_the_audit_reads_chinese_and_exports_the_lapsed(
    browser: Browser, live_server: LiveServer, chain: dict[str, int]
):
    base = live_server.url
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900},
                                  accept_downloads=True)  # fmt: skip
    page = context.new_page()
    page.goto(base + "/")
    page.get_by_label("用户名").fill("s.super")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    # Lands on the chain audit, not on an empty worklist.
    expect(page).to_have_url(base + "/audit")
    expect(page.get_by_role("heading", name="逾期督导", exact=True)).to_be_visible()
    crumbs = page.get_by_role("navigation", name="当前位置")
    expect(crumbs.locator('[aria-current="page"]')).to_have_text("全连锁")
    rows = page.locator("section", has=page.get_by_role("heading", name="按大区"))
    expect(rows.locator("thead th").first).to_have_text("大区")
    by_step = page.locator("section", has=page.get_by_role("heading", name="按方案和步骤的逾期"))
    expect(by_step).to_contain_text("骨质疏松慢病追踪")

    # Down the levels: region, store, person; the breadcrumb grows with each.
    rows.get_by_role("link", name="华东").click()
    expect(page.locator("table.audit thead th").first).to_have_text("门店")
    page.get_by_role("link", name="S001 徐汇店").click()
    expect(page.locator("table.audit thead th").first).to_have_text("员工")
    expect(crumbs.locator("li")).to_have_text(["全连锁", "华东", "S001 徐汇店"])
    page.get_by_role("link", name="李娜").click()
    steps = page.locator("section", has=page.get_by_role("heading", name="逾期步骤，最早的在前"))
    expect(steps.locator("tbody tr").first).to_contain_text("骨质疏松慢病追踪")
    text = steps.locator("table").inner_text()
    for code in ("osteoporosis", "medication_guidance", "overdue", "missed", "姓名"):
        assert code not in text, code
    crumbs.get_by_role("link", name="华东").click()  # back up by the breadcrumb
    expect(page.locator("table.audit thead th").first).to_have_text("门店")

    # A day after today is refused in the audit's own form, not on an error page: the
    # box outlined with what was typed, the region's figures still there to go on from.
    as_of = page.get_by_label("截至日期")
    tomorrow = date.fromisoformat(as_of.input_value()) + timedelta(days=1)
    as_of.fill(tomorrow.isoformat())
    page.get_by_role("button", name="显示").click()
    expect(page.locator("#filter-error")).to_have_text("截至日期：不能晚于今天。")
    expect(as_of).to_have_attribute("aria-invalid", "true")
    expect(as_of).to_have_value(tomorrow.isoformat())
    expect(page.locator("table.audit thead th").first).to_have_text("门店")

    # The lapsed members: phone, owner, last contact; one store; then the CSV.
    page.get_by_role("link", name="实测依从性").click()
    lapsed = page.locator("section", has=page.locator("#h-lapsed"))
    expect(lapsed.locator("tbody tr")).to_have_count(2)
    page.get_by_label("门店").select_option(str(chain["S002"]))
    page.get_by_role("button", name="显示").click()
    expect(lapsed.locator("tbody tr")).to_have_count(1)
    row = lapsed.locator("tbody tr").first
    expect(row).to_contain_text("刘玉梅")
    expect(row).to_contain_text("13900002222")
    expect(row).to_contain_text("陈静")
    expect(row).to_contain_text("从未联系")
    with page.expect_download() as got:
        lapsed.get_by_role("link", name="下载 CSV").click()
    body = open(got.value.path(), encoding="utf-8-sig").read()  # noqa: SIM115
    table = list(csv.reader(io.StringIO(body)))
    line = dict(zip(table[0], table[1], strict=True))
    assert len(table) == 2 and line["会员"] == "刘玉梅" and line["手机号"] == "13900002222"
    assert line["负责人"] == "陈静" and line["门店"] == "S002"
    assert (line["方案代码"], line["慢病方案"]) == ("osteoporosis", "骨质疏松慢病追踪")
    context.close()
