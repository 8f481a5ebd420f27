"""Screenshots of the workbench for docs/ and README.

README's shots (zh and en, 1024 px) against the demo (`make run` in another terminal):
    .venv/bin/python scripts/screenshots.py [--base http://127.0.0.1:8000]

The persona shots of docs/screenshots (zh, 1280 and 768 px, full page): each width on a
fresh demo of its own (a new SQLite database, seeded, served on a free port), so the
forms the script fills in and the buttons it clicks change nothing anyone else uses:
    .venv/bin/python scripts/screenshots.py --personas [--only admin-upload]

Then look at the pictures.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from careplan import clock
from careplan.lectures.lectures import GENERAL_TOPIC

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a file: tests/ is the repo's, not an installed package
    sys.path.insert(0, str(ROOT))
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
CAREPLAN = ROOT / ".venv" / "bin" / "careplan"
PASSWORD = "careplan-demo"
WIDTHS = (1280, 768)
LOCALES = Path("/usr/lib/chromium/locales")  # Debian's chromium-l10n
BROWSER_LANGUAGE = {"zh": "zh-CN", "en": "en-US"}  # the browser's own UI: file picker, bubbles


def launch(p: Playwright, language: str) -> Browser:
    """Debian's chromium, its own UI (file picker, date fields, the browser's bubbles) in
    the language a pharmacist's browser would speak. On Linux chromium takes that from
    LANGUAGE rather than --lang, and needs Debian's chromium-l10n for anything but English."""
    tag = BROWSER_LANGUAGE[language]
    if not (LOCALES / f"{tag}.pak").exists():
        sys.exit(f"chromium speaks no {tag}: apt-get install chromium-l10n")
    args = [*CHROMIUM_ARGS, f"--lang={tag}"]
    env = {**os.environ, "LANGUAGE": tag.replace("-", "_")}
    return p.chromium.launch(executable_path=str(CHROMIUM), args=args, env=env)


def new_page(browser: Browser, language: str, width: int) -> Page:
    context = browser.new_context(
        viewport={"width": width, "height": 900}, locale=BROWSER_LANGUAGE[language]
    )
    return context.new_page()


