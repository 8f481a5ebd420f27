"""The value snapshot's jobs: recomputed after a till import, nightly at 02:30 chain time,
and on demand (queued, never in the request)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from huey.storage import MemoryStorage
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careplan.jobs import engine, tasks
from careplan.models import MemberValue, ValueSnapshot
from careplan.value import analysis, snapshot
from careplan.vocab import ValuePeriod
from tests.careplan import test_jobs
from tests.careplan.test_jobs import _upload
from tests.factories import NOW, TODAY, World

queue = test_jobs.queue  # the tasks on an in-memory queue, on the test's database


def test_a_finished_till_import_refreshes_the_snapshot(
    world: World,
    queue: MemoryStorage,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):
    job = _upload(world, tmp_path, 3)  # three lines of ¥58 on one day
    monkeypatch.setattr("careplan.clock.now", lambda: NOW)
    monkeypatch.setattr("careplan.clock.today", lambda: TODAY)
    engine.huey.immediate = True
    tasks.queue_import(job.id)
    world.session.expire_all()
    snap = snapshot.current(world.session)
    assert snap is not None and snap.as_of == TODAY
    row = world.session.scalars(
        select(MemberValue).where(
            MemberValue.snapshot_id == snap.id, MemberValue.period == ValuePeriod.year_to_date
        )
    ).one()
    assert (row.spend, row.visits) == (Decimal("174.00"), 1)
    # The analysis pages' counts follow the same snapshot, not "not computed yet".
    run = analysis.current_run(world.session)
    assert run is not None and run.snapshot_id == snap.id and run.as_of == TODAY


def test_the_nightly_run_is_at_half_past_two_chain_time(
    world: World,
    queue: MemoryStorage,
    monkeypatch: pytest.MonkeyPatch,
):
    def count() -> int:
        world.session.expire_all()
        return len(world.session.scalars(select(ValueSnapshot)).all())

    monkeypatch.setattr("careplan.clock.now", lambda: datetime(2024, 3, 1, 17, 30, tzinfo=UTC))
    tasks.refresh_value_nightly.call_local()  # 01:30 in Shanghai
    assert count() == 0
    monkeypatch.setattr("careplan.clock.now", lambda: datetime(2024, 3, 1, 18, 30, tzinfo=UTC))
    tasks.refresh_value_nightly.call_local()
    assert count() == 1


def test_a_refresh_on_demand_is_queued(
    world: World,
    queue: MemoryStorage,
    session_factory: sessionmaker[Session],
):
    assert tasks.queue_value_refresh(world.manager_a.id)
    assert [t.name for t in engine.huey.pending()] == ["refresh_value_snapshot"]
    assert snapshot.current(world.session) is None  # nothing computed in the caller
