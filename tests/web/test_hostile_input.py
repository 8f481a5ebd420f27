"""Input that once made a server error, each now refused naming its field (or kept, where
it was valid): what fuzzing the API and the forms found, one test per cause."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import World, make_member
from tests.web.conftest import api_sign_in


def test_null_where_the_archive_always_has_a_value_is_refused_naming_the_field(
    client: TestClient, world: World
):
    member = make_member(world)
    world.session.commit()
    headers = api_sign_in(client, "clerk.a")
    url = f"/api/v1/members/{member.id}"
    for field in ("name", "language", "drug_allergies", "regular_medicines", "hobbies",
                  "special_dates"):  # fmt: skip
        r = client.patch(url, json={field: None}, headers=headers)
        assert r.status_code == 422, (field, r.text)
        assert r.json()["error"]["field"] == field
    r = client.post("/api/v1/members", json={"card_number": "N0001", "name": None},
                    headers=headers)  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["field"] == "name"
    world.session.refresh(member)
    assert member.name == "王秀英" and member.drug_allergies == ["青霉素"]
    # Null still empties a field that may be empty, and [] a list.
    r = client.patch(url, json={"habits": "散步", "hobbies": ["太极"]}, headers=headers)
    r = client.patch(url, json={"habits": None, "hobbies": []}, headers=headers)
    assert r.status_code == 200 and r.json()["habits"] is None and r.json()["hobbies"] == []

