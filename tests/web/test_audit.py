"""The audit through HTTP: pages, JSON API and streamed CSV, on the hand-built chain."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.audit_chain import Chain, D
from tests.factories import HASHED, PASSWORD, TravelClock, api_sign_in, sign_in_page

pytestmark = pytest.mark.usefixtures("chain")
AS_OF = {"as_of": D.isoformat()}


@pytest.fixture(autouse=True)
def _on_d(clock: TravelClock, chain: Chain) -> None:
    clock.now = clock.now.replace(year=D.year, month=D.month, day=D.day)
    chain.manager_b.password_hash = HASHED
    chain.world.session.commit()


def _csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_api_report_and_drill_down(client: TestClient, chain: Chain) -> None:
    auth = api_sign_in(client, "super")
    r = client.get("/api/v1/audit/report", headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["level"] == "chain" and body["as_of"] == D.isoformat()
    east = next(x for x in body["rows"] if x["key"] == "华东")["figures"]
    assert east["overdue"] == {"1-3": 1, "4-7": 2, "8-14": 2, "15-30": 1, ">30": 2}
    assert east["missed"] == 2 and east["due"] == 9 and east["open_escalations"] == 1
    assert body["open_escalations_by_age"] == {"0-3": 1, "4-7": 0, "8-14": 0, "15-30": 1, ">30": 0}
    store = client.get(
        "/api/v1/audit/report", params={"store_id": chain.world.store_a.id}, headers=auth
    ).json()
    assert {r["key"]: r["figures"]["overdue_total"] for r in store["rows"]}[chain.a1.id] == 5
    page = client.get(
        "/api/v1/audit/steps", params={"staff_id": chain.a1.id, "limit": 2}, headers=auth
    ).json()
    assert page["total"] == 5 and [s["days_overdue"] for s in page["steps"]] == [40, 20]


def test_api_refuses_bad_input_naming_the_field(client: TestClient, chain: Chain) -> None:
    auth = api_sign_in(client, "super")
    for params, field in (
        ({"as_of": "2024-13-01"}, "as_of"),
        ({"as_of": "2024-03-21"}, "as_of"),
        ({"period_from": "2024-03-10", "period_to": "2024-03-01"}, "period_from"),
        ({"store_id": "abc"}, "store_id"),
        ({"bucket": "2-9"}, "bucket"),
        ({"status": "lost"}, "status"),
    ):
        r = client.get("/api/v1/audit/steps", params=params, headers=auth)
        assert r.status_code == 422, (params, r.text)
        assert r.json()["error"]["field"] == field
    clerk = api_sign_in(client, "clerk.a")
    assert client.get("/api/v1/audit/report", headers=clerk).status_code == 403
    other = api_sign_in(client, "manager.b")
    r = client.get(
        "/api/v1/audit/report", params={"store_id": chain.world.store_a.id}, headers=other
    )
    assert r.status_code == 404


def test_steps_csv_streams_every_step_with_localised_headings(
    client: TestClient, chain: Chain
) -> None:
    sign_in_page(client, "super")
    r = client.get("/audit/steps.csv", params={"staff_id": chain.a1.id})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = _csv(r.text)
    assert rows[0][:3] == ["步骤编号", "会员编号", "会员"]
    assert [int(x[13]) for x in rows[1:]] == [40, 20, 14, 5, 3]
    # Ids keep columns of their own; the names beside them and the outcome are in Chinese.
    assert rows[0][8:12] == ["方案代码", "步骤代码", "慢病方案", "步骤"]
    assert rows[1][8] == "osteoporosis" and rows[1][10] == "骨质疏松慢病追踪"
    assert rows[1][11] and rows[1][11] != rows[1][9]  # the step's name, not its key
    assert {x[14] for x in rows[1:]} == {"已逾期"}
    report = _csv(client.get("/audit/report.csv").text)
    assert [x[1] for x in report[1:]] == ["华东", "华北"]
    assert report[1][2:8] == ["1", "2", "2", "1", "2", "8"]
    by_step = _csv(client.get("/audit/by-step.csv").text)
    assert len(by_step[0]) == 10  # one heading a column
    assert by_step[0][:4] == ["方案代码", "步骤代码", "慢病方案", "步骤"]
    fall = next(x for x in by_step[1:] if x[1] == "fall_prevention")
    assert fall[:3] == ["osteoporosis", "fall_prevention", "骨质疏松慢病追踪"] and fall[3]
    assert fall[4:] == ["0", "0", "0", "1", "2", "3"]


def test_pages_drill_from_chain_to_a_step(client: TestClient, chain: Chain) -> None:
    sign_in_page(client, "super")
    chain_page = client.get("/audit")
    assert chain_page.status_code == 200
    assert "华东" in chain_page.text and "region=%E5%8D%8E%E4%B8%9C" in chain_page.text
    region = client.get("/audit", params={"region": "华东"})
    assert f"store_id={chain.world.store_a.id}" in region.text
    store = client.get("/audit", params={"store_id": chain.world.store_a.id})
    assert f"staff_id={chain.a1.id}" in store.text
    staff = client.get("/audit", params={"staff_id": chain.a1.id})
    assert f'href="/checkpoints/{chain.ids["a1-40"]}"' in staff.text
    steps = client.get("/audit/steps", params={"bucket": ">30"})
    assert steps.status_code == 200 and "共 2 个步骤" in steps.text
    assert f"/checkpoints/{chain.ids['a1-40']}" in steps.text
    bad = client.get("/audit", params={"as_of": "soon"})
    assert bad.status_code == 422 and "截至日期" in bad.text


def test_a_refused_filter_is_corrected_on_the_audit_page_itself(
    client: TestClient, chain: Chain
) -> None:
    """A day after today: the audit page answers with the refusal in its filter form,
    the box outlined and showing the asked day, the figures of the default filters."""
    sign_in_page(client, "super")
    tomorrow = (D + timedelta(days=1)).isoformat()
    for path in ("/audit", "/audit/steps"):
        r = client.get(path, params={"as_of": tomorrow, "store_id": chain.world.store_a.id})
        assert r.status_code == 422, path
        assert 'id="filter-error"' in r.text and "截至日期：不能晚于今天" in r.text
        box = re.search(r'<input id="a-asof"[^>]*>', r.text)
        assert box and f'value="{tomorrow}"' in box[0] and 'aria-invalid="true"' in box[0]
        assert "audit-filters" in r.text and "操作未成功" not in r.text


def test_a_store_manager_lands_on_their_store(client: TestClient, chain: Chain) -> None:
    sign_in_page(client, "manager.a")
    page = client.get("/audit")
    assert page.status_code == 200 and "徐汇店" in page.text and "按员工" in page.text
    assert client.get("/audit", params={"store_id": chain.world.store_b.id}).status_code == 404


def test_zh_audit_pages_name_protocols_steps_and_outcomes_and_show_a_breadcrumb(
    client: TestClient, chain: Chain
) -> None:
    sign_in_page(client, "super")
    heading = re.compile(r'<thead><tr>\s*<th scope="col">([^<]+)</th>')
    chain_page = client.get("/audit").text
    assert heading.search(chain_page).group(1) == "大区"  # type: ignore[union-attr]
    region = client.get("/audit", params={"region": "华东"}).text
    assert heading.search(region).group(1) == "门店"  # type: ignore[union-attr]
    store = client.get("/audit", params={"store_id": chain.world.store_a.id}).text
    assert heading.search(store).group(1) == "员工"  # type: ignore[union-attr]
    assert "姓名" not in chain_page + region + store
    trail = store[store.index('<nav class="breadcrumb"') :]
    trail = trail[: trail.index("</nav>")]
    assert 'aria-label="当前位置"' in trail and "全连锁" in trail
    assert trail.index("全连锁") < trail.index("华东") < trail.index('aria-current="page"')
    for status in ("overdue", "missed", "due"):
        page = client.get("/audit/steps", params={"status": status, "region": "华东"}).text
        table = page[page.index("<table") : page.index("</table>")]
        for code in ("osteoporosis", "medication_guidance", "fall_prevention", ">overdue<",
                     ">missed<", ">done<", ">not_done<"):  # fmt: skip
            assert code not in table, (status, code)
        assert "骨质疏松慢病追踪" in table
        crumbs = page[page.index('<nav class="breadcrumb"') :]
        assert '<li aria-current="page"><span>' in crumbs[: crumbs.index("</nav>")]


def test_a_supervisor_lands_on_the_chain_audit_after_signing_in(
    client: TestClient, chain: Chain
) -> None:
    token = client.get("/sign-in").text.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"csrf_token": token, "username": "super", "password": PASSWORD, "next": "/"}
    r = client.post("/sign-in", data=form)
    assert r.status_code == 303
    landed = client.get(r.headers["location"], follow_redirects=True)
    assert landed.url.path == "/audit" and "逾期督导" in landed.text and "全连锁" in landed.text
    header = landed.text[: landed.text.index("</nav>")]
    assert "我的工作台" not in header and 'href="/audit"' in header  # no empty list offered
    client.cookies.clear()
    sign_in_page(client, "clerk.a")  # a clerk still starts on their worklist
    home = client.get("/")
    header = home.text[: home.text.index("</nav>")]
    assert home.status_code == 200 and "我的工作台" in header and 'href="/audit"' not in header
