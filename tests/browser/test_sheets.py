"""A store manager prints the whole store's day in a real browser: the batch is a job,
rendered by a consumer process of its own, the page shows progress while other pages keep
answering, and the finished PDF holds every sheet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import select

from careplan import clock
from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.models import SheetBatch, SheetPrint, Staff, Store
from careplan.plans import lifecycle
from careplan.vocab import BatchState, Role
from tests import pdf
from tests.browser.live import LiveServer, consuming
from tests.factories import HASHED, PASSWORD

pytestmark = pytest.mark.browser
MEMBERS = 10  # started 20 days ago: weeks 1 and 2 overdue, week 3 due today -> 30 sheets


@pytest.fixture(scope="module")
def busy_store(live_server: LiveServer) -> int:
    today, now = clock.today(), clock.now()
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="P001", name="打印测试店", region="华东", address="测试路1号", phone="1")
        s.add(shop)
        s.flush()
        manager = Staff(
            username="print.manager",
            name="周店长",
            role=Role.store_manager,
            store_id=shop.id,
            password_hash=HASHED,
        )
        s.add(manager)
        s.flush()
        actor = Actor.of(manager, via="test")
        s.info["actor"] = actor
        for i in range(MEMBERS):
            member = create_member(
                s,
                actor,
                MemberCreate(
                    card_number=f"P{2000 + i}",
                    name=f"会员{i:02d}",
                    drug_allergies=["青霉素"],
                    health_consent=True,
                ),
                now=now,
            )
            lifecycle.enroll(
                s, actor, member_id=member.id, protocol_id="osteoporosis",
                start=today - timedelta(days=20), today=today, now=now,
            )  # fmt: skip
        s.commit()
        return shop.id


@pytest.fixture
def consumer(live_server: LiveServer, tmp_path: Path) -> Iterator[None]:
    with consuming(live_server, tmp_path):
        yield


def test_a_store_day_prints_in_the_background_with_progress(
    browser: Browser, live_server: LiveServer, busy_store: int, consumer: None
):
    base = live_server.url
    context = browser.new_context(locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(base + "/sign-in")
    page.get_by_label("用户名").fill("print.manager")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name="用药指导单").click()
    page.get_by_label("谁的联系名单").select_option("store")
    page.get_by_role("button", name="打印", exact=True).click()

    expect(page).to_have_url(f"{base}/sheets/batches/1")
    # "正在生成第 n / 30 份…" once the consumer takes it (on a loaded machine it may sit
    # "排队中" for a few seconds first: the page keeps polling).
    expect(page.get_by_text("份…")).to_be_visible(timeout=30_000)

    # While the consumer lays out pages, the web server keeps answering.
    answered = page.request.get(base + "/")
    with live_server.session_factory() as s:
        batch = s.get_one(SheetBatch, 1)
        state_then, done_then = batch.state, batch.done
    assert answered.ok
    assert state_then is not BatchState.done and done_then < 3 * MEMBERS

    expect(page.get_by_text("30 份指导单已生成")).to_be_visible(timeout=60_000)
    with page.expect_download() as download:
        page.get_by_role("link", name="下载打印文件").click()
    path = download.value.path()
    assert path is not None
    content = path.read_bytes()
    assert pdf.pages(content) == 3 * MEMBERS
    text = pdf.text(content)
    assert all(text.count(f"会员{i:02d}") == 3 for i in range(MEMBERS))
    with live_server.session_factory() as s:
        prints = s.scalars(select(SheetPrint).where(SheetPrint.batch_id == 1)).all()
    assert len(prints) == 3 * MEMBERS
    context.close()
