"""The spend tiers and quadrants pages: tables, the scatter, a quadrant's list, the CSVs,
who may open which scope, and the button that queues a refresh."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from careplan.jobs import tasks
from careplan.models import Member
from tests.factories import World, make_member, sign_in_page
from tests.value import test_tiers

chain = test_tiers.chain  # store A's 20 buyers, 2 who bought nothing, store B's one


def test_a_manager_reads_the_tiers_quadrants_and_chart_of_their_store(
    client: TestClient,
    world: World,
    chain: list[Member],
):
    sign_in_page(client, "manager.a")
    page = client.get("/value/spend").text
    assert "消费分层与四象限" in page and "徐汇店" in page and "会员价值" in page
    assert "数据截至" in page and "20 位会员有消费" in page and "2 位会员无消费" in page
    assert "A类" in page and "¥1,000.00" in page and "高频高额" in page
    assert page.count("<circle") == 20  # a store: one dot per member
    assert "/value/spend/quadrant/lh?" in page
    listed = client.get("/value/spend/quadrant/lh?period=12m").text
    assert "低频高额" in listed and "13800000008" in listed and "共 2 位会员" in listed
    csv = client.get("/value/spend/tiers.csv").content.decode("utf-8")
    assert csv.startswith("\ufeff层级,会员,会员占比")
    assert "\r\nA,1,0.0500,1000.00,0.3690,1000.00\r\n" in csv
    quadrant = client.get("/value/spend/quadrant/hh.csv?visits=2&spend=100").text
    assert quadrant.count("\r\n") == 1 + 5  # the header, then hh's five at those thresholds


def test_head_office_sees_the_chain_binned_and_lists_without_phones(
    client: TestClient,
    world: World,
    chain: list[Member],
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setattr("careplan.value.tiers.DOTS_MAX", 5)  # the chain draws as cells
    sign_in_page(client, "super")
    page = client.get("/value/spend?scope=chain").text
    assert "全连锁" in page and "<rect" in page and "<circle" not in page
    assert "21 位会员有消费" in page
    listed = client.get("/value/spend/quadrant/hh.csv?scope=chain").text
    # A region's name is Chinese: the download still goes, named in UTF-8 (RFC 6266).
    region = client.get("/value/spend/tiers.csv?scope=region:华东")
    assert region.status_code == 200
    assert region.headers["content-disposition"] == (
        "attachment; filename*=UTF-8''spend-tiers-region-%E5%8D%8E%E4%B8%9C-12m.csv")
    assert listed.count("\r\n") == 1 + 8 and "1380000" not in listed  # median ¥50 here


def test_who_may_open_which_scope(
    client: TestClient,
    world: World,
    chain: list[Member],
):
    sign_in_page(client, "clerk.a")
    assert client.get("/value/spend").status_code == 403
    assert "/value/spend" not in client.get("/members").text  # no nav entry
    client.cookies.clear()
    sign_in_page(client, "manager.a")
    assert client.get(f"/value/spend?scope=store:{world.store_b.id}").status_code == 404
    assert client.get("/value/spend?scope=chain").status_code == 404
    assert client.get("/value/spend/quadrant/hh.csv?scope=region:华东").status_code == 404
    assert client.get("/value/spend/quadrant/zz").status_code == 404
    bad = client.get("/value/spend?visits=0")
    assert bad.status_code == 200 and 'role="alert"' in bad.text and "到店天数须在" in bad.text


def test_before_the_first_snapshot_the_button_queues_one(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
):
    make_member(world)
    world.session.commit()
    queued: list[int | None] = []
    monkeypatch.setattr(tasks, "refresh_value_snapshot", queued.append)
    token = sign_in_page(client, "manager.a")
    page = client.get("/value/spend").text
    assert "尚未计算" in page and "立即重新计算" in page
    r = client.post("/value/spend/refresh", data={"csrf_token": token, "back": "period=6m"})
    assert r.status_code == 303 and r.headers["location"].endswith("period=6m&queued=1")
    assert queued == [world.manager_a.id]
    assert "正在重新计算" in client.get(r.headers["location"]).text
