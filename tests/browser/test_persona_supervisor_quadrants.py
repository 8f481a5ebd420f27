"""A supervisor in zh at 1280 px opens the chain's spend quadrants: the tiers, the
server-drawn scatter chart, and one quadrant's member list (the demo chain's figures)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from careplan.demo.chain import DEMO_PASSWORD
from tests.browser.live import LiveServer

pytestmark = pytest.mark.browser


def test_a_supervisor_opens_the_quadrant_chart_and_a_quadrants_list(
    browser: Browser, demo_server: LiveServer
):
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(demo_server.url + "/value/spend?scope=chain")
    page.get_by_label("用户名").fill("duzhi")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("全连锁")
    chart = page.locator("svg").first
    expect(chart).to_be_visible()
    assert page.locator("svg circle, svg rect").count() > 4  # dots or shaded cells drawn
    page.screenshot(path="/tmp/shot-quadrants-1280.png", full_page=True)
    quadrant = page.locator('table a[href^="/value/spend/quadrant/"]').first
    name = quadrant.inner_text()
    quadrant.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)
    rows = page.locator("table tbody tr")
    assert rows.count() >= 1
    assert "此象限没有会员" not in rows.first.inner_text()  # the demo has members in each
    page.screenshot(path="/tmp/shot-quadrant-list-1280.png", full_page=True)
    context.close()
