"""The request id in the logs: every line logged while a request runs carries it, the
request's own access line (one per request, none for /healthz) too, and an error answer
shows the same id to whoever reports it."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from careplan.logs import JsonFormatter, TextFormatter


class Lines:
    """What a server process would write to its log, one formatted line each."""

    def __init__(self, formatter: logging.Formatter) -> None:
        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(formatter)

    def text(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def json(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.text()]


def _capture(formatter: logging.Formatter) -> Iterator[Lines]:
    lines = Lines(formatter)
    root, requests = logging.getLogger(), logging.getLogger("careplan.requests")
    before = requests.level
    root.addHandler(lines.handler)
    requests.setLevel(logging.INFO)  # as the server's log configuration sets it
    try:
        yield lines
    finally:
        root.removeHandler(lines.handler)
        requests.setLevel(before)


@pytest.fixture
def json_log() -> Iterator[Lines]:
    yield from _capture(JsonFormatter())


@pytest.fixture
def text_log() -> Iterator[Lines]:
    yield from _capture(TextFormatter())


def test_every_line_of_a_failing_request_and_its_error_answer_carry_one_request_id(
    client: TestClient, json_log: Lines
):
    def broken() -> None:
        logging.getLogger("careplan.test").warning("about to fail")
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/v1/test-broken", broken)  # type: ignore[attr-defined]
    seen = TestClient(client.app, raise_server_exceptions=False)
    r = seen.get("/api/v1/test-broken?card=T100001")
    rid = r.headers["x-request-id"]
    assert r.status_code == 500 and r.json()["error"]["request_id"] == rid
    lines = json_log.json()
    assert [(line["logger"], line["level"]) for line in lines] == [
        ("careplan.test", "WARNING"),
        ("careplan.requests", "INFO"),
        ("web.errors", "ERROR"),
    ]
    assert all(line["request_id"] == rid for line in lines)
    access = lines[1]
    assert access["method"] == "GET" and access["status"] == 500
    # The query string (a card number, a name searched for) stays out of the log.
    assert access["path"] == "/api/v1/test-broken" and "T100001" not in json_log.text()[1]
    assert isinstance(access["duration_ms"], float) and access["client"] == "testclient"
    assert "RuntimeError: a bug" in str(lines[2]["exc"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", str(access["time"]))


def test_each_request_gets_one_access_line_with_its_own_id_and_an_api_refusal_shows_it(
    client: TestClient, json_log: Lines
):
    page = client.get("/sign-in")
    refused = client.get("/api/v1/members")  # not signed in
    health = client.get("/healthz")
    assert page.status_code == 200 and refused.status_code == 401 and health.status_code == 200
    lines = json_log.json()
    assert [(x["path"], x["status"], x["request_id"]) for x in lines] == [
        ("/sign-in", 200, page.headers["x-request-id"]),
        ("/api/v1/members", 401, refused.headers["x-request-id"]),
    ]  # and none for /healthz, which a load balancer asks every few seconds
    assert refused.json()["error"]["request_id"] == refused.headers["x-request-id"]
    assert page.headers["x-request-id"] != refused.headers["x-request-id"]


def test_a_proxys_request_id_is_the_one_logged_and_answered(client: TestClient, json_log: Lines):
    r = client.get("/api/v1/members", headers={"X-Request-ID": "nginx-7f3a9c"})
    assert r.headers["x-request-id"] == "nginx-7f3a9c"
    assert r.json()["error"]["request_id"] == "nginx-7f3a9c"
    assert [x["request_id"] for x in json_log.json()] == ["nginx-7f3a9c"]


def test_text_lines_carry_the_request_id_in_brackets(client: TestClient, text_log: Lines):
    r = client.get("/sign-in")
    (line,) = text_log.text()
    assert f"INFO    careplan.requests [{r.headers['x-request-id']}] GET /sign-in 200 " in line
    logging.getLogger("careplan.test").warning("outside any request")
    assert "careplan.test [-] outside any request" in text_log.text()[-1]
