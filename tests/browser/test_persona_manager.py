"""A store manager's day in zh, in one browser session: the staff page's load per person,
a holiday cover with a last day, the steps the covering clerk inherited overdue, a
pharmacist's case resolved by the manager with who and when, and the members given back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from careplan import clock
from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Staff, Store
from careplan.plans import lifecycle
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.plans.workload import store_workload
from careplan.vocab import Role
from tests.browser.live import LiveServer
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def shop(live_server: LiveServer) -> dict[str, int]:
    """A store: manager 周店长, clerks 李娜 (behind on an older plan) and 王芳, pharmacist
    赵药师; one of 李娜's members stopped for side effects today (a pharmacist's case)."""
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        store = Store(code="M001", name="漕溪店", region="华东", address="漕溪路1号", phone="1")
        s.add(store)
        s.flush()
        people = {}
        for username, role, name in (
            ("m.manager", Role.store_manager, "周店长"),
            ("m.clerk1", Role.clerk, "李娜"),
            ("m.clerk2", Role.clerk, "王芳"),
            ("m.pharmacist", Role.pharmacist, "赵药师"),
        ):
            people[username] = Staff(username=username, name=name, role=role,
                                     store_id=store.id, password_hash=HASHED)  # fmt: skip
            s.add(people[username])
        s.flush()
        clerk = Actor.of(people["m.clerk1"], via="test")
        s.info["actor"] = clerk
        ids = {}
        for i, (name, weeks_ago) in enumerate((("王秀英", 5), ("陈建国", 0))):
            member = create_member(s, clerk, MemberCreate(
                card_number=f"M{2000 + i}", name=name, mobile=f"1390013{8000 + i}",
                health_consent=True), now=now)  # fmt: skip
            start = today - timedelta(weeks=weeks_ago)
            plan = lifecycle.enroll(s, clerk, member_id=member.id, protocol_id="osteoporosis",
                                start=start, today=today, now=now)  # fmt: skip
            ids[name] = member.id
            if weeks_ago == 0:
                first = min(lifecycle.checkpoints_of(s, plan), key=lambda c: c.seq)
                record_result(s, clerk, first.id, ResultIn(
                    version=first.version, channel="phone", adherence="stopped",
                    stop_reason="side_effects"), today=today, now=now)  # fmt: skip
        manager = Actor.of(people["m.manager"], via="test")
        load = store_workload(s, manager, store.id, today=today)[people["m.clerk1"].id]
        ids |= {"open": load.open, "overdue": load.overdue, "store": store.id}
        ids |= {u: p.id for u, p in people.items()}
        s.commit()
    return ids


def cells(page: Page, name: str) -> list[str]:
    row = page.locator("table.grid").first.locator("tr", has=page.get_by_role("link", name=name))
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def test_a_store_manager_covers_a_holiday_resolves_a_case_and_sees_inherited_steps(
    browser: Browser, live_server: LiveServer, shop: dict[str, int]
):
    base, today = live_server.url, clock.today()
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(base + "/store/staff")
    page.get_by_label("用户名").fill("m.manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()

    # Each person's load: members, open steps, overdue.
    expect(page.get_by_role("heading", name="员工与会员", exact=False)).to_be_visible()
    assert shop["overdue"] > 0
    assert cells(page, "李娜")[2:5] == ["2", str(shop["open"]), str(shop["overdue"])]
    assert cells(page, "王芳")[2:5] == ["0", "0", "0"]

    # 李娜 goes on holiday for a week: 王芳 covers until the last day.
    until = today + timedelta(days=7)
    page.get_by_label("移出人").select_option(str(shop["m.clerk1"]))
    page.locator("#r-to").select_option(str(shop["m.clerk2"]))
    page.get_by_label("休假代管至（最后一天）").fill(until.isoformat())
    page.get_by_role("button", name="移交", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("2")
    covers = page.locator("section", has=page.get_by_role("heading", name="进行中的休假代管"))
    expect(covers).to_contain_text("李娜")
    expect(covers).to_contain_text("王芳")
    expect(covers).to_contain_text(f"{until.year}年{until.month}月{until.day}日")
    expect(page.locator("ul.log")).to_contain_text("休假代管 · 至")
    assert cells(page, "王芳")[2:4] == ["2", str(shop["open"])]

    # 王芳's overdue list says which steps came to her already overdue, and from whom.
    page.goto(f"{base}/?staff={shop['m.clerk2']}&tab=overdue")
    inherited = page.locator(".work-item .inherited")
    expect(inherited).to_have_count(shop["overdue"])
    expect(inherited.first).to_contain_text("接手时已逾期")
    expect(inherited.first).to_contain_text("李娜")
    expect(inherited.first).to_contain_text("接手后逾期 0 天")

    # The pharmacist's side-effect case: the manager may resolve it, and the list says
    # who did, and when.
    page.get_by_role("link", name="上报事项", exact=True).click()
    case = page.locator("tr", has_text="陈建国")
    expect(case).to_contain_text("副作用")
    case.get_by_label("处理结果").fill("已请赵药师电话回访，建议就医")
    case.get_by_role("button", name="办结").click()
    page.get_by_role("link", name="已办结").click()
    done = page.locator("tr", has_text="陈建国")
    expect(done.locator(".resolved-by")).to_contain_text("办结，办结人： 周店长")

    # 李娜 is back early: her members go back to her, and the history says so.
    page.goto(base + "/store/staff")
    page.get_by_role("button", name="立即交回会员").click()
    expect(page.get_by_role("status").first).to_contain_text("已有 2 位会员交回原负责人。")
    expect(page.locator("ul.log")).to_contain_text("休假代管结束，交回")
    assert cells(page, "李娜")[2] == "2"
    context.close()
