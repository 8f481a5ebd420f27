"""The settings page through the ASGI app, on both databases: each user chooses their
language."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import (
    sign_in_page,
)


def test_each_user_chooses_their_language(client: TestClient):
    token = sign_in_page(client, "clerk.a")
    assert "我的工作台" in client.get("/").text
    assert client.post("/settings", data={"csrf_token": token, "language": "en"}).status_code == 303
    assert "My worklist" in client.get("/").text
    r = client.post("/settings", data={"csrf_token": token, "language": "fr"})
    assert r.status_code == 422
