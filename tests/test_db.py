"""The database as configured: SQLite pragmas, and rules the schema itself enforces."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from careplan.models import CarePlan
from tests.careplan.test_plans import enroll
from tests.factories import NOW, World, make_member


def test_sqlite_runs_in_wal_mode_with_foreign_keys_on(engine: Engine):
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_the_database_refuses_a_second_live_plan_even_past_the_service(world: World):
    # Two clerks enrolling at the same moment both pass the service's check; the partial
    # unique index is what stops the second.
    member = make_member(world)
    first = enroll(world, member.id)
    world.session.add(
        CarePlan(
            member_id=member.id,
            protocol_id="osteoporosis",
            protocol_version_id=first.protocol_version_id,
            start_date=date(2024, 3, 5),
            enrolled_by_id=world.clerk_a.id,
            enrolled_at=NOW,
        )
    )
    with pytest.raises(IntegrityError):
        world.session.flush()
