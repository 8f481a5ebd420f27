"""Input that once made a server error, each now refused naming its field (or kept, where
it was valid): what fuzzing the API and the forms found, one test per cause."""

from __future__ import annotations

import re
from datetime import date
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.models import Member, Purchase
from tests.factories import World, api_sign_in, enrolled_steps, make_member, sign_in_page


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


def test_special_dates_of_every_kind_are_kept_from_the_api_and_the_form(
    client: TestClient, world: World
):
    member = make_member(world)
    world.session.commit()
    headers = api_sign_in(client, "clerk.a")
    dates = [
        {"kind": "other", "date": "2019-06-01", "note": "孙子生日"},
        {"kind": "wedding_anniversary", "date": "1975-03-05", "note": ""},
    ]
    r = client.patch(f"/api/v1/members/{member.id}", json={"special_dates": dates},
                     headers=headers)  # fmt: skip
    assert r.status_code == 200, r.text
    stored = client.get(f"/api/v1/members/{member.id}", headers=headers).json()
    assert stored["special_dates"] == dates
    r = client.post("/api/v1/members", json={"card_number": "S0001", "name": "李四",
                    "special_dates": dates[:1]}, headers=headers)  # fmt: skip
    assert r.status_code == 201 and r.json()["special_dates"] == dates[:1]
    # The member form's own date fields, and the other dates it does not show, kept.
    token = sign_in_page(client, "clerk.a")
    r = client.post(
        f"/members/{member.id}",
        data={"csrf_token": token, "name": "王秀英", "spouse_birthday": "1950-10-01"},
    )
    assert r.status_code == 303, r.text
    assert 'value="1950-10-01"' in client.get(f"/members/{member.id}/edit").text
    world.session.refresh(member)
    assert {d["kind"]: d["date"] for d in member.special_dates} == {
        "other": "2019-06-01",
        "spouse_birthday": "1950-10-01",
    }


def test_a_period_that_cannot_be_measured_is_refused_naming_the_field(
    client: TestClient, world: World
):
    member = make_member(world)
    enrolled_steps(world, member, start=date(2024, 2, 20))  # tracks two drug classes
    world.session.commit()
    headers = api_sign_in(client, "clerk.a")
    url = f"/api/v1/purchases/adherence/{member.id}"
    for query, field in [
        ("start=2024-03-01&end=2024-01-01", "start"),  # from after to
        ("end=0001-01-02", "end"),  # the default start would be before year 1
        ("start=0001-01-01&end=2024-01-01", "start"),
        ("start=99999999999", "start"),  # a number read as seconds since 1970
        ("start=0", "start"),
        ("end=2024-1-5", "end"),
    ]:
        r = client.get(f"{url}?{query}", headers=headers)
        assert r.status_code == 422, (query, r.text)
        assert r.json()["error"]["field"] == field, query
    ok = client.get(f"{url}?start=2024-01-01&end=2024-03-01", headers=headers).json()
    assert {a["drug_class"] for a in ok} == {"bisphosphonates", "calcium_vitamin_d"}
    assert client.get(url, headers=headers).json()[0]["days_in_period"] == 0  # no fills
    # The audit's period and day go through the same check.
    supervisor = api_sign_in(client, "super")
    for query, field in [("as_of=0001-01-01", "as_of"), ("period_to=0001-01-05", "period_to")]:
        r = client.get(f"/api/v1/audit/report?{query}", headers=supervisor)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, (query, r.text)


def test_digits_that_are_not_ascii_are_refused_naming_the_field(client: TestClient, world: World):
    """str.isdigit() says yes to "²" (int() refuses it: a 500) and to "٣" (int() reads 3)."""
    member = make_member(world)
    world.session.commit()
    supervisor = api_sign_in(client, "super")
    manager = api_sign_in(client, "manager.a")
    line = {
        "card_number": member.card_number, "product_code": "A70", "product_name": "阿仑膦酸钠片",
        "quantity": 1, "purchased_on": "2024-02-01", "store_code": world.store_a.code,
        "amount": "58.00",
    }  # fmt: skip
    for digit in ("²", "٣"):
        r = client.get(f"/api/v1/audit/report?staff_id={digit}", headers=supervisor)
        assert r.status_code == 422 and r.json()["error"]["field"] == "staff_id", r.text
        lines = [line, line | {"quantity": digit}]
        r = client.post("/api/v1/purchases/import", json={"lines": lines}, headers=manager)
        assert r.status_code == 422, r.text
        assert [(e["line"], e["field"]) for e in r.json()["errors"]] == [(2, "quantity")]
    # A page's form field and query field, and the whole number too long for int().
    token = sign_in_page(client, "manager.a")
    for digit in ("²", "٣"):
        form = {"csrf_token": token, "card_number": "U0001", "name": "孙玉梅", "owner_id": digit}
        r = client.post("/members", data=form)
        assert r.status_code == 422 and "负责人：请从列表中选择" in r.text
        r = client.get(f"/?staff={digit}")
        assert r.status_code == 422 and "谁的联系名单：请从列表中选择" in r.text
    r = client.get("/api/v1/checkpoints?offset=" + "9" * 5000, headers=supervisor)
    assert r.status_code == 422 and r.json()["error"]["field"] == "offset"
    world.session.expire_all()
    assert world.session.scalar(select(func.count()).select_from(Member)) == 1
    assert world.session.scalar(select(func.count()).select_from(Purchase)) == 0