def sign_in(page: Page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


# README: one clerk, both languages, 1024 px.


def set_language(page: Page, base: str, language: str) -> None:
    page.goto(f"{base}/settings")
    page.check(f"input[name=language][value={language}]")
    page.click("button[type=submit].primary")


def shoot(base: str, language: str, width: int) -> list[Path]:
    shots = []
    with sync_playwright() as p:
        browser = launch(p, language)
        page = new_page(browser, language, width)
        sign_in(page, base, "xh.clerk1")
        set_language(page, base, language)
        page.goto(f"{base}/?tab=overdue")
        shots.append(OUT / f"{language}-worklist.png")
        page.screenshot(path=shots[-1], full_page=True)
        item = page.locator(".work-item").first
        member = item.locator("a.member-name").get_attribute("href")
        work = item.locator("a.button").get_attribute("href")
        assert member and work
        page.goto(base + member)
        shots.append(OUT / f"{language}-member.png")
        page.screenshot(path=shots[-1], full_page=True)
        page.goto(base + work)
        shots.append(OUT / f"{language}-checkpoint.png")
        page.screenshot(path=shots[-1], full_page=True)
        browser.close()
    return shots


# Personas: a fresh demo per width, and every persona's pages in Chinese.


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_up(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the demo server stopped")
        try:
            with urllib.request.urlopen(f"{url}/sign-in", timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("the demo server did not start")


@contextmanager
def fresh_demo(work: Path) -> Iterator[str]:
    """A demo chain in a new database under `work`, served until the block ends."""
    port = _free_port()
    env = {**os.environ, "CAREPLAN_DATABASE_URL": f"sqlite:///{work / 'careplan.db'}",
           "CAREPLAN_WORK_DIR": str(work / "work"), "CAREPLAN_PORT": str(port)}  # fmt: skip
    for command in (["db", "upgrade"], ["protocols", "load"], ["demo", "seed"]):
        subprocess.run([CAREPLAN, *command], env=env, cwd=ROOT, check=True, capture_output=True)
    log = (work / "serve.log").open("wb")
    server = subprocess.Popen([CAREPLAN, "serve"], env=env, cwd=ROOT, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()


@dataclass
class Shots:
    """One width's run: where the demo is, the files to upload, what was written."""

    browser: Browser
    base: str
    width: int
    files: Path
    only: str = ""
    written: list[Path] = field(default_factory=list)

    def page_for(self, username: str, password: str = PASSWORD) -> Page:
        page = new_page(self.browser, "zh", self.width)
        sign_in(page, self.base, username, password)
        return page

    def go(self, page: Page, path: str) -> None:
        page.goto(self.base + path)
        page.wait_for_load_state("networkidle")

    def take(self, page: Page, name: str) -> None:
        if self.only not in name:
            return
        path = OUT / f"{name}-{self.width}.png"
        page.screenshot(path=path, full_page=True, animations="disabled", caret="initial")
        self.written.append(path)


def _first_overdue(s: Shots, page: Page) -> tuple[str, str]:
    """The worklist's first overdue item: its member page and its step form."""
    item = page.locator(".work-item").first
    member = item.locator("a.member-name").get_attribute("href")
    step = item.locator("a.button").get_attribute("href")
    assert member and step
    return member, step


def _enrolment_preview(s: Shots, page: Page, member: str, name: str) -> None:
    s.go(page, member)
    page.click(f"a.button[href='{member}/enrol']")
    page.select_option("#e-protocol", "post_purchase")
    page.click("button[name=action][value=preview]")
    page.wait_for_selector("#preview table")
    s.take(page, name)


def store_staff(s: Shots, who: str) -> None:
    """A clerk's or the pharmacist's day: worklist, members, a member, a step, enrolment."""
    page = s.page_for(f"xh.{who}1" if who == "clerk" else f"xh.{who}")
    s.go(page, "/?tab=overdue")
    s.take(page, f"{who}-worklist")
    member, step = _first_overdue(s, page)
    s.go(page, "/my-members")
    s.take(page, f"{who}-my-members")
    s.go(page, member)
    s.take(page, f"{who}-member")
    s.go(page, step)
    s.take(page, f"{who}-step-form")
    _enrolment_preview(s, page, member, f"{who}-enrolment-preview")
    page.context.close()


def clerk(s: Shots) -> None:
    store_staff(s, "clerk")


def pharmacist(s: Shots) -> None:
    store_staff(s, "pharmacist")


def errors_member_form(s: Shots) -> None:
    """A new member's form refused twice: by the browser (card number), by the app (mobile)."""
    page = s.page_for("xh.clerk1")
    s.go(page, "/members/new")
    page.fill("#f-name", "吴春兰")
    page.fill("#f-card_number", "AB 12")
    page.fill("#f-mobile", "13800138123")
    page.click("form.archive-form button[type=submit].primary")
    page.wait_for_timeout(1500)  # the browser's own bubble: 请与所请求的格式保持一致。
    s.take(page, "errors-card-number")
    page.fill("#f-card_number", "T-9001")
    page.fill("#f-mobile", "12345")
    page.click("form.archive-form button[type=submit].primary")
    page.wait_for_selector("#form-error")
    s.take(page, "errors-member-form")
    page.context.close()


def lectures(s: Shots, page: Page) -> None:
    """Schedule a two-seat lecture, fill it and one more, invite one member."""
    s.go(page, "/lectures")
    s.take(page, "manager-lectures-list")
    page.click("#schedule summary")
    _fill_lecture(page, clock.today() + timedelta(days=10))
    s.take(page, "manager-lectures-form")
    page.click("#schedule button[type=submit].primary")
    page.wait_for_url(re.compile(r"/lectures/\d+"))
    lecture = page.url.split("?")[0]
    for name in ("林国强", "赵建华", "陈美玲"):  # two seats, then the waiting list
        page.fill("#r-q", name)
        page.click("form:has(#r-q) button[type=submit]")
        page.get_by_role("button", name=f"报名：{name}").first.click()
        page.wait_for_load_state("networkidle")
    s.take(page, "manager-lectures-page")
    page.goto(lecture + "/invite")
    s.take(page, "manager-lectures-invite")
    page.locator("input[name=member_id]:not([disabled])").first.check()
    page.select_option("#i-channel", "message")
    page.click("form:has(#i-channel) button[type=submit].primary")
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-lectures-invited")
    s.go(page, "/lectures")
    page.locator("table.grid a[href^='/lectures/']").first.click()
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-lectures-held")


def _fill_lecture(page: Page, day: date) -> None:
    page.fill("#l-title-zh", "高血压用药与饮食讲座")
    page.select_option("#l-topic", GENERAL_TOPIC)  # another topic: fulfils no step
    page.fill("#l-speaker", "王药师")
    page.fill("#l-venue", "门店二楼健康教室")
    page.fill("#l-capacity", "2")
    page.fill("#l-starts", f"{day.isoformat()}T14:00")
    page.fill("#l-ends", f"{day.isoformat()}T15:00")
    page.fill("#l-deadline", f"{(day - timedelta(days=1)).isoformat()}T18:00")
    page.check("#schedule input[name=conditions][value=I10]")


def escalations(s: Shots, page: Page) -> None:
    s.go(page, "/escalations?status=open")
    s.take(page, "manager-escalations")
    page.locator("form.resolve input[name=resolution]").first.fill("已请药师电话回访，建议就医")
    page.locator("form.resolve button[type=submit]").first.click()
    page.wait_for_load_state("networkidle")
    page.click("nav.tabs a[href='/escalations?status=resolved']")
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-escalations-resolved")


TILL_FILE = (
    "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额\r\n"
    "T999,P-hypertension,氨氯地平片,,0,30,2026-02-30,SH001,五十八\r\n"
    "T998,P-hypertension,氨氯地平片,,1,30,2026-11-20,XX,58.00\r\n"
)


def till_import(s: Shots, page: Page) -> None:
    s.go(page, "/purchases/import")
    s.take(page, "manager-import-page")
    till = s.files / "收银-有错.csv"
    till.write_text(TILL_FILE, encoding="utf-8")
    page.set_input_files("#p-file", till)
    page.click("form:has(#p-file) button[type=submit].primary")
    page.wait_for_selector("tr.refused")
    s.take(page, "manager-import-refused")
    page.locator("tr.refused a[href^='/purchases/import/']").last.click()
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-import-report")


def hand_over(s: Shots, page: Page) -> None:
    """张丽 goes on leave for a week: her members to 陈静, whose worklist now holds them."""
    s.go(page, "/store/staff")
    page.select_option("#r-from", label=_option(page, "#r-from", "张丽"))
    page.select_option("#r-to", label="陈静")
    page.fill("#r-until", (clock.today() + timedelta(days=7)).isoformat())
    page.click("form[action='/store/reassign']:has(#r-from) button[type=submit].primary")
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-staff")
    s.go(page, "/?tab=overdue")
    page.select_option("#f-staff", label="陈静")
    page.click("form:has(#f-staff) button[type=submit]")
    page.wait_for_load_state("networkidle")
    s.take(page, "manager-worklist-inherited")


def _option(page: Page, select: str, part: str) -> str:
    """The label of the select's option that says `part` (e.g. '张丽（8）' for 张丽)."""
    labels = page.locator(f"{select} option").all_inner_texts()
    return next(label.strip() for label in labels if part in label)


def audit_date(s: Shots, page: Page) -> None:
    s.go(page, "/audit")
    page.fill("#a-asof", (clock.today() + timedelta(days=1)).isoformat())
    page.click("form.audit-filters button[type=submit]")
    page.wait_for_load_state("networkidle")
    s.take(page, "errors-audit-date")


def manager(s: Shots) -> None:
    page = s.page_for("xh.manager")
    for part in (lectures, escalations, till_import, hand_over, audit_date):
        part(s, page)
    page.context.close()


def supervisor(s: Shots) -> None:
    """The chain's audit, down to one clerk; missed steps; lapsed members; escalations."""
    page = s.page_for("duzhi")
    s.go(page, "/audit")
    s.take(page, "supervisor-audit")
    for level in ("region", "store", "staff"):
        page.locator("table.grid tbody th a").first.click()
        page.wait_for_load_state("networkidle")
        s.take(page, f"supervisor-audit-{level}")
    s.go(page, "/audit")
    page.click("a[href^='/audit/steps'][href*='status=missed']")
    page.wait_for_load_state("networkidle")
    s.take(page, "supervisor-audit-missed")
    s.go(page, "/audit/adherence")
    s.take(page, "supervisor-lapsed")
    s.go(page, "/escalations?status=open")
    s.take(page, "supervisor-escalations")
    page.context.close()


def admin(s: Shots) -> None:
    page = s.page_for("admin")
    for part in (admin_staff, admin_stores, admin_protocols, admin_password):
        part(s, page)
    page.context.close()


def admin_staff(s: Shots, page: Page) -> None:
    """The staff list; a new account refused, then made; its one-time password."""
    s.go(page, "/admin/staff")
    s.take(page, "admin-staff")
    page.click("a.button[href='/admin/staff/new']")
    page.fill("#a-username", "bad name")
    page.fill("#a-name", "王芳")
    page.select_option("#a-role", "clerk")
    page.click("form[action='/admin/staff'] button[type=submit].primary")
    page.wait_for_selector("#form-error")
    s.take(page, "admin-staff-new-refused")
    page.fill("#a-username", "xh.wangfang")
    page.select_option("#a-store", label=_option(page, "#a-store", "徐汇"))
    page.click("form[action='/admin/staff'] button[type=submit].primary")
    page.wait_for_selector("#one-time-password")
    s.take(page, "admin-one-time-password")
    s.files.joinpath("one-time-password").write_text(page.inner_text("#one-time-password"))
    page.click("section.card a.button")
    page.wait_for_load_state("networkidle")
    s.take(page, "admin-account")


def admin_stores(s: Shots, page: Page) -> None:
    s.go(page, "/admin/stores")
    s.take(page, "admin-stores")
    page.locator("table.grid tbody a").first.click()
    page.wait_for_load_state("networkidle")
    s.take(page, "admin-store")


def admin_protocols(s: Shots, page: Page) -> None:
    """The protocols; one of them; a file refused; a next version checked, not published."""
    s.go(page, "/admin/protocols")
    s.take(page, "admin-protocols")
    page.click("a[href='/admin/protocols/osteoporosis/3']")
    page.fill("#pv-start", (clock.today() + timedelta(days=5)).isoformat())
    page.click("form:has(#pv-start) button[type=submit]")  # the dates a plan would have
    page.wait_for_load_state("networkidle")
    s.take(page, "admin-protocol")
    shipped = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    bad = re.sub(r"(?m)^  zh: 骨质疏松慢病追踪\n", "", shipped, count=1)
    _upload(s, page, "bad.yaml", bad.replace("grace_days: 2 ", "grace_days: two "))
    page.wait_for_selector("#upload-issues")
    s.take(page, "admin-upload-refused")
    _upload(s, page, "osteoporosis-v10.yaml", shipped.replace("version: 3", "version: 10", 1))
    page.wait_for_selector("form[action='/admin/protocols/publish']")
    s.take(page, "admin-upload-confirm")


def _upload(s: Shots, page: Page, name: str, text: str) -> None:
    s.go(page, "/admin/protocols")
    path = s.files / name
    path.write_text(text, encoding="utf-8")
    page.set_input_files("#p-file", path)
    page.click("form[action='/admin/protocols/upload'] button[type=submit].primary")
    page.wait_for_load_state("networkidle")


def admin_password(s: Shots, page: Page) -> None:
    """The admin's own password page; the new clerk's first sign-in, made to choose one."""
    s.go(page, "/settings")
    page.click("a[href^='/change-password']")
    page.wait_for_load_state("networkidle")
    s.take(page, "admin-change-password")
    one_time = s.files.joinpath("one-time-password").read_text()
    newcomer = s.page_for("xh.wangfang", one_time)
    newcomer.wait_for_selector("#new_password")
    s.take(newcomer, "admin-forced-password")
    newcomer.context.close()


# In this order: each leaves the demo as the next one's pictures expect it (the clerk's
# members before the manager hands them over, the open escalations before one is resolved).
PERSONAS: tuple[Callable[[Shots], None], ...] = (
    clerk,
    errors_member_form,
    pharmacist,
    manager,
    supervisor,
    admin,
)


def personas(width: int, only: str) -> list[Path]:
    with tempfile.TemporaryDirectory(prefix="careplan-shots-") as tmp:
        work = Path(tmp)
        with fresh_demo(work) as base, sync_playwright() as p:
            browser = launch(p, "zh")
            s = Shots(browser, base, width, work, only)
            for persona in PERSONAS:
                persona(s)
            browser.close()
        return s.written


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--personas", action="store_true", help="docs/screenshots, zh")
    parser.add_argument("--only", default="", help="with --personas: names containing this")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.personas:
        paths = [p for width in WIDTHS for p in personas(width, args.only)]
    else:
        paths = [p for lang in ("zh", "en") for p in shoot(args.base, lang, args.width)]
    for path in paths:
        print(path.relative_to(ROOT))
    sys.exit(0 if paths else 1)


if __name__ == "__main__":
    main()
