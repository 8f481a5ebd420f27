"""The member analysis pages: who may open them and for which stores, a tab alone, the
long-inactive list with phones only for the store's manager, and the CSVs."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan.value import analysis, snapshot
from careplan.vocab import Sex
from tests.factories import TravelClock, World, make_member, sign_in_page


def counted(world: World, factory: sessionmaker[Session], clock: TravelClock) -> None:
    """The nightly job: the value snapshot, then the counts per store."""
    world.session.commit()
    snapshot.refresh(factory, as_of=clock.today, now=clock.now)
    analysis.refresh_tallies(factory, now=clock.now)


def members(world: World, factory: sessionmaker[Session], clock: TravelClock) -> None:
    old = datetime(2023, 1, 1, tzinfo=UTC)
    for owner, sex, mobile in [(world.clerk_a, Sex.female, "13800000001"),
                               (world.clerk_a, Sex.female, "13800000002"),
                               (world.clerk_a, None, "13800000003"),
                               (world.clerk_b, Sex.male, "13900000004")]:  # fmt: skip
        m = make_member(world, owner=owner, name="周淑珍", mobile=mobile)
        m.sex, m.created_at, m.chronic_conditions = sex, old, ["高血压"]
    counted(world, factory, clock)


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


def test_before_the_first_count_the_page_says_so(
    client: TestClient, world: World, clock: TravelClock
):
    sign_in_page(client, "manager.a")
    page = client.get("/value/analysis").text
    assert "尚未生成" in page and "会员分析" in page


def test_a_manager_sees_their_store_a_clerk_is_refused(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
):
    members(world, session_factory, clock)
    sign_in_page(client, "manager.a")
    page = client.get(f"/value/analysis?store_id={world.store_a.id}").text
    assert "会员分析" in page and "徐汇店" in page and "未填写" in page
    assert 'id="v-store"' not in page  # nothing to pick: their store
    assert client.get(f"/value/analysis?store_id={world.store_b.id}").status_code == 404
    client.cookies.clear()
    sign_in_page(client, "clerk.a")
    assert client.get("/value/analysis").status_code == 403


def test_a_supervisor_picks_the_chain_a_region_or_a_store(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
):
    members(world, session_factory, clock)
    sign_in_page(client, "super")
    chain = client.get("/value/analysis/dimension.csv").text
    assert rows_of(chain) == [["性别", "会员", "占会员比例（%）"], ["女", "2", "50.0"],
                              ["男", "1", "25.0"], ["未填写", "1", "25.0"]]  # fmt: skip
    store_b = client.get(f"/value/analysis/dimension.csv?store_id={world.store_b.id}").text
    assert rows_of(store_b)[1:] == [["男", "1", "100.0"]]
    assert "全连锁" in client.get("/value/analysis").text
    assert client.get("/value/analysis?region=华东").status_code == 200
    assert client.get("/value/analysis?region=西北").status_code == 404


def test_a_tab_alone_and_health_data_said_to_need_consent(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
):
    members(world, session_factory, clock)
    sign_in_page(client, "manager.a")
    tab = client.get("/value/analysis/tab?dim=conditions", headers={"HX-Request": "true"}).text
    assert tab.lstrip().startswith('<section id="dimension"')
    assert "高血压" in tab and "同意" in tab
    assert client.get("/value/analysis?dim=nonsense").status_code == 422


def test_inactive_phones_for_the_manager_not_for_head_office(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
):
    members(world, session_factory, clock)
    sign_in_page(client, "manager.a")
    page = client.get("/value/analysis/inactive?days=180").text
    assert "13800000001" in page and "13900000004" not in page
    sheet = rows_of(client.get("/value/analysis/inactive.csv?days=180").text)
    assert sheet[0] == ["会员", "会员卡号", "手机号", "门店", "负责人", "最近消费或联系"]
    assert len(sheet) == 4 and sheet[1][2].startswith("1380000000")
    client.cookies.clear()
    sign_in_page(client, "super")
    page = client.get("/value/analysis/inactive").text
    assert "13800000001" not in page and "周淑珍" in page
    assert "手机号" not in rows_of(client.get("/value/analysis/inactive.csv").text)[0]
    # A refused number of days answers on the list: said beside the box, which keeps
    # what was typed, over the default's members; the CSV of it is refused outright.
    refused = client.get("/value/analysis/inactive?days=5")
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "未消费且未联系的天数：天数须在30到3650之间" in refused.text  # the box's own name
    assert 'value="5" aria-invalid="true"' in refused.text
    assert "周淑珍" in refused.text  # the 180 days' list, as with no number given
    assert client.get("/value/analysis/inactive.csv?days=5").status_code == 422


def test_new_members_csv(
    client: TestClient, world: World, session_factory: sessionmaker[Session], clock: TravelClock
):
    make_member(world).created_at = clock.now
    members(world, session_factory, clock)
    sign_in_page(client, "super")
    sheet = rows_of(client.get("/value/analysis/new-members.csv").text)
    assert sheet[0] == ["月份", "新增会员"] and len(sheet) == 13
    assert sheet[-1] == [f"{clock.today:%Y-%m}", "1"]