def test_a_nul_in_any_text_is_refused_naming_the_field(client: TestClient, world: World):
    """PostgreSQL refuses NUL in text (a server error); SQLite stored it."""
    member = make_member(world)
    world.session.commit()
    headers = api_sign_in(client, "clerk.a")
    url = f"/api/v1/members/{member.id}"
    for body, field in [
        ({"habits": "散\x00步"}, "habits"),
        ({"regular_medicines": [{"name": "钙\x00片"}]}, "regular_medicines.0.name"),
        ({"hobbies": ["太极"], "diet\x00": "少盐"}, "diet\x00"),  # a key, too
    ]:
        r = client.patch(url, json=body, headers=headers)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    r = client.get("/api/v1/members?q=王%00", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "q"
    r = client.get("/api/v1/protocols/osteo%00porosis/1", headers=headers)
    assert r.status_code == 422 and r.json()["error"]["field"] == "protocol_id"
    # A page's form and query string.
    token = sign_in_page(client, "clerk.a")
    r = client.post(f"/members/{member.id}", data={"csrf_token": token, "name": "王\x00秀英"})
    assert r.status_code == 422 and "姓名：含有 NUL 字符" in r.text
    assert client.get("/members?q=%00").status_code == 422
    world.session.refresh(member)
    assert member.name == "王秀英" and member.habits is None and member.hobbies == []


def test_an_unexpected_error_is_a_500_in_the_error_shape_with_its_request_id(
    client: TestClient, caplog: pytest.LogCaptureFixture
):
    def broken() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/api/v1/test-broken", broken)  # type: ignore[attr-defined]
    client.app.add_api_route("/test-broken", broken)  # type: ignore[attr-defined]
    seen = TestClient(client.app, raise_server_exceptions=False)
    r = seen.get("/api/v1/test-broken", headers={"X-Request-ID": "req-42.a"})
    assert r.status_code == 500
    assert r.json() == {"error": {"message": ANY, "field": None, "request_id": "req-42.a"}}
    assert r.headers["x-request-id"] == "req-42.a"
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"]
    logged = [x for x in caplog.records if "req-42.a" in x.getMessage()]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is RuntimeError
    # A page: the error page in the visitor's language; an id that is not a sane token
    # is replaced.
    words = {"zh": ("出错了", "请求编号"), "en": ("Something went wrong", "Request ID")}
    for language, shown in words.items():
        headers = {"Accept-Language": language, "X-Request-ID": "no good\tid" * 20}
        r = seen.get("/test-broken", headers=headers)
        rid = r.headers["x-request-id"]
        assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
        assert all(w in r.text for w in shown) and f'<code translate="no">{rid}</code>' in r.text
        assert "script-src 'self'" in r.headers["content-security-policy"]
    # Every other answer carries an id too.
    for path in ("/sign-in", "/api/v1/members", "/static/vendor/htmx/htmx.min.js"):
        assert re.fullmatch(r"[0-9a-f]{32}", client.get(path).headers["x-request-id"]), path


def test_a_csrf_token_that_is_not_ascii_is_refused_as_an_expired_form(client: TestClient):
    """hmac.compare_digest raised TypeError on it: a 500."""
    header = {"X-CSRF-Token": "é".encode("latin-1")}
    for sent in ({"data": {"csrf_token": "令牌"}}, {"headers": header}):
        r = client.post("/sign-in", **sent)  # type: ignore[arg-type]
        assert r.status_code == 403 and "表单已过期" in r.text, r.text[:300]
