"""The store manager's lectures and till import, in a real browser, in Chinese: a
lecture scheduled from pick lists (no key, no id, no English asked), members registered
past its seats (the waitlisted one told their place), members invited with the filters
kept and the invitation in an invitation's words, a lecture held last week read as held
with its attendance, and a till file with errors refused with every problem, kept in the
history with its report, next to a template to download."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from careplan import clock
from careplan.access import Actor
from careplan.config import get_settings
from careplan.lectures import lectures
from careplan.members.archive import MemberCreate, create_member
from careplan.models import Lecture, LectureInvitation, LectureSeat, PurchaseImport, Staff, Store
from careplan.vocab import Channel, ImportOutcome, Role, SeatStatus
from tests.browser.axe import describe, violations
from tests.browser.live import LiveServer, signed_in_page
from tests.factories import HASHED

pytestmark = pytest.mark.browser

TITLE = "骨质疏松防跌倒讲座"
BAD_TILL = (
    "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额\n"
    'M7001,A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,M001,"￥1,234.50"\n'
    "M7999,A70,阿仑膦酸钠片,bisphosphonates,0,28,2024-02-30,M001,五十八\n"
)


def _store_and_people(live_server: LiveServer) -> None:
    """A store, its manager, four members (three with osteoporosis, one of them young)
    and a lecture held last week: two registered, one came."""
    now = clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="M001", name="店长测试店", region="华东", address="店长路", phone="1")
        s.add(shop)
        s.flush()
        boss = Staff(
            username="persona.manager", name="吴店长", role=Role.store_manager,
            store_id=shop.id, password_hash=HASHED,
        )  # fmt: skip
        s.add(boss)
        s.flush()
        actor = Actor.of(boss, via="test")
        s.info["actor"] = actor
        people = [
            ("M7001", "孙一", ["骨质疏松"], date(1950, 3, 1)),
            ("M7002", "李二", ["骨质疏松"], date(1948, 6, 1)),
            ("M7003", "周三", ["骨质疏松"], date(1952, 9, 1)),
            ("M7004", "郑少", ["骨质疏松"], date(1995, 1, 1)),
        ]
        ids = [
            create_member(s, actor, MemberCreate(
                card_number=card, name=name, chronic_conditions=conditions, birthday=born,
                health_consent=True,
            ), now=now).id
            for card, name, conditions, born in people
        ]  # fmt: skip
        held_at = now - timedelta(days=7)
        past = Lecture(
            title_zh="上周的用药讲座", title_en="", topic=lectures.GENERAL_TOPIC,
            conditions=[], protocols=[], store_id=shop.id, starts_at=held_at,
            ends_at=held_at + timedelta(hours=1), capacity=10,
            register_by=held_at - timedelta(days=1), created_by_id=boss.id,
        )  # fmt: skip
        s.add(past)
        s.flush()
        for member_id, came in ((ids[0], True), (ids[1], False)):
            s.add(LectureSeat(
                lecture_id=past.id, member_id=member_id, status=SeatStatus.registered,
                registered_by_id=boss.id, queued_at=held_at - timedelta(days=3),
                checked_in_at=held_at if came else None,
                checked_in_by_id=boss.id if came else None,
            ))  # fmt: skip
        s.commit()


def _local(days: int, hour: int) -> str:
    """A datetime-local value: the chain's wall clock, `days` from today."""
    day = datetime.now(get_settings().zone) + timedelta(days=days)
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def _accessible(page: Page) -> None:
    found = violations(page)
    assert not found, describe(found)


def _register(page: Page, card: str, name: str) -> None:
    page.get_by_label("姓名、电话、卡号或拼音首字母").fill(card)
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("button", name=f"报名：{name}", exact=True).click()


