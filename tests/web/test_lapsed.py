"""The lapsed members a supervisor hands to the stores: whom to call, how, whose."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

from fastapi.testclient import TestClient

from careplan.models import Member, Purchase
from careplan.plans import lifecycle
from careplan.plans.checkpoints import ResultIn, record_result
from tests.factories import NOW, TravelClock, World, make_member, sign_in_page


def lapsed_member(world: World, name: str, mobile: str, owner) -> Member:
    member = make_member(world, owner=owner, name=name, mobile=mobile)
    plan = lifecycle.enroll(world.session, world.actor(owner), member_id=member.id,
                        protocol_id="osteoporosis", start=date(2024, 1, 1),
                        today=date(2024, 1, 1), now=NOW)  # fmt: skip
    steps = {cp.key: cp for cp in lifecycle.checkpoints_of(world.session, plan)}
    world.session.add(Purchase(
        member_id=member.id, store_id=member.home_store_id, product_code="A70",
        product_name="阿仑膦酸钠片", drug_class="bisphosphonates", quantity=1, days_supply=28,
        purchased_on=date(2024, 1, 2), amount=Decimal("58.00"), recorded_by_id=owner.id,
        recorded_at=NOW,
    ))  # fmt: skip
    first = min(steps.values(), key=lambda c: c.seq)
    record_result(world.session, world.actor(owner), first.id,
                  ResultIn(version=first.version, channel="phone", adherence="as_directed",
                           contacted_on=date(2024, 1, 3)),
                  today=date(2024, 1, 3), now=NOW)  # fmt: skip
    return member


def test_the_lapsed_list_shows_phone_owner_last_contact_filters_by_store_and_exports(
    client: TestClient, world: World, clock: TravelClock
):
    world.clerk_a.name, world.clerk_b.name = "李娜", "陈静"
    a = lapsed_member(world, "周淑珍", "13800000001", world.clerk_a)
    lapsed_member(world, "吴秀梅", "13900000002", world.clerk_b)
    world.session.commit()
    sign_in_page(client, "super")
    page = client.get("/audit/adherence?days=90").text
    lapsed = page[page.index('id="h-lapsed"') :]
    row_a = lapsed[lapsed.index("周淑珍") :]
    row_a = row_a[: row_a.index("</tr>")]
    assert "13800000001" in row_a and "李娜" in row_a and "2024年1月3日" in row_a
    assert "吴秀梅" in lapsed
    only_a = client.get(f"/audit/adherence?days=90&store_id={world.store_a.id}").text
    only_a = only_a[only_a.index('id="h-lapsed"') :]
    assert "周淑珍" in only_a and "吴秀梅" not in only_a
    assert f"lapsed.csv?days=90&amp;store_id={world.store_a.id}" in only_a
    r = client.get(f"/audit/adherence/lapsed.csv?days=90&store_id={world.store_a.id}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
    head = rows[0]
    assert [row[head.index("会员")] for row in rows[1:]] == ["周淑珍"]
    got = dict(zip(head, rows[1], strict=True))
    assert got["手机号"] == "13800000001" and got["负责人"] == "李娜"
    assert got["最近联系"] == "2024-01-03" and got["会员编号"] == str(a.id)
    assert got["药品类别代码"] == "bisphosphonates" and got["药品类别"] == "双膦酸盐类"
