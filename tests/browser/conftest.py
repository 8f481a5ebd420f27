"""A live server on a fresh, migrated database (SQLite, and PostgreSQL when configured)
and Debian's chromium driven by Playwright for Python (never a downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.plans import protocols
from tests.browser.live import CHROMIUM, CHROMIUM_ARGS, LiveServer, serving
from tests.databases import migrated_database
from tests.factories import shipped_protocols


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
        with serving(factory) as base:
            yield LiveServer(base, factory, url)
        engine.dispose()


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
        from careplan.value import snapshot

        snapshot.refresh(factory, as_of=clock.today(), now=clock.now())  # the spend pages' figures
        with serving(factory) as base:
            yield LiveServer(base, factory, url)
        engine.dispose()
