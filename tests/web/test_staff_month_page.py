"""The clerk's month through the pages, on both databases: the table, its CSV, the trend,
and who sees whose row (a clerk their own, a manager their store, a supervisor any)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient

from careplan.models import Purchase
from tests.factories import NOW, World, make_member, sign_in_page


def _sale(world: World) -> None:
    member = make_member(world)  # clerk A's, registered on 1 March
    world.session.add(
        Purchase(
            member_id=member.id, store_id=world.store_a.id, product_code="P1",
            product_name="钙片", quantity=1, purchased_on=date(2024, 3, 2),
            amount=Decimal("100.00"), recorded_by_id=world.clerk_a2.id, recorded_at=NOW,
        )
    )  # fmt: skip
    world.session.commit()


def test_a_manager_reads_the_stores_month_and_its_csv(client: TestClient, world: World):
    _sale(world)
    sign_in_page(client, "manager.a")
    page = client.get("/value/staff?month=2024-03")
    assert page.status_code == 200, page.text
    assert "店员月度考核" in page.text and "合计" in page.text
    for staff in (world.clerk_a, world.clerk_a2, world.manager_a):
        assert f"/value/staff/{staff.id}?month=2024-03" in page.text
    assert f"/value/staff/{world.clerk_b.id}" not in page.text
    assert f"/value/staff?store={world.store_a.id}" in client.get("/store/staff").text
    r = client.get("/value/staff.csv?month=2024-03")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "staff-month-A001-2024-03.csv" in r.headers["content-disposition"]
    assert r.text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    header, body = lines[0], {line[0]: line for line in lines[1:]}
    assert header[:5] == ["员工编号", "员工", "门店编号", "月份", "负责的会员"]
    sales = header.index("归属销售额")
    assert body[str(world.clerk_a.id)][header.index("负责的会员")] == "1"
    assert body[str(world.clerk_a.id)][sales] == "70.00"
    assert body[str(world.clerk_a2.id)][sales] == "30.00"
    assert body[""][1] == "合计" and body[""][sales] == "100.00"


def test_a_clerk_sees_only_their_own_row_and_trend(client: TestClient, world: World):
    _sale(world)
    sign_in_page(client, "clerk.a")
    assert 'href="/value/staff"' in client.get("/my-members").text
    page = client.get("/value/staff?month=2024-03").text
    assert f"/value/staff/{world.clerk_a.id}?" in page
    assert f"/value/staff/{world.clerk_a2.id}?" not in page and "合计" not in page
    assert client.get(f"/value/staff/{world.clerk_a2.id}").status_code == 404
    trend = client.get(f"/value/staff/{world.clerk_a.id}?month=2024-03")
    assert trend.status_code == 200
    # No step fell due: no on-time chart, the other three are drawn.
    assert trend.text.count("<svg") == 3 and "2023-04" in trend.text
    assert "负责的会员" in trend.text


def test_a_supervisor_picks_any_store_and_a_bad_month_names_the_field(
    client: TestClient, world: World
):
    sign_in_page(client, "super")
    page = client.get(f"/value/staff?month=2024-03&store={world.store_b.id}").text
    assert f"/value/staff/{world.clerk_b.id}?" in page
    assert f"/value/staff/{world.clerk_a.id}?" not in page
    assert f"/value/staff/{world.clerk_a.id}?" in client.get("/value/staff?region=华东").text
    r = client.get("/value/staff?month=2024-13")
    assert r.status_code == 422 and "请按“年-月”填写月份" in r.text
