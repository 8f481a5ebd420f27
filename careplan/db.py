"""Engines and sessions. Services flush; the caller (request or CLI command) commits once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from careplan import change_log  # noqa: F401  (every session logs care-data changes)
from careplan.config import get_settings


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and mishandles SAVEPOINT; take control of
        # BEGIN ourselves (SQLAlchemy's documented recipe) so nested transactions work.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # 64 MB of page cache (the default is 2 MB): bulk writes touch several indexes,
        # and a till import slowed threefold once they outgrew the cache.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get(WRITING, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITING = "careplan_writing"


def begin_for_writing(session: Session) -> None:
    """Start the session's transaction as one that will write.

    On SQLite a transaction that reads first and writes later cannot wait for another
    writer that committed in between: its snapshot is stale, and it fails at once
    ("database is locked") whatever the busy timeout. Taking the write lock at BEGIN
    makes writers queue instead (busy_timeout). PostgreSQL ignores the option."""
    session.connection(execution_options={WRITING: True})


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or get_settings().database_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: routes return ORM objects that are serialised after commit.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(factory: sessionmaker[Session], *, actor: Any) -> Iterator[Session]:
    """One operation, one transaction: commit on success, roll back on any error."""
    session = factory()
    session.info["actor"] = actor
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
