"""The browser tests' tools: Debian's chromium and how it is started, the live server the
tests drive (the app under uvicorn in a thread), a job consumer beside it, and a page
signed in to it."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from careplan.config import get_settings
from careplan.jobs import engine
from tests.factories import PASSWORD, ROOT
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
    database_url: str


@contextmanager
def consuming(server: LiveServer, tmp: Path) -> Iterator[None]:
    """A job consumer (`careplan jobs consume`, a process of its own as `careplan serve`
    starts it) on a queue of the block's own, which the live server queues on."""
    queue = {"CAREPLAN_JOBS_URL": f"sqlite:///{tmp / 'jobs.db'}",
             "CAREPLAN_WORK_DIR": str(tmp / "work")}  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in queue.items():
            patch.setenv(name, value)
        get_settings.cache_clear()
        env = os.environ | {"CAREPLAN_DATABASE_URL": server.database_url}
        consumer = subprocess.Popen(
            [sys.executable, "-m", "web", "jobs", "consume"], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield
        finally:
            consumer.kill()
            consumer.wait(timeout=10)
            engine.reset()
    get_settings.cache_clear()


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
