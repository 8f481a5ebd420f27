"""Alembic environment: the URL comes from CAREPLAN_DATABASE_URL unless a caller (tests,
CLI) hands over a connection or URL in config.attributes."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from careplan.db import make_engine
from careplan.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by copying it and dropping the old one; with foreign keys
        # enforced the drop fails as soon as other tables refer to its rows. Enforcement
        # is off for the migration (it can only change outside a transaction) and the
        # whole database is checked before the migration commits.
        _foreign_keys(connection, on=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            render_as_batch=sqlite,  # SQLite alters by copying
            version_table_schema=config.attributes.get("schema"),
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                _no_dangling_references(connection)
    finally:
        if sqlite:
            _foreign_keys(connection, on=True)


def _foreign_keys(connection: Connection, *, on: bool) -> None:
    # On the DB-API connection: through SQLAlchemy it would run inside a BEGIN, where
    # SQLite ignores it.
    connection.connection.dbapi_connection.execute(  # type: ignore[union-attr]
        f"PRAGMA foreign_keys={'ON' if on else 'OFF'}"
    )


def _no_dangling_references(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"the migration left rows referring to nothing: {broken[:5]}")


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.attributes.get("url"))
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
run_migrations_online()
