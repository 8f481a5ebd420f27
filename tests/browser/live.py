"""The browser tests' tools: Debian's chromium and how it is started, the live server the
tests drive (the app under uvicorn in a thread), and a page signed in to it."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from tests.factories import PASSWORD
from web.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
# Without these, chromium keeps trying to reach Google's services, and a closed
# network refuses them by the dozen.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class LiveServer:
    url: str
    session_factory: sessionmaker[Session]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(factory: sessionmaker[Session]) -> Iterator[str]:
    """The app under uvicorn in a thread, on a free port, until the block ends."""
    port = _free_port()
    config = uvicorn.Config(create_app(factory), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


LOCALES = {"zh": "zh-CN", "en": "en-GB"}
# The sign-in form's username and password labels and its button, as each language has
# them: the boxes are found by their labels, as a person finds them.
SIGN_IN_WORDS = {"zh": ("用户名", "密码", "登录"), "en": ("Username", "Password", "Sign in")}


def sign_in(
    page: Page, base_url: str, username: str, password: str = PASSWORD, *, language: str = "zh"
) -> None:
    """Fill in the sign-in form and send it, whatever it answers (a refusal too)."""
    username_label, password_label, button = SIGN_IN_WORDS[language]
    page.goto(base_url + "/sign-in")
    page.get_by_label(username_label).fill(username)
    page.get_by_label(password_label).fill(password)
    page.get_by_role("button", name=button).click()


def signed_in_page(
    browser: Browser,
    base_url: str,
    username: str,
    *,
    width: int = 1280,
    language: str = "zh",
    password: str = PASSWORD,
) -> Page:
    """A page in a browser context of its own (the language's locale, `width` × 900 px),
    signed in as `username`: the sign-in form has been left. Close it with
    `page.context.close()`."""
    context = browser.new_context(
        locale=LOCALES[language], viewport={"width": width, "height": 900}
    )
    page = context.new_page()
    sign_in(page, base_url, username, password, language=language)
    expect(page).not_to_have_url(re.compile(r"/sign-in"))
    return page
