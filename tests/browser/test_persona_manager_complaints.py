"""A store manager in zh at 1280 px: a member complains about a clerk's service; the
manager records it with what was done on the spot, hands the member to another clerk
(the follow-up visit goes along), and sees it in the store's figures."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from careplan import clock
from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Staff, Store
from careplan.vocab import Role
from tests.browser.live import LiveServer
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(live_server: LiveServer) -> dict[str, int]:
    """A store: manager 周店长, clerks 李娜 (owns 王秀英) and 王芳."""
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        store = Store(code="C001", name="田林店", region="华东", address="田林路1号", phone="1")
        s.add(store)
        s.flush()
        people = {}
        for username, role, name in (
            ("c.manager", Role.store_manager, "周店长"),
            ("c.clerk1", Role.clerk, "李娜"),
            ("c.clerk2", Role.clerk, "王芳"),
        ):
            people[username] = Staff(username=username, name=name, role=role,
                                     store_id=store.id, password_hash=HASHED)  # fmt: skip
            s.add(people[username])
        s.flush()
        clerk = Actor.of(people["c.clerk1"], via="test")
        s.info["actor"] = clerk
        member = create_member(s, clerk, MemberCreate(card_number="C3001", name="王秀英",
                               mobile="13900139001"), now=clock.now())  # fmt: skip
        s.commit()
        return {"member": member.id} | {u: p.id for u, p in people.items()}


def test_a_manager_records_a_service_complaint_and_hands_the_member_over(
    browser: Browser, live_server: LiveServer, shop: dict[str, int]
):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server.url + "/complaints/new")
    page.get_by_label("用户名").fill("c.manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    # Find the member by card, then the complaint: about 李娜's service.
    page.get_by_label("查找会员").fill("C3001")
    page.get_by_role("button", name="搜索").click()
    expect(page.get_by_label("王秀英 · C3001", exact=False)).to_be_checked()
    page.get_by_label("原因").select_option("service")
    page.get_by_label("严重程度").select_option("high")
    page.get_by_label("投诉方式").select_option("in_person")
    page.get_by_label("涉及员工").select_option(str(shop["c.clerk1"]))
    page.get_by_label("投诉内容").fill("取药时店员态度冷淡")
    page.get_by_label("现场处理记录").fill("店长当场致歉")
    page.get_by_role("button", name="登记投诉").click()
    expect(page.get_by_role("status")).to_contain_text("投诉已登记")
    expect(page.locator(".complaint-path")).to_contain_text("店长当场致歉")
    expect(page.locator(".complaint-path")).to_contain_text("李娜")  # the visit is hers

    # The manager gives the member to 王芳; the visit goes with them.
    page.get_by_label("移交给").select_option(str(shop["c.clerk2"]))
    page.get_by_label("备注").fill("服务投诉，换专员")
    page.get_by_role("button", name="移交", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("会员已转交")
    handed = page.locator(".complaint-path li", has_text="已转交")
    expect(handed).to_contain_text("李娜 → 王芳")
    expect(handed).to_contain_text("周店长")

    # The store's figures this month: one complaint, open, about 李娜.
    page.get_by_role("link", name="员工与会员").click()
    figures = page.locator(".complaint-figures")
    expect(figures).to_contain_text("本月投诉")
    row = figures.locator("tr", has_text="李娜")
    expect(row.locator("td")).to_have_text(["1", "1", "0", "—"])
    expect(page.locator("ul.log")).to_contain_text("投诉")
    context.close()
