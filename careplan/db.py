"""Engines and sessions. Services flush; the caller (request or CLI command) commits once."""

from __future__ import annotations

import sqlite3
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from careplan.config import get_settings
from careplan.trust import change_log  # noqa: F401  (every session logs care-data changes)

# How long a writer waits for SQLite's write lock before giving up: long enough that a
# burst queues rather than fails (no transaction holds the lock through slow work).
BUSY_TIMEOUT_S = 30.0


class WriteQueue:
    """This process's writers of one SQLite database, served in the order they came.

    SQLite's own wait for its write lock is a sleep-and-retry: a writer that releases the
    lock and asks again at once nearly always wins it back, while one that has waited long
    sleeps 100 ms between tries, so under steady writes some waiters starve past any
    timeout. Writers of this process take a ticket here first; SQLite's wait then only
    arbitrates between processes."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._turn = threading.Condition()
        self._waiting: deque[object] = deque()

    def enter(self) -> object:
        ticket = object()
        with self._turn:
            self._waiting.append(ticket)
            if not self._turn.wait_for(lambda: self._waiting[0] is ticket, self.timeout):
                self._waiting.remove(ticket)
                self._turn.notify_all()
                raise sqlite3.OperationalError("database is locked (waited for other writers)")
        return ticket

    def leave(self, ticket: object) -> None:
        with self._turn:
            if self._waiting and self._waiting[0] is ticket:
                self._waiting.popleft()
                self._turn.notify_all()


class QueuedConnection(sqlite3.Connection):
    """A pysqlite connection that gives up its place in the WriteQueue once its write
    transaction has ended, however it ends (commit, rollback, a pool reset, close)."""

    write_queue: WriteQueue | None = None
    ticket: object | None = None

    def _leave(self) -> None:
        if self.ticket is not None and self.write_queue is not None:
            ticket, self.ticket = self.ticket, None
            self.write_queue.leave(ticket)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self._leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self._leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._leave()


def _sqlite_setup(engine: Engine) -> None:
    queue = WriteQueue(BUSY_TIMEOUT_S)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite opens transactions lazily and mishandles SAVEPOINT; take control of
        # BEGIN ourselves (SQLAlchemy's documented recipe) so nested transactions work.
        dbapi_connection.isolation_level = None
        dbapi_connection.write_queue = queue
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        # 64 MB of page cache (the default is 2 MB): bulk writes touch several indexes,
        # and a till import slowed threefold once they outgrew the cache.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(WRITING, False):
            connection.exec_driver_sql("BEGIN")
            return
        dbapi = connection.connection.dbapi_connection
        dbapi.ticket = queue.enter()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi._leave()
            raise


WRITING = "careplan_writing"


def begin_for_writing(session: Session) -> None:
    """Start the session's transaction as one that will write.

    On SQLite a transaction that reads first and writes later cannot wait for another
    writer that committed in between: its snapshot is stale, and it fails at once
    ("database is locked") whatever the busy timeout. Taking the write lock at BEGIN
    makes writers queue instead (busy_timeout). PostgreSQL ignores the option."""
    session.connection(execution_options={WRITING: True})


def begin_writing_after_reads(session: Session) -> None:
    """End a transaction that has only read so far and start one that will write.

    For work that reads, then does something slow (a PDF's layout), then writes: the slow
    part runs in a read transaction, which on SQLite blocks no writer, and the write lock
    is held only for the writes. Refuses to drop writes already made."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_writing_after_reads after a write: it would be lost")
    session.commit()  # nothing written: this only ends the read snapshot
    begin_for_writing(session)


# Connections a process's engine keeps (and may open beyond them): web/admission.py lets
# in half as many requests at once, as a request may hold two.
POOL_SIZE, POOL_OVERFLOW = 10, 10
POOL_CONNECTIONS = POOL_SIZE + POOL_OVERFLOW


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    url = url or get_settings().database_url
    if ":memory:" not in url:  # an in-memory SQLite database has a pool of its own kind
        kwargs = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW, **kwargs}
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"factory": QueuedConnection, **kwargs.pop("connect_args", {})}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _sqlite_setup(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: routes return ORM objects that are serialised after commit.
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def transaction(
    factory: sessionmaker[Session], *, actor: Any, writing: bool = False
) -> Iterator[Session]:
    """One operation, one transaction: commit on success, roll back on any error.
    `writing`: it reads before it writes, so take SQLite's write lock at BEGIN."""
    session = factory()
    session.info["actor"] = actor
    try:
        if writing:
            begin_for_writing(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
