"""The API reference page works on an intranet: Swagger UI from /static, allowed by the
CSP, with every operation listed; and the favicon is served."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.live import LiveServer

pytestmark = pytest.mark.browser


def test_api_docs_render_offline_under_the_csp(browser: Browser, demo_server: LiveServer) -> None:
    page = browser.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    outside: list[str] = []
    page.on(
        "request",
        lambda r: outside.append(r.url) if not r.url.startswith(demo_server.url) else None,
    )
    page.goto(demo_server.url + "/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible(timeout=15_000)
    assert page.locator(".opblock-summary-path", has_text="/api/v1/members").count() >= 1
    assert not outside, f"requests outside the server: {outside}"
    assert not problems, problems
    icon = page.request.get(demo_server.url + "/favicon.ico")
    assert icon.ok and icon.headers["content-type"].startswith("image/svg+xml")
    page.close()
