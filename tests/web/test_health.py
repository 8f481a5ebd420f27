"""GET /healthz: no sign-in, 200 when every probe passes, 503 naming the failed ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from careplan import migrate
from careplan.db import make_engine, make_session_factory
from tests.databases import migrated_database
from web.app import create_app

pytestmark = pytest.mark.usefixtures("job_queue")  # a queue of the test's own


def test_healthz_answers_200_without_sign_in_when_all_probes_pass(client: TestClient):
    r = client.get("/healthz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert {name: c["ok"] for name, c in body["checks"].items()} == {
        "db": True,
        "migrations": True,
        "jobs": True,
    }
    assert r.headers["cache-control"] == "no-store" and r.headers["x-request-id"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_healthz_answers_503_naming_migrations_on_a_database_behind_the_code(
    kind: str, tmp_path: Path
):
    with migrated_database(kind, tmp_path) as url:
        migrate.downgrade(url, "-1")
        engine = make_engine(url)
        try:
            with TestClient(create_app(make_session_factory(engine))) as c:
                r = c.get("/healthz")
        finally:
            engine.dispose()
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "failing" and body["failed"] == ["migrations"]
    assert body["checks"]["db"]["ok"] is True
    assert "code needs" in body["checks"]["migrations"]["detail"]
