"""Test databases, built by running the migrations: on SQLite and (when
CAREPLAN_TEST_DATABASE_URL is set) on PostgreSQL, each xdist worker from migrated
templates of its own."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text

from careplan import migrate
from careplan.db import make_engine

PG_ENV = "CAREPLAN_TEST_DATABASE_URL"
PG_SKIP = (
    f"PostgreSQL run skipped: set {PG_ENV}=postgresql+psycopg://postgres@127.0.0.1:5432/test "
    "to run every database test on PostgreSQL too (.ci/run does)"
)


def _worker() -> str:
    """pytest-xdist's worker name (gw0, gw1, …), or "main" in a plain run."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def _server_url(base: str) -> Any:
    """The PostgreSQL server's maintenance database: where databases are made and dropped."""
    return make_url(base).set(database="postgres")


def _on_server(base: str, statement: str) -> None:
    """One CREATE or DROP DATABASE, run on the server's maintenance database."""
    admin = make_engine(_server_url(base).render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(statement))
    admin.dispose()


def _pg_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


def _pg_name(base: str, suffix: str) -> str:
    """This worker's databases are named for it: `test_gw0_…`."""
    return f"{make_url(base).database}_{_worker()}_{suffix}"


def _pg_template(base: str) -> str:
    """This worker's migrated template database, built once per run. Each worker has
    databases of its own, so one worker's locks (the logs' advisory locks, one per
    person's chain) never keep another waiting."""
    name = _pg_name(base, "template")
    if name not in _TEMPLATES:
        _on_server(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _on_server(base, f'CREATE DATABASE "{name}"')
        migrate.upgrade(_pg_url(base, name))
        _TEMPLATES[name] = _pg_url(base, name)
    return name


def _sqlite_template(tmp: Path) -> Path:
    """A migrated SQLite file, built once per run and copied for each new database
    (a copy takes milliseconds, the migrations a second)."""
    key = f"sqlite_{_worker()}"
    if key not in _TEMPLATES:
        path = tmp.parent / f"template-{uuid.uuid4().hex}.db"
        migrate.upgrade(f"sqlite:///{path}")
        _TEMPLATES[key] = str(path)
    return Path(_TEMPLATES[key])


_TEMPLATES: dict[str, str] = {}


def _pg_base() -> str:
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(PG_SKIP)
    return base


def new_database(kind: str, tmp: Path, *, migrated: bool = False) -> tuple[str, object]:
    """A fresh database, empty or (migrated=True) a copy of this worker's migrated
    template: (url, cleanup token)."""
    if kind == "sqlite":
        path = tmp / f"{uuid.uuid4().hex}.db"
        if migrated:
            shutil.copyfile(_sqlite_template(tmp), path)
        return f"sqlite:///{path}", None
    base = _pg_base()
    name = _pg_name(base, uuid.uuid4().hex[:10])
    like = f' TEMPLATE "{_pg_template(base)}"' if migrated else ""
    _on_server(base, f'CREATE DATABASE "{name}"{like}')
    return _pg_url(base, name), (base, name)


def drop_database(token: object) -> None:
    if token is None:
        return
    base, name = token  # type: ignore[misc]
    _on_server(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def migrated_database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh database as the migrations leave it, dropped afterwards: a copy of this
    worker's migrated template (tests/test_migrations.py runs the migrations themselves)."""
    url, token = new_database(kind, tmp, migrated=True)
    try:
        yield url
    finally:
        drop_database(token)


def drop_templates() -> None:
    """This worker's PostgreSQL templates go with the run."""
    for name in list(_TEMPLATES):
        if not name.startswith("sqlite_"):
            drop_database((os.environ[PG_ENV], name))
        _TEMPLATES.pop(name)
