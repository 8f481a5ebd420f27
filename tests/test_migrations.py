"""One Alembic history: up, down and up again on both databases, with no drift."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from careplan import migrate
from careplan.db import make_engine
from careplan.models import Base
from tests.conftest import drop_database, new_database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_go_up_down_and_up_with_no_drift_from_the_models(kind, tmp_path):
    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        migrate.check(url)  # raises if the models and migrations disagree
        engine = make_engine(url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        assert "checkpoints" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_change_log_entries_from_before_the_chain_are_sealed_in_order(kind, tmp_path):
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from careplan.db import make_session_factory
    from careplan.ledger import verify_all
    from careplan.models.base import JsonType, UTCDateTime

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url, "67476c1901db")  # the last revision without chains
        engine = make_engine(url)
        log = sa.table(
            "change_log", sa.column("at", UTCDateTime()), sa.column("actor_id"),
            sa.column("via"), sa.column("entity"), sa.column("entity_id"),
            sa.column("action"), sa.column("changes", JsonType),
        )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(
                log.insert(),
                [
                    {"at": datetime(2024, 3, 1, 2, i, 30, 123456, tzinfo=UTC), "actor_id": None,
                     "via": "cli", "entity": "member", "entity_id": i, "action": "create",
                     "changes": {"name": [None, f"会员{i}"], "allergies": [None, ["青霉素"]]}}
                    for i in range(3)
                ],
            )  # fmt: skip
        migrate.upgrade(url)
        with make_session_factory(engine)() as session:
            changes, accesses = verify_all(session)
        assert (changes.broken, changes.entries) == (None, 3)
        assert (accesses.broken, accesses.entries) == (None, 0)
        engine.dispose()
    finally:
        drop_database(token)
