"""Hostile input to the JSON API: schemathesis generates requests from the OpenAPI spec
(`/api/v1/openapi.json`), valid and invalid, and every answer must be a clear one: no
server error, and every 4xx the API's error shape naming the field.

Bounded (EXAMPLES per operation, derandomised) so the run stays a couple of minutes.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.conftest import World, enrolled_steps, make_member
from tests.web.conftest import api_sign_in

EXAMPLES = 10


def _something_to_find(world: World) -> None:
    """A member with a plan and steps, so generated ids 1, 2, ... reach real rows."""
    member = make_member(world)
    enrolled_steps(world, member, start=date(2024, 2, 20))
    world.session.commit()


def test_no_request_makes_a_server_error(client: TestClient, world: World) -> None:
    _something_to_find(world)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50  # the whole API, not a corner of it
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        # A token per operation: the sign-out operation ends the one it is sent with.
        headers = api_sign_in(client, "super")

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def answer_clearly(case: Any) -> None:
            response = case.call(headers=headers)  # noqa: B023 (called in this iteration)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if 400 <= response.status_code < 500 and response.status_code != 405:
                body = response.json()
                assert body["error"]["message"], (case.method, case.path, body)

        try:
            answer_clearly()
        except AssertionError as exc:
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n".join(failures)
    # Both kinds were sent: accepted requests and refused ones.
    assert sum(statuses[c] for c in (200, 201, 204)) > 20 and statuses[422] > 20, statuses
    print(f"API fuzz: {sum(statuses.values())} requests, {dict(sorted(statuses.items()))}")


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
