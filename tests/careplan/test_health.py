"""The health probes behind /healthz: the database answers, its schema is at the
migrations' head, the job engine's queue answers; a failure names the probe, and what it
says names no host."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, health, migrate
from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import make_engine, make_session_factory
from careplan.jobs import engine, lease, tasks
from careplan.models import SheetBatch, Store
from careplan.vocab import BatchState, Paper
from tests.databases import migrated_database


def factory_for(url: str) -> sessionmaker[Session]:
    return make_session_factory(make_engine(url))


pytestmark = pytest.mark.usefixtures("job_queue")  # a queue of the test's own


def test_a_migrated_database_passes_every_probe(committed_db: sessionmaker[Session]):
    found = health.check(committed_db)
    assert found.ok and found.failed == []
    head = ", ".join(sorted(health.code_heads()))
    assert found.as_dict() == {
        "status": "ok",
        "checks": {
            "db": {"ok": True, "detail": "reachable"},
            "migrations": {"ok": True, "detail": f"at {head}"},
            "jobs": {"ok": True, "detail": "0 waiting"},
        },
    }


def test_the_jobs_probe_says_how_many_tasks_wait(committed_db: sessionmaker[Session]):
    engine.huey.enqueue(tasks.sweep_jobs.s())
    assert health.check(committed_db).findings["jobs"] == health.Finding(True, "1 waiting")


def test_an_unreachable_job_queue_fails_the_jobs_probe_only(
    committed_db: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("CAREPLAN_JOBS_URL", "redis://127.0.0.1:1/0")  # nothing listens there
    get_settings.cache_clear()
    try:
        found = health.check(committed_db)
    finally:
        engine.reset()
        get_settings.cache_clear()
    assert found.failed == ["jobs"]
    assert found.findings["jobs"].detail.startswith("failed: ")
    assert "127.0.0.1" not in found.findings["jobs"].detail


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_one_migration_behind_fails_the_migrations_probe_only(kind: str, tmp_path: Path):
    with migrated_database(kind, tmp_path) as url:
        migrate.downgrade(url, "-1")
        factory = factory_for(url)
        try:
            found = health.check(factory)
        finally:
            factory.kw["bind"].dispose()
    assert not found.ok and found.failed == ["migrations"]
    (head,) = health.code_heads()
    detail = found.findings["migrations"].detail
    assert detail.startswith("database at ") and detail.endswith(f"code needs {head}")
    assert head not in detail.removesuffix(head)  # the database is somewhere else
    assert found.as_dict()["status"] == "failing" and found.as_dict()["failed"] == ["migrations"]


def test_an_empty_database_says_it_was_never_migrated(tmp_path: Path):
    factory = factory_for(f"sqlite:///{tmp_path / 'empty.db'}")
    found = health.check(factory)
    assert found.failed == ["migrations", "jobs"]  # the jobs' rows have no table either
    assert found.findings["migrations"].detail.startswith("database at no revision")


def test_an_unreachable_database_fails_both_probes_naming_no_address(
    caplog: pytest.LogCaptureFixture,
):
    # A PostgreSQL server that is not there: nothing listens on port 1.
    url = "postgresql+psycopg://careplan@127.0.0.1:1/careplan?connect_timeout=2"
    found = health.check(factory_for(url))
    assert found.failed == ["db", "migrations", "jobs"]  # the jobs' rows are in it too
    for name in found.failed:
        finding = found.findings[name]
        assert finding.detail == "failed: OperationalError"
        assert "127.0.0.1" not in finding.detail
    # The operator finds the cause in the log.
    assert any("127.0.0.1" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_a_probe_added_to_the_list_is_asked_and_named_when_it_fails(
    committed_db: sessionmaker[Session],
):
    def jobs(_session: Session) -> str:
        raise health.NotReady("no consumer has answered for 90 s")

    found = health.check(committed_db, {**health.PROBES, "consumers": jobs})
    assert found.failed == ["consumers"]
    assert found.as_dict()["checks"]["consumers"] == {  # type: ignore[index]
        "ok": False,
        "detail": "no consumer has answered for 90 s",
    }


def test_a_job_no_consumer_took_for_minutes_fails_the_jobs_probe(
    committed_db: sessionmaker[Session],
):
    """A queue that answers says nothing of who reads it: a QA walk killed the consumer
    and /healthz still said ok while the day's sheets waited."""
    now = clock.now()
    with committed_db() as s:
        s.info["actor"] = Actor.system("test")
        store = Store(code="H001", name="健康店", region="华东")
        s.add(store)
        s.flush()
        batch = SheetBatch(requested_at=now, store_id=store.id, on_date=now.date(),
                           paper=Paper.a4, checkpoint_ids="1", state=BatchState.queued,
                           total=1, updated_at=now)  # fmt: skip
        s.add(batch)
        s.commit()
    assert health.check(committed_db).findings["jobs"].ok  # just queued: fine
    with committed_db() as s:
        s.get_one(SheetBatch, batch.id).updated_at = now - lease.UNATTENDED_AFTER * 1.5
        s.commit()
    found = health.check(committed_db)
    assert found.failed == ["jobs"]
    assert found.findings["jobs"].detail == (
        "1 job(s) untouched for 3 minutes: is a consumer running?"
    )
