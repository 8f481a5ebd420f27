"""Test databases are built by running the migrations, on SQLite and (when
CAREPLAN_TEST_DATABASE_URL is set) on PostgreSQL; each test runs in a transaction that is
rolled back, so tests never see each other's rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from careplan import sign_in
from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from tests import _REAL_HASHER
from tests.databases import PG_SKIP, drop_templates, migrated_database
from tests.factories import World, make_world


@pytest.fixture
def real_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """argon2 at the cost production pays, for the tests about what that cost does."""
    monkeypatch.setattr(sign_in, "_hasher", _REAL_HASHER)
    sign_in._dummy_hash.cache_clear()
    yield
    sign_in._dummy_hash.cache_clear()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """This worker's PostgreSQL templates go with the run."""
    drop_templates()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """A fresh migrated database whose sessions really commit (concurrency tests)."""
    with migrated_database(request.param, tmp_path) as url:
        engine = make_engine(url)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        outer = conn.begin()
        yield conn
        outer.rollback()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    # Commits inside the code under test release a SAVEPOINT; the outer rollback undoes all.
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    s = session_factory()
    s.info["actor"] = Actor.system("test")
    yield s
    s.close()


# The audit's hand-built chain fixture, shared by the domain and web tests.
pytest_plugins = ["tests.audit_chain"]


@pytest.fixture
def world(session: Session) -> World:
    return make_world(session)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(1 for r in skipped if PG_SKIP in str(r.longrepr))
    if n:
        terminalreporter.write_line(f"{n} tests not run on PostgreSQL. {PG_SKIP}")


@pytest.fixture
def job_queue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A job queue of the test's own (huey's SQLite file in its folder), so that nothing
    the test queues lands in var/ or in another test's queue."""
    from careplan.config import get_settings
    from careplan.jobs import engine

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    monkeypatch.setenv("CAREPLAN_JOBS_URL", url)
    get_settings.cache_clear()
    yield url
    engine.reset()
    get_settings.cache_clear()
