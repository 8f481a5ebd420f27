"""Complaint pages in Chinese: recorded by a manager, on the clerk's worklist, handed
over, closed; refusals name their box; another store sees nothing; the store page and
the audit count them."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import Checkpoint, CheckpointResult, Complaint
from tests.factories import (
    HX,
    TravelClock,
    World,
    due_step,
    make_member,
    result_form,
    sign_in_page,
)


def record(client: TestClient, token: str, **fields: str):
    data = {"csrf_token": token, "cause": "service", "severity": "high",
            "complaint_channel": "in_person", "what": "收银员态度差"} | fields  # fmt: skip
    return client.post("/complaints", data=data)


def test_a_service_complaint_from_record_to_close(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world, name="王秀英")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    assert "王秀英" in client.get(f"/complaints/new?q={member.card_number}").text
    r = record(client, token, member_id=str(member.id), about_staff_id=str(world.clerk_a.id),
               on_the_spot="店长当场致歉")  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "投诉已登记" in page and "店长当场致歉" in page and "记录回访" in page
    complaint = world.session.query(Complaint).one()

    r = client.post(f"/complaints/{complaint.id}/hand-over",
                    data={"csrf_token": token, "to_staff_id": str(world.clerk_a2.id),
                          "note": "换专员"})  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(r.headers["location"]).text
    assert "已转交" in page and "换专员" in page
    assert f'action="/complaints/{complaint.id}/hand-over"' not in page  # once only
    member_page = client.get(f"/members/{member.id}").text
    assert "投诉" in member_page and f"/complaints/{complaint.id}" in member_page

    # Before the visit the close is refused, naming the box.
    r = client.post(f"/complaints/{complaint.id}/close",
                    data={"csrf_token": token, "satisfaction": "satisfied",
                          "closing_note": "好"})  # fmt: skip
    assert r.status_code == 422 and "会员满意度：请先在工作台上记录回访" in r.text

    # The new clerk sees the visit on their worklist.
    client.cookies.clear()
    sign_in_page(client, "clerk.a2")
    assert "投诉回访" in client.get("/").text


def test_refusals_name_the_box_and_keep_what_was_typed(client: TestClient, world: World):
    token = sign_in_page(client, "clerk.a")
    r = record(client, token, member_id="", walk_in_name="", what="过期商品")
    assert r.status_code == 422
    assert "顾客姓名：请选择会员，或填写非会员顾客的姓名" in r.text and "过期商品" in r.text
    r = record(client, token, member_id="", walk_in_name="张先生", walk_in_phone="打电话")
    assert "电话：不是有效的电话号码" in r.text
    assert world.session.query(Complaint).count() == 0


def test_a_walk_in_closed_by_the_manager_shows_in_the_figures(client: TestClient, world: World):
    token = sign_in_page(client, "clerk.a")
    r = record(client, token, member_id="", walk_in_name="张先生", cause="environment")
    complaint_url = r.headers["location"].split("?")[0]
    assert "由店长结案" in client.get(complaint_url).text
    assert "结案" not in client.get(complaint_url).text.split("</ol>")[1]  # no close form

    client.cookies.clear()
    token = sign_in_page(client, "manager.a")
    r = client.post(f"{complaint_url}/close",
                    data={"csrf_token": token, "satisfaction": "satisfied",
                          "closing_note": "已道歉并改善"})  # fmt: skip
    assert r.status_code == 303
    listed = client.get("/complaints?state=closed&cause=environment").text
    assert "张先生" in listed and "满意" in listed
    figures = client.get("/store/staff").text.split('id="h-complaint-figures"')[1]
    assert "本月投诉" in client.get("/store/staff").text
    assert '<td class="num">1</td>' in figures and "100%" in figures


def test_another_stores_clerk_is_refused_and_a_supervisor_reads(client: TestClient, world: World):
    token = sign_in_page(client, "clerk.a")
    url = record(client, token, member_id="", walk_in_name="张先生").headers["location"]
    client.cookies.clear()
    sign_in_page(client, "clerk.b")
    assert client.get(url).status_code == 404
    assert "张先生" not in client.get("/complaints").text
    client.cookies.clear()
    token = sign_in_page(client, "super")
    assert "张先生" in client.get("/complaints").text
    assert record(client, token, member_id="", walk_in_name="李").status_code == 422
    audit = client.get("/audit").text
    assert "期间内的投诉" in audit


def test_the_visit_asks_no_adherence_and_is_saved_without_it_then_closed(
    client: TestClient, world: World, clock: TravelClock
):
    """A complaint visit records that the clerk went and what the member said: no
    "is the member taking the medicine?", no effect record; an ordinary step still asks."""
    member = make_member(world, name="王秀英", consent=False)  # no health consent needed
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    r = record(client, token, member_id=str(member.id), severity="low", cause="product")
    complaint = world.session.query(Complaint).one()
    step_id = complaint.follow_up_id
    page = client.get(f"/checkpoints/{step_id}").text
    form = page[page.index('class="result-form"') :].split("</form>")[0]
    assert "了解会员对处理结果的意见" in form and 'name="channel"' in form
    assert 'name="adherence"' not in form and 'name="stop_reason"' not in form
    assert "会员是否在服药" not in form and 'name="effect.before"' not in form

    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    data = {"csrf_token": token, "version": version, "channel": "phone",
            "checklist.heard_out": "on", "notes": "会员说已经满意，感谢回访"}  # fmt: skip
    r = client.post(f"/checkpoints/{step_id}/result", data=data, headers=HX)
    assert r.status_code == 200, r.text
    assert "保存成功" in r.text or "已保存" in r.text
    world.session.expire_all()
    visit = world.session.scalars(
        select(CheckpointResult).where(CheckpointResult.checkpoint_id == step_id)
    ).one()
    assert visit.adherence is None and visit.stop_reason is None and visit.checklist["heard_out"]
    shown = client.get(f"/complaints/{complaint.id}").text
    assert "会员说已经满意，感谢回访" in shown
    r = client.post(f"/complaints/{complaint.id}/close",
                    data={"csrf_token": token, "satisfaction": "satisfied",
                          "closing_note": "回访后满意"})  # fmt: skip
    assert r.status_code == 303, r.text
    assert "已联系" in client.get(f"/members/{member.id}").text  # the history: no "lecture"

    # A step of an ordinary care plan still asks, and a save without the answer is refused.
    cp = due_step(world, clock)
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX).text
    assert 'name="adherence"' in form
    data = result_form(token, cp)
    del data["adherence"]
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 422 and "请选择会员是否在服药" in r.text


def test_after_the_plan_is_stopped_the_manager_closes_from_the_page(
    client: TestClient, world: World
):
    member = make_member(world, name="王秀英")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    url = record(client, token, member_id=str(member.id)).headers["location"].split("?")[0]
    complaint = world.session.query(Complaint).one()
    step = world.session.get(Checkpoint, complaint.follow_up_id)
    # The call finds the member gone: removed from follow-up, the visit's plan stops.
    r = client.post(f"/checkpoints/{step.id}/attempt",
                    data={"csrf_token": token, "version": str(step.version), "outcome": "removed",
                          "removal_reason": "moved_away", "attempt_note": "已搬走"})  # fmt: skip
    assert r.status_code == 303, r.text
    page = client.get(url).text
    assert "不会再回访" in page and "已搬离" in page and "已搬走" in page
    assert f'action="{url}/close"' in page
    r = client.post(f"{url}/close", data={"csrf_token": token, "satisfaction": "neutral",
                                          "closing_note": "电话致歉"})  # fmt: skip
    assert r.status_code == 303, r.text
    assert "电话致歉" in client.get(url).text
