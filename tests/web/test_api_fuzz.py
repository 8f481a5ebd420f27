"""Hostile input to the JSON API: schemathesis generates requests from the OpenAPI spec
(`/api/v1/openapi.json`), valid and invalid, in every phase it has (examples, coverage,
fuzzing, and stateful sequences over the links it infers), and every answer must be a
clear one: no server error, and every 4xx the API's error shape naming the field.

Bounded (EXAMPLES per operation, seeded) so the run stays a couple of minutes;
benchmarks/fuzz.py runs the same at 100 examples per operation.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from tests import api_fuzz
from tests.factories import TravelClock, World, api_sign_in

EXAMPLES = 1


def test_no_request_makes_a_server_error(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
) -> None:
    api_fuzz.something_to_find(world, clock.now)
    found = api_fuzz.run(
        client.app, session_factory, world.supervisor.id, lambda: clock.now, examples=EXAMPLES
    )  # type: ignore[arg-type]
    assert found.operations > 50  # the whole API, not a corner of it
    problems = found.failures + found.errors + found.problems
    assert not problems, "\n".join(problems)
    # Every phase sent requests; both kinds came back, accepted and refused.
    assert set(found.by_phase) == {"examples", "coverage", "fuzzing", "stateful"}, found.by_phase
    statuses = found.statuses
    assert sum(statuses[c] for c in (200, 201, 204)) > 20 and statuses[422] > 20, statuses
    print(f"API fuzz: {found.requests} requests in {found.seconds} s, "
          f"{dict(sorted(statuses.items()))}, by phase {dict(found.by_phase)}")  # fmt: skip


def test_numbers_too_large_for_the_database_are_refused_naming_the_field(client: TestClient):
    """What the fuzzing first found: each of these was a server error."""
    headers = api_sign_in(client, "super")
    huge = 2**63
    r = client.get(f"/api/v1/checkpoints?limit=1&offset={huge}", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "offset"
    r = client.get(f"/api/v1/members/{huge}", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "member_id"
    r = client.post(
        "/api/v1/lectures", json={"store_id": huge, "title_zh": "讲座"}, headers=headers
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "store_id"
    r = client.get("/api/v1/protocols/osteoporosis/2147483648", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "version"