def test_a_store_managers_lectures_and_till_import(
    browser: Browser, live_server: LiveServer
) -> None:
    _store_and_people(live_server)
    base = live_server.url
    page = signed_in_page(browser, base, "persona.manager")

    # The lecture held last week reads as held, with who came; not 已安排.
    page.get_by_role("link", name="健康讲座").click()
    held_row = page.locator("tr", has_text="上周的用药讲座")
    expect(held_row).to_contain_text("已举办 · 出席 1 人（报名 2 人）")
    expect(held_row).not_to_contain_text("已安排")

    # Scheduling: the Chinese title, a topic and a condition picked by their names.
    page.get_by_text("安排讲座").click()
    expect(page.get_by_label("标题（英文，可不填）")).not_to_have_attribute("required", "")
    page.get_by_label("标题（中文）").fill(TITLE)
    page.get_by_label("主题").select_option(label="防跌倒指导，提醒按时取药（骨质疏松慢病追踪）")
    page.get_by_label("骨质疏松", exact=True).check()
    page.get_by_label("讲师").fill("李药师")
    page.get_by_label("座位").fill("1")
    page.get_by_label("开始时间").fill(_local(1, 14))
    page.get_by_label("结束", exact=True).fill(_local(1, 13))  # before the start: refused
    page.get_by_label("报名截止").fill(_local(1, 12))
    page.get_by_role("button", name="安排", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("结束：须晚于开始时间")
    expect(page.get_by_label("标题（中文）")).to_have_value(TITLE)  # nothing typed is lost
    expect(page.get_by_label("骨质疏松", exact=True)).to_be_checked()
    _accessible(page)  # the form open, with its refusal
    page.get_by_label("结束", exact=True).fill(_local(1, 15))
    page.get_by_role("button", name="安排", exact=True).click()

    expect(page.get_by_role("heading", level=1)).to_have_text(TITLE)
    facts = page.locator("dl.facts")
    expect(facts).to_contain_text("防跌倒指导，提醒按时取药（骨质疏松慢病追踪）")
    expect(facts).to_contain_text("骨质疏松")
    expect(facts).not_to_contain_text("fall_prevention")
    expect(page.get_by_role("heading", name="签到")).to_have_count(0)  # tomorrow, not today
    lecture_url = page.url

    # One seat: the second member waits, and is told at which place.
    _register(page, "M7001", "孙一")
    expect(page.get_by_role("status")).to_contain_text("已报名：会员有座位。")
    _register(page, "M7002", "李二")
    expect(page.get_by_role("status")).to_contain_text("讲座已满：会员正在候补，排第 1 位")
    expect(page.get_by_role("status")).not_to_contain_text("已报名")
    roster = page.locator("#roster")
    expect(roster.locator("tr", has_text="李二")).to_contain_text("候补中，排第 1 位")
    expect(roster.get_by_role("button", name="签到：孙一")).to_have_count(0)
    _accessible(page)

    # Inviting: the lecture's condition ticked, an age filter, kept after marking.
    page.get_by_role("link", name="邀请名单").click()
    expect(page.get_by_label("骨质疏松", exact=True)).to_be_checked()
    expect(page.get_by_role("link", name="郑少")).to_be_visible()
    page.get_by_label("年龄从").fill("60")
    page.get_by_role("button", name="显示").click()
    expect(page.get_by_role("link", name="郑少")).to_have_count(0)
    page.get_by_label("周三").check()
    expect(page.get_by_label("邀请方式")).to_have_value("")  # no channel assumed
    options = page.get_by_label("邀请方式").locator("option")
    expect(options).to_have_text(["请选择…", "电话邀请", "短信/微信邀请", "到店当面邀请"])
    page.get_by_label("邀请方式").select_option(label="短信/微信邀请")
    page.get_by_role("button", name="标记为已邀请").click()
    expect(page.get_by_role("status")).to_have_text("已记录：邀请了 1 位会员（短信/微信邀请）。")
    expect(page.get_by_label("年龄从")).to_have_value("60")
    expect(page.get_by_role("link", name="郑少")).to_have_count(0)
    expect(page.locator("tr", has_text="周三")).to_contain_text("短信/微信邀请")
    expect(page.locator("main")).not_to_contain_text("电话回访")
    caption = page.locator("table caption")  # the invited one is no longer "to invite"
    expect(caption).to_contain_text("待邀请 ")
    expect(caption).to_contain_text("已邀请 1 位")
    _accessible(page)

    # Last week's lecture: held, who came and who did not; no check-in offered.
    page.get_by_role("link", name="健康讲座").click()
    page.get_by_role("link", name="上周的用药讲座").click()
    expect(page.locator("#lecture-phase")).to_have_text("已举办 · 出席 1 人（报名 2 人）")
    expect(page.locator("#roster tr", has_text="孙一")).to_contain_text("出席")
    expect(page.locator("#roster tr", has_text="李二")).to_contain_text("未到场")
    expect(page.get_by_role("button", name="签到：李二")).to_have_count(0)

    # Till import: the template to fill in, then a file with errors refused whole.
    page.get_by_role("link", name="收银导入").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载导入模板（CSV，中文表头）").click()
    template = download.value.path().read_bytes().decode("utf-8-sig")
    assert template.startswith(
        "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额"
    )
    page.get_by_label("CSV 文件").set_input_files(
        files=[{"name": "收银-十一月.csv", "mimeType": "text/csv", "buffer": BAD_TILL.encode()}]
    )
    page.get_by_role("button", name="导入", exact=True).click()
    problems = page.locator("#problems")
    expect(problems).to_contain_text("未导入任何数据")
    expect(page.get_by_text("未导入任何数据")).to_have_count(1)  # said once, above the lines
    # Every problem of line 3, each with its value; line 2 (￥1,234.50) is fine.
    expect(problems.locator("tbody td.num")).to_have_text(["3", "3", "3", "3"])
    values = problems.locator("tbody td:nth-child(3)")
    expect(values).to_have_text(["M7999", "0", "2024-02-30", "五十八"])
    history = page.locator("table", has_text="最近导入")
    expect(history.locator("tr", has_text="收银-十一月.csv")).to_contain_text("未导入（有错误）")
    _accessible(page)
    history.get_by_role("link", name="未导入：查看错误报告：收银-十一月.csv").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("收银-十一月.csv")
    expect(page.locator("#problems")).to_contain_text("格式应为 58.00、¥58.00 或 1,234.50")
    _accessible(page)

    with live_server.session_factory() as s:
        lecture = s.scalars(select(Lecture).where(Lecture.title_zh == TITLE)).one()
        assert lecture.title_en == "" and lecture.topic == "fall_prevention"
        assert lecture.conditions == ["M81"]
        invitation = s.scalars(select(LectureInvitation)).one()
        assert invitation.channel is Channel.message
        refused = s.scalars(select(PurchaseImport)).one()
        assert refused.outcome is ImportOutcome.refused and refused.added == 0
    assert lecture_url.startswith(base + "/lectures/")
