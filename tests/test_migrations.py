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
