"""Hostile text in every text field of the archive: script tags, SQL fragments, rare CJK
outside the BMP, emoji, a spreadsheet formula and notes of the longest allowed length
come back as the same text, escaped, on pages, in CSV, in PDFs and in the export; text
longer than a field allows is refused naming the field, and nothing is written."""

from __future__ import annotations

import csv
import io
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.audit.audit import STEP_FIELDS
from careplan.members.archive import MemberFields
from careplan.models import Member
from tests import pdf
from tests.factories import World, api_sign_in, sign_in_page

SCRIPT = "<script>alert('x')</script>"
SQL = "'; DROP TABLE members; --"
RARE = "𠮷𩸽"  # CJK Extension B: outside the Basic Multilingual Plane
EMOJI = "😀👨‍👩‍👧"
NAME = f"=HYPERLINK(1){SCRIPT}{RARE}"[:80]
LONG = ("长" * 3990 + SCRIPT)[:4000]


def _hostile(field: str, limit: int) -> str:
    return f"{field}:{SCRIPT}{SQL}{RARE}{EMOJI}"[:limit]


def _archive() -> dict[str, object]:
    """Every free-text field of the archive, each at its own limit."""
    texts: dict[str, object] = {}
    for name, info in MemberFields.model_fields.items():
        limit = next((m.max_length for m in info.metadata if hasattr(m, "max_length")), 80)
        # A referrer is named by a card number that must exist: not free text.
        if name in ("mobile", "landline", "email", "name", "special_dates", "regular_medicines",
                    "referred_by_card"):  # fmt: skip
            continue
        if "list" in str(info.annotation):
            texts[name] = [_hostile(name, 80)]
        elif "str" in str(info.annotation):
            texts[name] = _hostile(name, limit or 80)
    return texts | {"habits": LONG, "name": NAME, "card_number": "H0001", "health_consent": True,
                    "regular_medicines": [{"name": _hostile("medicine", 80)}]}  # fmt: skip


def test_hostile_text_comes_back_escaped_everywhere(client: TestClient, world: World):
    api = api_sign_in(client, "clerk.a")
    r = client.post("/api/v1/members", json=_archive(), headers=api)
    assert r.status_code == 201, r.text
    member_id = r.json()["id"]
    start = date(2024, 2, 20)
    r = client.post("/api/v1/plans", json={"member_id": member_id, "protocol_id": "osteoporosis",
                                            "start_date": str(start)}, headers=api)  # fmt: skip
    assert r.status_code == 201, r.text

    csrf = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member_id}").text
    assert SCRIPT not in page  # never markup
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    for field in ("diet", "employer", "address", "medical_history", "hobbies"):
        assert f"{field}:&lt;script&gt;" in page, field
    assert LONG.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;") in page
    assert RARE in page and EMOJI in page
    found = client.get("/members", params={"q": SCRIPT}).text
    assert SCRIPT not in found

    export = client.get(f"/members/{member_id}/export.json").json()
    assert export["member"]["name"] == NAME and export["member"]["habits"] == LONG
    assert export["member"]["diet"] == _hostile("diet", 4000)
    text = pdf.flat(pdf.text(client.get(f"/members/{member_id}/export.pdf").content))
    assert pdf.flat(SCRIPT) in text and "DROPTABLEmembers" in text and RARE in text

    plan = client.get(f"/api/v1/members/{member_id}/plans", headers=api).json()[0]
    step = plan["checkpoints"][0]["id"]
    sheet = client.post(f"/checkpoints/{step}/sheet", data={"csrf_token": csrf, "paper": "a4"})
    assert sheet.headers["content-type"] == "application/pdf"
    assert RARE in pdf.flat(pdf.text(sheet.content))

    client.cookies.clear()
    sign_in_page(client, "super")
    period = {"status": "due", "period_from": "2024-02-01", "period_to": "2024-03-06",
              "as_of": "2024-03-06"}  # fmt: skip
    rows = client.get("/audit/steps.csv", params=period)
    assert rows.status_code == 200, rows.text[rows.text.find("<main") :][:1500]
    column = STEP_FIELDS.index("member_name")
    names = {r[column] for r in list(csv.reader(io.StringIO(rows.text.lstrip("\ufeff"))))[1:]}
    assert f"'{NAME}" in names  # whole, and shown as text, not run as a formula


def test_text_longer_than_its_field_is_refused_naming_it(client: TestClient, world: World):
    api = api_sign_in(client, "clerk.a")
    before = world.session.scalar(select(func.count()).select_from(Member))
    for field in ("habits", "consumption_feedback", "address", "name"):
        body = {"card_number": "H0002", "name": "王秀英", field: "长" * 10_000}
        r = client.post("/api/v1/members", json=body, headers=api)
        assert r.status_code == 422 and r.json()["error"]["field"] == field, r.text
    world.session.expire_all()
    assert world.session.scalar(select(func.count()).select_from(Member)) == before
