"""Backups that restore: `careplan backup FILE` and `careplan restore FILE`.

SQLite is copied with its online backup API: a consistent snapshot taken while the
app keeps writing (WAL readers do not block writers). PostgreSQL is dumped with pg_dump
(custom format, one consistent snapshot) and restored with pg_restore in one
transaction. A restore is checked before it is called done: the database's integrity,
the schema at the newest migration, and each table's row count, reported.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import make_url

from careplan.db import make_engine
from careplan.errors import N_, InvalidInput
from careplan.migrate import alembic_config


@dataclass
class Checked:
    """What a backup or restored database holds."""

    counts: dict[str, int] = field(default_factory=dict)
    at_head: bool = False
    integrity: str = ""


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise InvalidInput(N_("backups need a database file"), field="database_url")
    return Path(database)


def _libpq(url: str) -> str:
    """pg_dump's spelling of the URL (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(N_("%(tool)s is not installed (apt-get install postgresql-client)"),
                           field="database_url", tool=name)  # fmt: skip
    return found


def backup(url: str, out: Path) -> None:
    """Write a backup of the running database to `out`."""
    if out.exists():
        raise InvalidInput(N_("%(file)s exists: choose a new file name"), field="file", file=out)
    if make_url(url).get_backend_name() == "sqlite":
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(out)
        try:
            source.backup(target)  # all pages in one step: one snapshot
        finally:
            target.close()
            source.close()
        return
    done = subprocess.run(
        [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={out}",
         f"--dbname={_libpq(url)}"],
        capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        out.unlink(missing_ok=True)
        raise InvalidInput(N_("pg_dump failed: %(error)s"), field="database_url",
                           error=done.stderr.strip())  # fmt: skip


def restore(url: str, source: Path) -> Checked:
    """Replace the database at `url` with the backup in `source` (the app stopped),
    then check it."""
    if not source.is_file():
        raise InvalidInput(N_("no such backup: %(file)s"), field="file", file=source)
    if make_url(url).get_backend_name() == "sqlite":
        backup_db = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        target = sqlite3.connect(_sqlite_path(url))
        try:
            backup_db.backup(target)
        finally:
            target.close()
            backup_db.close()
    else:
        done = subprocess.run(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
             f"--dbname={_libpq(url)}", str(source)],
            capture_output=True, text=True,
        )  # fmt: skip
        if done.returncode != 0:
            raise InvalidInput(N_("pg_restore failed: %(error)s"), field="file",
                               error=done.stderr.strip())  # fmt: skip
    return check(url)


def check(url: str) -> Checked:
    """Integrity, migration head and row counts of the database at `url`."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                integrity = str(conn.exec_driver_sql("PRAGMA integrity_check").scalar())
            else:
                integrity = "ok"  # pg_restore checked every constraint in its transaction
            current = MigrationContext.configure(conn).get_current_revision()
            head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
            counts = {
                name: int(conn.execute(select(func.count()).select_from(table(name))).scalar_one())
                for name in sorted(inspect(conn).get_table_names())
            }
    finally:
        engine.dispose()
    return Checked(counts=counts, at_head=current == head, integrity=integrity)
