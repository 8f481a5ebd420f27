"""What the page benchmarks share (not a benchmark itself: tests/test_benchmarks.py skips
files starting with "_"): the SQL a request ran, captured on the engine and replayed bare
as the page's floor; percentiles; a signed-in cookie; the clock frozen on the data's day;
a throw-away database with the shipped protocols, and its planner's statistics.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, csv_export, sessions
from careplan.access import Actor
from careplan.models import Staff

TRANSACTION = {"BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"}


@dataclass
class Capture:
    """The SQL a request ran, as the driver got it (listen on before_cursor_execute)."""

    on: bool = False
    statements: list[tuple[str, Any, bool]] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, params: Any, *rest: Any) -> None:
        if self.on:  # a named cursor is PostgreSQL's server-side cursor (a streamed export)
            self.statements.append((statement, params, getattr(cursor, "name", None) is not None))


def pct(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0


def replay(engine: Engine, statements: list[tuple[str, Any, bool]]) -> float:
    """The statements alone, on a raw DB-API connection, every row fetched, each through
    the kind of cursor the page used (a streamed export reads a server-side cursor in
    chunks, which PostgreSQL plans without parallel workers). Writes are rolled back."""
    import time

    raw = engine.raw_connection()
    try:
        plain = raw.cursor()
        started = time.perf_counter()
        for n, (statement, params, named) in enumerate(statements):
            if statement.strip().upper() in TRANSACTION:
                continue  # the raw connection keeps its own transaction
            cursor = raw.cursor(name=f"floor{n}") if named else plain
            if not statement.lstrip().upper().startswith("SELECT"):
                _write_again(plain, statement, params)
                continue
            cursor.execute(statement, params)
            if cursor.description is None:
                continue
            if named:
                while cursor.fetchmany(csv_export.CSV_CHUNK):
                    pass
                cursor.close()
            else:
                cursor.fetchall()
        seconds = time.perf_counter() - started
        raw.rollback()
        return seconds
    finally:
        raw.close()


def _write_again(cursor: Any, statement: str, params: Any) -> None:
    """A page's write (its access-log entry, a session touch) replayed as well: it is
    work the page needs. Again it may break a unique key the first write now holds (the
    entry's place in its chain): the database has done the same work by then, and the
    savepoint keeps the floor's transaction usable."""
    cursor.execute("SAVEPOINT floor_write")
    try:
        cursor.execute(statement, params)
    except Exception:  # the DB-API's IntegrityError, whichever driver
        cursor.execute("ROLLBACK TO SAVEPOINT floor_write")
    cursor.execute("RELEASE SAVEPOINT floor_write")


def sign_in(factory: sessionmaker[Session], username: str, now: datetime) -> str:
    """A web session's cookie value for `username`, as the sign-in form opens one."""
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        who = s.scalars(select(Staff).where(Staff.username == username)).one()
        token = sessions.open_session(s, who, kind="web", hours=12, now=now)
        s.commit()
    return token


def freeze_clock(now: datetime, today: date) -> None:
    """The pages see the day the data was built for. Not with FastAPI's
    dependency_overrides: any override makes FastAPI analyse every dependency again on
    every request (about 2 ms a page), which a served page never pays."""
    clock.now = lambda: now  # type: ignore[assignment]
    clock.today = lambda: today  # type: ignore[assignment]


def publish_protocols(session: Session) -> None:
    """The shipped protocols, as `careplan protocols load` publishes them."""
    from careplan.config import ROOT
    from careplan.plans import protocols

    protocols.publish(session, protocols.read_files(protocols.protocol_files(ROOT / "protocols")))


def analyze(engine: Engine) -> None:
    """Statistics for the planner (and, on PostgreSQL, visibility for index-only scans)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")


@contextmanager
def throwaway_database(db: str, name: str, pg_base: str) -> Iterator[str]:
    """A database of this run's own, gone afterwards: a SQLite file in a temporary folder,
    or a PostgreSQL database `careplan_bench_<name>_<pid>` on the server at `pg_base`."""
    if db == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / f'{name}.db'}"
        return
    database = f"careplan_bench_{name}_{os.getpid()}"
    admin = create_engine(f"{pg_base}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield f"{pg_base}/{database}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()
