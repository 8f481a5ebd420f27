"""Till imports through the page and the API, the mapping page, measured adherence on the
member page and on the audit."""

from __future__ import annotations

import os
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.adherence import import_jobs, till_import
from careplan.jobs import lease, runs
from careplan.models import ImportJob, Member, Purchase, PurchaseImport
from careplan.vocab import ImportOutcome, ImportState
from tests.factories import (
    TravelClock,
    World,
    api_sign_in,
    enrolled_steps,
    make_member,
    sign_in_page,
)

HEADER = "会员卡号,商品编码,商品名称,药品类别,数量,用药天数,日期,门店编码,金额\n"


def count(world: World) -> int:
    world.session.expire_all()
    return world.session.scalar(select(func.count()).select_from(Purchase)) or 0


def test_an_upload_with_bad_lines_lists_them_in_chinese_and_imports_nothing(
    client: TestClient, world: World
) -> None:
    member = make_member(world)
    world.session.commit()
    store = world.store_a.code
    text = HEADER + (
        f"{member.card_number},A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,{store},58.00\n"
        f"{member.card_number},A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-13-01,{store},58.00\n"
        f"T999,A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,{store},58.00\n"
    )
    token = sign_in_page(client, "manager.a")
    files = {"file": ("till.csv", text.encode("gbk"), "text/csv")}
    r = client.post("/purchases/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 422
    assert r.text.count("未导入任何数据") == 1  # said once, above the lines (issue 21)
    assert (
        '<td class="num">3</td><td>购买日期</td><td translate="no">2024-13-01</td>'
        "<td>日历上没有这一天</td>"
    ) in r.text
    assert (
        '<td class="num">4</td><td>会员卡号</td><td translate="no">T999</td>'
        "<td>没有会员使用此卡号</td>"
    ) in r.text
    assert count(world) == 0
    # The refusal is in the history, its report a click away.
    history = r.text[r.text.index("最近导入") :]
    assert "未导入（有错误）" in history and "till.csv" in history
    report_url = re.search(r'href="(/purchases/import/\d+)"', history)
    assert report_url is not None
    report = client.get(report_url.group(1)).text
    assert "没有会员使用此卡号" in report and "T999" in report

    good = HEADER + text.splitlines()[1] + "\n"
    files = {"file": ("till.csv", good.encode("gbk"), "text/csv")}
    r = client.post("/purchases/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 200 and "新增 1 行" in r.text
    r = client.post("/purchases/import", data={"csrf_token": token}, files=files)
    assert "新增 0 行，1 行此前已导入" in r.text
    assert count(world) == 1


def test_the_template_downloads_with_chinese_headings(client: TestClient, world: World) -> None:
    sign_in_page(client, "manager.a")
    page = client.get("/purchases/import").text
    assert 'href="/purchases/import/template.csv"' in page and "下载导入模板" in page
    r = client.get("/purchases/import/template.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.decode("utf-8-sig").startswith("会员卡号,商品编码,商品名称")


def test_the_api_refusal_lists_every_bad_line(client: TestClient, world: World) -> None:
    member = make_member(world)
    world.session.commit()
    line = {
        "card_number": member.card_number, "product_code": "A70", "product_name": "阿仑膦酸钠片",
        "quantity": 1, "days_supply": 28, "purchased_on": "2024-02-01",
        "store_code": world.store_a.code, "amount": "58.00",
    }  # fmt: skip
    headers = api_sign_in(client, "manager.a")
    body = {"lines": [line, line | {"quantity": 0}, line | {"amount": "5.555"}]}
    r = client.post("/api/v1/purchases/import", json=body, headers=headers)
    assert r.status_code == 422
    assert [(e["line"], e["field"], e["value"]) for e in r.json()["errors"]] == [
        (2, "quantity", "0"), (3, "amount", "5.555"),
    ]  # fmt: skip
    assert count(world) == 0
    world.session.expire_all()
    kept = world.session.scalars(select(PurchaseImport)).one()  # in the history too
    assert kept.outcome is ImportOutcome.refused and kept.report is not None
    r = client.post("/api/v1/purchases/import", json={"lines": [line]}, headers=headers)
    assert r.status_code == 200 and r.json()["added"] == 1


def test_pdc_and_the_lapse_show_on_the_member_page_and_the_audit(
    client: TestClient, world: World, clock: TravelClock
) -> None:
    member = make_member(world, name="周淑珍")
    enrolled_steps(world, member, start=date(2024, 1, 1))
    world.session.commit()
    headers = api_sign_in(client, "manager.a")
    line = {
        "card_number": member.card_number, "product_code": "A70", "product_name": "阿仑膦酸钠片",
        "drug_class": "bisphosphonates", "quantity": 1, "days_supply": 28,
        "store_code": world.store_a.code, "amount": "58.00",
    }  # fmt: skip
    lines = [line | {"purchased_on": "2024-01-02"}, line | {"purchased_on": "2024-02-10"}]
    assert (
        client.post("/api/v1/purchases/import", json={"lines": lines}, headers=headers).json()[
            "added"
        ]
        == 2
    )
    # Today is 2024-03-06: Jan 2 – Jan 29, gap Jan 30 – Feb 9, Feb 10 – Mar 8.
    r = client.get(f"/api/v1/purchases/adherence/{member.id}?start=2024-01-01&end=2024-03-06",
                   headers=headers)  # fmt: skip
    [bis] = [a for a in r.json() if a["drug_class"] == "bisphosphonates"]
    assert (bis["covered_days"], bis["days_in_period"]) == (54, 65)
    assert bis["gaps"] == [{"start": "2024-01-30", "end": "2024-02-09", "days": 11}]
    assert bis["runs_out_on"] == "2024-03-09"

    sign_in_page(client, "manager.a")
    page = client.get(f"/members/{member.id}").text
    assert "实测依从性" in page and "双膦酸盐类" in page and "2024年3月9日" in page
    audit = client.get("/audit/adherence?days=90").text
    # One tracked member at 83% (calcium, never bought, is not measured); nobody ran out.
    row = '<td class="num">1</td><td class="num">0</td>\n    <td class="num">0%</td>'
    assert row in audit and "没有会员断药" in audit
    clock.advance(days=5)  # Mar 11: the tablets ran out on Mar 9, nothing bought since
    sign_in_page(client, "manager.a")
    lapsed = client.get("/audit/adherence?days=90").text.split("已断药")[1]
    assert "周淑珍" in lapsed and "2024年3月9日" in lapsed


def _till_lines(world: World, member_card: str, n: int) -> str:
    store = world.store_a.code
    return HEADER + "".join(
        f"{member_card},A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-{1 + i % 28:02d},"
        f"{store},58.00\n"
        for i in range(n)
    )


def _background_imports(
    client: TestClient, world: World, work_dir: Path
) -> tuple[Member, list[int], str]:
    """Any upload over 100 bytes is a job; here the test is the consumer: the jobs
    queued are listed, for the test to run."""
    member = make_member(world)
    world.session.commit()
    started: list[int] = []
    state = client.app.state  # type: ignore[attr-defined]
    state.work_dir, state.import_inline_bytes, state.import_worker = work_dir, 100, started.append
    return member, started, sign_in_page(client, "manager.a")


def _run(session_factory: sessionmaker[Session], work_dir: Path, job: int, clock: TravelClock):
    """The job as a consumer's task runs it."""
    return runs.run_import(session_factory, work_dir, job, token="test", clock=lambda: clock.now,
                           lease=timedelta(minutes=2))  # fmt: skip


def test_a_large_upload_is_imported_by_a_job_while_the_page_shows_progress(
    client: TestClient, world: World, session_factory: sessionmaker[Session],
    clock: TravelClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    member, started, token = _background_imports(client, world, tmp_path)
    files = {"file": ("till.csv", _till_lines(world, member.card_number, 9).encode(), "text/csv")}
    r = client.post("/purchases/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 303 and len(started) == 1
    job = started[0]
    assert r.headers["location"] == f"/purchases/import/jobs/{job}"
    r = client.get(r.headers["location"])
    assert "排队中，即将开始…" in r.text and 'hx-trigger="every 1s"' in r.text
    assert count(world) == 0

    # The job reports as it goes (two lines a chunk here): the page's figures rise.
    seen: list[str] = []
    renew = lease.Claim.renew

    def reported(self, factory, now, **values):  # type: ignore[no-untyped-def]
        renew(self, factory, now, **values)
        page = client.get(f"/purchases/import/jobs/{job}/progress").text
        seen.append(re.search(r"已检查 \d+ / 9 行", page)[0])  # type: ignore[index]

    monkeypatch.setattr(till_import, "CHUNK", 2)
    monkeypatch.setattr(runs, "PROGRESS_EVERY", timedelta(0))
    monkeypatch.setattr(lease.Claim, "renew", reported)
    assert _run(session_factory, tmp_path, job, clock)
    assert seen == [f"已检查 {n} / 9 行" for n in (2, 4, 6, 8, 9)]
    assert list(tmp_path.glob("*.csv")) == []  # the members' purchases are not left on disk

    r = client.get(f"/purchases/import/jobs/{job}/progress")
    assert "新增 9 行" in r.text and "hx-trigger" not in r.text
    assert count(world) == 9
    client.cookies.clear()
    sign_in_page(client, "super")  # a job is seen by who uploaded it
    assert client.get(f"/purchases/import/jobs/{job}").status_code == 404


def test_a_refused_or_stopped_background_import_says_so(
    client: TestClient, world: World, session_factory: sessionmaker[Session],
    clock: TravelClock, tmp_path: Path,
) -> None:  # fmt: skip
    member, started, token = _background_imports(client, world, tmp_path)
    text = _till_lines(world, member.card_number, 5).replace("58.00\n", "5.555\n", 1)
    files = {"file": ("till.csv", text.encode(), "text/csv")}
    client.post("/purchases/import", data={"csrf_token": token}, files=files)
    _run(session_factory, tmp_path, started[0], clock)
    r = client.get(f"/purchases/import/jobs/{started[0]}")
    assert r.status_code == 422 and "未导入任何数据" in r.text
    assert '<td class="num">2</td><td>金额</td>' in r.text
    assert count(world) == 0

    client.post("/purchases/import", data={"csrf_token": token}, files=files)
    clock.advance(minutes=16)  # queued, and no consumer ever took it
    r = client.get(f"/purchases/import/jobs/{started[1]}/progress")
    assert "导入已中止" in r.text and "hx-trigger" not in r.text
    assert not _run(session_factory, tmp_path, started[1], clock)  # never imported later


def test_an_upload_no_consumer_took_is_deleted_once_its_job_is_seen_stalled(
    client: TestClient, world: World, clock: TravelClock, tmp_path: Path
) -> None:
    """Till lines are personal data: a job no consumer took keeps its upload only until
    the job is found stalled (given up)."""
    member, started, token = _background_imports(client, world, tmp_path)
    files = {"file": ("till.csv", _till_lines(world, member.card_number, 5).encode(), "text/csv")}
    client.post("/purchases/import", data={"csrf_token": token}, files=files)
    upload = import_jobs.upload_path(tmp_path, started[0])
    client.get(f"/purchases/import/jobs/{started[0]}/progress")
    assert upload.exists()  # a consumer may still take it
    clock.advance(seconds=lease.STALLED_AFTER.total_seconds() + 1)
    r = client.get(f"/purchases/import/jobs/{started[0]}/progress")
    assert "导入已中止" in r.text
    assert not upload.exists()


def test_the_import_page_sweeps_uploads_no_job_will_read(
    client: TestClient, world: World, clock: TravelClock, tmp_path: Path
) -> None:
    member, started, token = _background_imports(client, world, tmp_path)
    files = {"file": ("till.csv", _till_lines(world, member.card_number, 5).encode(), "text/csv")}
    for _ in range(2):
        client.post("/purchases/import", data={"csrf_token": token}, files=files)
    finished, waiting = started
    world.session.get_one(ImportJob, finished).state = ImportState.done  # its consumer was
    world.session.commit()  # killed before it deleted the upload
    cut_off = tmp_path / "import-999999.csv"  # an upload whose job was never committed
    cut_off.write_bytes(b"card_number\n")
    os.utime(cut_off, (0, 0))
    assert client.get("/purchases/import").status_code == 200
    assert [p.name for p in tmp_path.glob("*.csv")] == [f"import-{waiting}.csv"]


def test_an_upload_with_a_nul_is_refused_in_chinese_on_both_databases(
    client: TestClient, world: World
) -> None:
    """PostgreSQL refused the NUL (a server error); SQLite stored it."""
    member = make_member(world)
    world.session.commit()
    store = world.store_a.code
    good = f"{member.card_number},A70,阿仑膦酸钠片,bisphosphonates,1,28,2024-02-01,{store},58.00\n"
    text = HEADER + good + good.replace("阿仑膦酸钠片", "阿仑\x00膦酸钠片")
    token = sign_in_page(client, "manager.a")
    files = {"file": ("till.csv", text.encode(), "text/csv")}
    r = client.post("/purchases/import", data={"csrf_token": token}, files=files)
    assert r.status_code == 422
    assert (
        '<td class="num">3</td><td>产品</td><td translate="no">—</td><td>含有 NUL 字符（空字符）'
    ) in r.text
    assert count(world) == 0


def test_an_import_under_way_is_listed_on_the_import_page_until_done(
    client: TestClient, world: World, session_factory: sessionmaker[Session],
    clock: TravelClock, tmp_path: Path,
) -> None:  # fmt: skip
    """Its page says "keep working"; the import page leads back to it (a QA walk found
    no way back once left)."""
    member, started, token = _background_imports(client, world, tmp_path)
    files = {"file": ("大文件.csv", _till_lines(world, member.card_number, 9).encode(), "text/csv")}
    client.post("/purchases/import", data={"csrf_token": token}, files=files)
    page = client.get("/purchases/import").text
    assert "进行中的导入" in page and f'href="/purchases/import/jobs/{started[0]}"' in page
    assert "大文件.csv" in page and "等待中" in page
    assert _run(session_factory, tmp_path, started[0], clock)
    assert "进行中的导入" not in client.get("/purchases/import").text
