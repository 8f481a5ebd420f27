"""An administrator's day in a real browser, in Chinese: open an account for a new clerk,
who signs in with the one-time password (in a second browser) and must choose their own
first; unlock the clerk after their wrong passwords, reset, close the account; open and
rename a store; read a protocol's steps and dates; publish a protocol file, a bad one
first."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, expect

from careplan import clock
from careplan.access import Actor
from careplan.models import Staff, Store
from careplan.sign_in import MAX_FAILURES
from careplan.vocab import Role
from tests.browser.live import LiveServer, sign_in, signed_in_page
from tests.factories import HASHED, ROOT

pytestmark = pytest.mark.browser
NEW_PASSWORD = "li-na-own-password"


@pytest.fixture(scope="module")
def chain(live_server: LiveServer) -> None:
    with live_server.session_factory() as s:
        s.info["actor"] = Actor.system("test")
        shop = Store(code="G001", name="管理测试店", region="华东", address="测试路", phone="1")
        s.add(shop)
        s.add(Staff(username="web.admin", name="周管理", role=Role.admin, password_hash=HASHED))
        s.commit()


def yaml_file(name: str, text: str) -> dict[str, object]:
    return {"name": name, "mimeType": "application/yaml", "buffer": text.encode()}


def test_an_admin_runs_accounts_stores_and_protocols(
    browser: Browser, live_server: LiveServer, chain: None
):
    base = live_server.url
    page = signed_in_page(browser, base, "web.admin")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="系统管理").click()
    expect(page.get_by_role("heading", name="系统管理")).to_be_visible()

    # A new clerk: a bad username is refused naming the box, then the account is made.
    page.get_by_role("link", name="新建员工账号").click()
    page.get_by_label("用户名").fill("li na")
    page.get_by_label("姓名").fill("李娜")
    page.get_by_label("岗位").select_option(label="客服专员")
    page.get_by_label("所属门店").select_option(label="管理测试店")
    page.get_by_role("button", name="创建账号").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名")
    expect(page.get_by_role("alert")).to_contain_text("须为 2 至 64 个字母")
    page.get_by_label("用户名").fill("web.lina")
    page.get_by_role("button", name="创建账号").click()
    expect(page.get_by_role("heading", name=re.compile("账号已创建"))).to_be_visible()
    expect(page.get_by_text("此密码只显示这一次")).to_be_visible()
    one_time = page.locator("#one-time-password").inner_text()

    # The clerk, in a browser of their own, must choose a password before anything else.
    own = signed_in_page(browser, base, "web.lina", width=768, password=one_time)
    expect(own.get_by_role("heading", name="修改密码")).to_be_visible()
    expect(own.get_by_text("您使用一次性密码登录")).to_be_visible()
    expect(own.get_by_role("navigation", name="主导航")).to_have_count(0)  # nowhere else to go
    own.goto(base + "/members")
    expect(own.get_by_role("heading", name="修改密码")).to_be_visible()
    own.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    own.get_by_label("再次输入新密码").fill("not-the-same-password")
    own.get_by_role("button", name="保存新密码").click()
    expect(own.get_by_role("alert")).to_contain_text("两次输入的密码不一致")
    own.get_by_label("新密码", exact=True).fill(NEW_PASSWORD)
    own.get_by_label("再次输入新密码").fill(NEW_PASSWORD)
    own.get_by_role("button", name="保存新密码").click()
    # …and goes on to the page they asked for.
    expect(own.get_by_role("heading", name="会员", exact=True)).to_be_visible()
    own.get_by_role("button", name="退出").click()
    for _ in range(MAX_FAILURES):
        sign_in(own, base, "web.lina", "a-wrong-guess")
    expect(own.get_by_role("alert")).to_contain_text("账号已锁定")

    # The admin sees the lock, lifts it; the clerk signs in again.
    page.get_by_role("link", name="员工账号").click()
    row = page.get_by_role("row").filter(has_text="web.lina")
    expect(row).to_contain_text("已锁定")
    row.get_by_role("link", name="李娜").click()
    expect(page.get_by_text(re.compile("锁定至"))).to_be_visible()
    page.get_by_role("button", name="解除锁定").click()
    expect(page.get_by_role("status")).to_contain_text("已解除锁定")
    sign_in(own, base, "web.lina", NEW_PASSWORD)
    expect(own.get_by_role("heading", name="我的工作台")).to_be_visible()

    # A reset: a new one-time password, and the clerk's open session ends.
    page.get_by_role("button", name="重置密码").click()
    expect(page.get_by_role("heading", name=re.compile("密码已重置"))).to_be_visible()
    expect(page.get_by_text("该账号已在所有设备上退出登录")).to_be_visible()
    assert page.locator("#one-time-password").inner_text() != one_time
    own.reload()
    expect(own.get_by_role("heading", name="登录")).to_be_visible()

    # She has left: the account is closed, and says so.
    page.get_by_role("link", name="返回账号").click()
    page.get_by_label("确认此人已离职，关闭账号").check()
    page.get_by_role("button", name="办理离职").click()
    expect(page.get_by_role("status")).to_contain_text("已办理离职")
    expect(page.locator("dl")).to_contain_text("离职")
    expect(page.get_by_text("重置会生成一次性密码")).to_have_count(0)  # nothing left to do
    expect(page.locator("ul.log")).to_contain_text("在职：是 → 否")
    own.context.close()

    # A new store, then renamed: the change log names both names.
    page.get_by_role("link", name="门店", exact=True).click()
    page.get_by_role("link", name="新建门店").click()
    page.get_by_label("门店名称").fill("静安店")
    page.get_by_label("门店编码").fill("G001")
    page.get_by_label("大区").fill("华东")
    page.get_by_label("地址").fill("南京西路1号")
    page.get_by_label("电话").fill("021-6288 0000")
    page.get_by_role("button", name="创建门店").click()
    expect(page.get_by_role("alert")).to_contain_text("已有门店使用编码 G001")
    page.get_by_label("门店编码").fill("G002")
    page.get_by_role("button", name="创建门店").click()
    expect(page.get_by_role("status")).to_contain_text("门店已创建")
    page.get_by_label("门店名称").fill("静安寺店")
    page.get_by_role("button", name="保存门店").click()
    expect(page.get_by_role("status")).to_contain_text("门店已保存")
    expect(page.locator("ul.log")).to_contain_text("静安店 → 静安寺店")

    # A protocol's steps in both languages, and the dates of a plan started today.
    page.get_by_role("link", name="慢病方案").click()
    page.get_by_role("link", name="骨质疏松慢病追踪").click()
    steps = page.get_by_role("table", name="步骤（中文与英文）")
    expect(steps).to_contain_text("首次联系：用药指导")
    expect(steps).to_contain_text("First contact: medication guidance")
    expect(steps).to_contain_text("第 1 周")
    today = clock.today()
    page.get_by_label("开始日期").fill(today.isoformat())
    page.get_by_role("button", name="显示日期").click()
    preview = page.get_by_role("table", name="当天开始的追踪计划会有以下步骤")
    expect(preview.get_by_role("row")).to_have_count(7)  # a heading and six steps
    expect(preview).to_contain_text(f"{today.year}年{today.month}月{today.day}日")

    # A bad file lists every problem with its line; a good one waits for the confirm.
    good = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    v4 = good.replace("version: 3", "version: 4").replace(
        "zh: 骨质疏松慢病追踪", "zh: 骨质疏松追踪"
    )
    bad = v4.replace("grace_days: 2", "grace_days: two", 1)
    page.get_by_role("link", name="慢病方案").click()
    page.get_by_label("慢病方案文件（YAML）").set_input_files(yaml_file("bad.yaml", bad))
    page.get_by_role("button", name="检查文件").click()
    issues = page.locator("#upload-issues")
    expect(issues).to_contain_text("bad.yaml 未发布")
    expect(issues).to_contain_text(re.compile(r"bad\.yaml:\d+: defaults\.grace_days"))
    page.get_by_label("慢病方案文件（YAML）").set_input_files(yaml_file("osteoporosis-v4.yaml", v4))
    page.get_by_role("button", name="检查文件").click()
    expect(page.get_by_role("heading", name="确认发布")).to_be_visible()
    expect(page.get_by_text("已通过全部检查")).to_be_visible()
    page.get_by_role("link", name="慢病方案").click()  # leaving: nothing was published
    expect(page.get_by_role("table", name="已发布的版本")).not_to_contain_text("骨质疏松追踪")
    page.get_by_label("慢病方案文件（YAML）").set_input_files(yaml_file("osteoporosis-v4.yaml", v4))
    page.get_by_role("button", name="检查文件").click()
    page.get_by_role("button", name="发布此版本").click()
    expect(page.get_by_role("status")).to_contain_text("已发布")
    expect(page.get_by_role("heading", name=re.compile("骨质疏松追踪"))).to_contain_text("第 4 版")
    page.context.close()
