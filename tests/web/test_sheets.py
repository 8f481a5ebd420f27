"""Guidance sheets as the pharmacist prints them and the member reads them: the PDF's text
read back, its fonts, paper and page breaks; batches; every print in the contact log."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.jobs import lease, runs
from careplan.models import Checkpoint, Member, SheetBatch, SheetPrint
from careplan.sheets import sheets
from careplan.vocab import Paper
from tests import pdf
from tests.factories import (
    TravelClock,
    World,
    enrolled_steps,
    make_member,
    record_bone_density,
    sign_in_page,
    step_guidance,
)
from web.sheet_pdf import render_pdf

START = date(2024, 2, 1)  # the clock says 2024-03-06: weeks 3 and 4 are overdue, 6 is next


@pytest.fixture
def inline_worker(
    client: TestClient, session_factory: sessionmaker[Session], clock: TravelClock
) -> None:
    """Batches run inside the request, on the test's transaction, as a consumer's task
    runs them (the real consumer is a separate process, exercised by the browser test
    against a committed database)."""
    client.app.state.sheet_worker = lambda batch_id: runs.run_sheet_batch(  # type: ignore[attr-defined]
        session_factory, batch_id, render_pdf, token="inline", clock=lambda: clock.now,
        lease=timedelta(minutes=2),
    )  # fmt: skip


def enrolled(world: World, member: Member) -> dict[str, Checkpoint]:
    return enrolled_steps(world, member, start=START)


def worked(world: World, cp: Checkpoint, clock: TravelClock, t_score: float) -> None:
    record_bone_density(world, cp, world.clerk_a, now=clock.now, t_score=t_score)


def guidance(key: str, language: str) -> str:
    return step_guidance("osteoporosis", key, language)


def print_sheet(client: TestClient, token: str, cp_id: int, **form: str) -> bytes:
    r = client.post(f"/checkpoints/{cp_id}/sheet", data={"csrf_token": token, **form})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["cache-control"] == "no-store"
    return r.content


def prints(world: World) -> list[SheetPrint]:
    world.session.expire_all()
    return list(world.session.scalars(select(SheetPrint).order_by(SheetPrint.id)))


def test_a_chinese_sheet_reads_back_with_name_guidance_allergy_and_next_date(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world, name="王秀英", allergies=("青霉素",))
    steps = enrolled(world, member)
    worked(world, steps["fall_prevention"], clock, -2.5)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    sheet = print_sheet(client, token, steps["fall_prevention"].id)

    text = pdf.text(sheet)
    assert "王秀英" in text and member.card_number in text
    assert pdf.flat(guidance("fall_prevention", "zh")) in pdf.flat(text)
    assert "过敏史" in text and "青霉素" in text
    assert "2024年3月13日" in text  # week 6, the next contact
    assert "-2.5" in text and "本次" in text  # this visit's reading, marked
    assert "Next contact" not in text and "下次联系" in text
    (row,) = prints(world)
    assert row.code in text and row.printed_by_id == world.clerk_a.id
    assert (row.member_id, row.language, row.paper) == (member.id, "zh", Paper.a4)
    assert pdf.page_size_mm(sheet) == (210, 297)  # A4


def test_an_english_sheet_is_in_english(client: TestClient, world: World, clock: TravelClock):
    member = make_member(world, name="Mary Smith", allergies=("Penicillin",))
    member.language = "en"
    steps = enrolled(world, member)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    text = pdf.text(print_sheet(client, token, steps["doctor_and_exercise"].id))

    assert "Mary Smith" in text
    assert pdf.flat(guidance("doctor_and_exercise", "en")) in pdf.flat(text)
    assert "Drug allergies" in text and "Penicillin" in text
    assert "Next contact" in text and "27 Mar 2024" in text  # week 8
    assert "下次联系" not in text


def test_the_chinese_font_is_embedded(client: TestClient, world: World):
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    found = pdf.fonts(print_sheet(client, token, steps["diet_guidance"].id))

    assert found and all(f.embedded for f in found), found
    assert any("Noto-Sans-CJK-SC" in f.name for f in found), found


def test_a5_paper_is_a_choice(client: TestClient, world: World):
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    sheet = print_sheet(client, token, steps["diet_guidance"].id, paper="a5")

    assert pdf.page_size_mm(sheet) == (148, 210)  # A5
    assert prints(world)[0].paper is Paper.a5


def test_names_and_texts_print_as_text_never_as_markup(client: TestClient, world: World):
    member = make_member(world, name="<script>alert(1)</script>", allergies=("<b>磺胺</b>",))
    steps = enrolled(world, member)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    text = pdf.text(print_sheet(client, token, steps["diet_guidance"].id))

    assert "<script>alert(1)</script>" in text
    assert "<b>磺胺</b>" in text


def test_printing_from_the_member_page_prints_the_current_step_and_logs_it(
    client: TestClient, world: World
):
    member = make_member(world, name="赵德华")
    steps = enrolled(world, member)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}").text
    plan_id = steps["diet_guidance"].plan_id
    assert f'action="/plans/{plan_id}/sheet"' in page

    r = client.post(f"/plans/{plan_id}/sheet", data={"csrf_token": token})

    assert r.status_code == 200
    (row,) = prints(world)
    assert row.checkpoint_id == steps["diet_guidance"].id  # week 3: overdue, still open
    log = client.get(f"/members/{member.id}").text
    assert "已打印用药指导单" in log and row.code in log
    # The open step's own page offers printing only after the save (issue 21): the
    # member page's plan print is the way before a visit.
    assert (
        f'action="/checkpoints/{row.checkpoint_id}/sheet"'
        not in client.get(f"/checkpoints/{row.checkpoint_id}").text
    )


def test_another_stores_member_cannot_be_printed_and_nothing_is_recorded(
    client: TestClient, world: World
):
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.b")

    r = client.post(f"/checkpoints/{steps['diet_guidance'].id}/sheet", data={"csrf_token": token})

    assert r.status_code == 404
    assert prints(world) == []


def test_bad_print_requests_name_the_field_and_record_nothing(client: TestClient, world: World):
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    cp = steps["diet_guidance"].id

    paper = client.post(f"/checkpoints/{cp}/sheet", data={"csrf_token": token, "paper": "a3"})
    day = client.post(
        "/sheets", data={"csrf_token": token, "staff": "store", "on_date": "2024-13-01"}
    )
    empty = client.post(
        "/sheets", data={"csrf_token": token, "staff": "store", "on_date": "2030-01-01"}
    )

    assert paper.status_code == 422 and "纸张" in paper.text
    assert day.status_code == 422 and "日期" in day.text
    assert empty.status_code == 422 and "当天没有需要联系的会员" in empty.text
    assert prints(world) == []
    assert world.session.scalar(select(func.count(SheetBatch.id))) == 0


def test_a_clerk_prints_their_own_day_not_the_stores(client: TestClient, world: World):
    enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    page = client.get("/sheets").text
    refused = client.post("/sheets", data={"csrf_token": token, "staff": "store"})
    own = client.post("/sheets", data={"csrf_token": token, "staff": "me"})

    assert 'value="store"' not in page
    assert refused.status_code == 422 and "只有店长可以打印全店的指导单" in refused.text
    assert own.status_code == 200 and own.headers["content-type"] == "application/pdf"
    assert pdf.pages(own.content) == 2  # weeks 3 and 4, overdue: a few sheets, at once


def test_a_store_batch_shows_progress_then_one_pdf_with_every_sheet(
    client: TestClient, world: World, inline_worker: None
):
    names = ["甲一", "乙二", "丙三"]
    for name in names:
        enrolled(world, make_member(world, name=name))
    world.session.commit()
    token = sign_in_page(client, "manager.a")

    r = client.post("/sheets", data={"csrf_token": token, "staff": "store"})

    assert r.status_code == 303
    page_url = r.headers["location"]
    batch_id = int(page_url.rsplit("/", 1)[1])
    page = client.get(page_url).text
    assert "6 份指导单已生成" in page and "hx-trigger" not in page
    pdf_bytes = client.get(f"/sheets/batches/{batch_id}/pdf").content
    assert pdf.pages(pdf_bytes) == 6
    text = pdf.text(pdf_bytes)
    assert all(text.count(name) == 2 for name in names)
    rows = prints(world)
    assert len(rows) == 6 and {p.batch_id for p in rows} == {batch_id}
    assert all(p.code in text for p in rows)


def test_a_running_batch_polls_and_others_cannot_see_it(client: TestClient, world: World):
    for _ in range(2):
        enrolled(world, make_member(world))
    batch = sheets.create_batch(
        world.session,
        world.actor(world.manager_a),
        store_id=world.store_a.id,
        on=date(2024, 3, 6),
        paper=Paper.a4,
        now=datetime(2024, 3, 6, 2, tzinfo=UTC),
    )
    world.session.commit()
    sign_in_page(client, "manager.a")

    progress = client.get(f"/sheets/batches/{batch.id}/progress", headers={"HX-Request": "true"})

    assert 'hx-trigger="every 1s"' in progress.text
    # Queued, not yet taken by a consumer: said so, not "sheet 0 of 4" (a QA walk).
    assert "排队中，即将开始…" in progress.text and "正在生成" not in progress.text
    assert client.get(f"/sheets/batches/{batch.id}/pdf").status_code == 422
    client.cookies.clear()
    sign_in_page(client, "clerk.b")
    assert client.get(f"/sheets/batches/{batch.id}").status_code == 404


def test_a_sheet_code_finds_who_printed_it(client: TestClient, world: World):
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    print_sheet(client, token, steps["diet_guidance"].id)
    code = prints(world)[0].code

    found = client.get("/sheets", params={"code": code.lower()}).text

    assert code in found and world.clerk_a.name in found
    assert f'href="/checkpoints/{steps["diet_guidance"].id}"' in found


def test_a_printed_page_is_an_a4_page_of_dark_text_on_white(client: TestClient, world: World):
    """Rendered with pdftoppm as a printer would: not blank, not a black box."""
    steps = enrolled(world, make_member(world))
    world.session.commit()
    token = sign_in_page(client, "clerk.a")

    width, height, pixels = pdf.gray_page(print_sheet(client, token, steps["diet_guidance"].id))

    assert (width, height) == (249, 351)  # A4 at 30 dpi
    dark = sum(1 for p in pixels if p < 128) / len(pixels)
    assert 0.01 < dark < 0.25, dark


def test_a_batch_whose_consumer_died_says_so_and_keeps_polling(
    client: TestClient, world: World, session_factory: sessionmaker[Session],
    clock: TravelClock,
) -> None:  # fmt: skip
    """A QA walk's kill -9 left the page on "sheet 2 of 15" for minutes, as if working."""
    for _ in range(2):
        enrolled(world, make_member(world))
    batch = sheets.create_batch(world.session, world.actor(world.manager_a),
                                store_id=world.store_a.id, on=clock.today, paper=Paper.a4,
                                now=clock.now)  # fmt: skip
    world.session.commit()
    held = timedelta(seconds=45)
    assert lease.claim(session_factory, SheetBatch, batch.id, token="a", now=clock.now, lease=held)
    sign_in_page(client, "manager.a")
    url = f"/sheets/batches/{batch.id}/progress"
    assert "正在生成第 0 / 4 份" in client.get(url, headers={"HX-Request": "true"}).text
    clock.advance(seconds=60)  # the lease ran out: nobody renewed it
    page = client.get(url, headers={"HX-Request": "true"}).text
    assert "处理中断，稍后会自动重新开始…" in page and 'hx-trigger="every 1s"' in page
    assert "已中断，正在重新开始" in client.get("/sheets").text  # the list says the same
