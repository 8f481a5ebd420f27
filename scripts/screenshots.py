"""Screenshots of the workbench for docs/ and README, in both languages.

Run against the demo (`make run` in another terminal), then look at the pictures:
    .venv/bin/python scripts/screenshots.py [--base http://127.0.0.1:8000]
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.browser.live import CHROMIUM, CHROMIUM_ARGS

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def sign_in(page: Page, base: str, language: str) -> None:
    page.goto(f"{base}/sign-in")
    page.fill("#username", "xh.clerk1")
    page.fill("#password", "careplan-demo")
    page.click("button[type=submit].primary")
    page.goto(f"{base}/settings")
    page.check(f"input[name=language][value={language}]")
    page.click("button[type=submit].primary")


def shoot(base: str, language: str, width: int) -> list[Path]:
    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": width, "height": 900})
        sign_in(page, base, language)
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--width", type=int, default=1024)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    for language in ("zh", "en"):
        for path in shoot(args.base, language, args.width):
            print(re.sub(r"^.*/docs/", "docs/", str(path)))


if __name__ == "__main__":
    main()
