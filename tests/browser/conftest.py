"""A live server on a fresh, migrated database (SQLite, and PostgreSQL when configured)
and Debian's chromium driven by Playwright for Python (never a downloaded browser)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Playwright, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.plans import protocols
from tests.databases import migrated_database
from tests.factories import shipped_protocols
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


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    with migrated_database(request.param, tmp_path_factory.mktemp("live")) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session:
            session.info["actor"] = Actor.system("test")
            protocols.publish(session, shipped_protocols())
            session.commit()
        with _serving(factory) as base:
            yield LiveServer(base, factory)
        engine.dispose()


@contextmanager
def _serving(factory: sessionmaker[Session]) -> Iterator[str]:
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


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.fail("no /usr/bin/chromium: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The `make run` demo chain (two stores, every persona) on SQLite: for walking pages
    whose markup does not depend on the database (accessibility, the API page)."""
    from careplan import clock
    from careplan.demo import chain

    with migrated_database("sqlite", tmp_path_factory.mktemp("demo")) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session:
            session.info["actor"] = Actor.system("demo")
            protocols.publish(session, shipped_protocols())
            chain.seed(session, today=clock.today(), now=clock.now())
            session.commit()
        with _serving(factory) as base:
            yield LiveServer(base, factory)
        engine.dispose()
