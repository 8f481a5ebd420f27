"""The call outcomes and the risk chips on the pages (zh) and through /api/v1."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi.testclient import TestClient

from careplan.members.health_records import HealthCheckIn, record_health_check
from careplan.models import CarePlan, Checkpoint, ContactAttempt
from careplan.vocab import PlanStatus
from tests.factories import (
    HX,
    TravelClock,
    World,
    api_sign_in,
    count,
    enrolled,
    sign_in_page,
    steps_by_status,
)

# Started 20 Feb: the first step (due 26 Feb, grace 2) is overdue on 6 Mar, the clock's day.
START = date(2024, 2, 20)


def overdue(world: World, clock: TravelClock, **kw: str) -> Checkpoint:
    plan = enrolled(world, clock, start=START, **kw)
    return steps_by_status(world, plan, clock.today)["overdue"][0]


def attempt_form(token: str, cp: Checkpoint, **fields: str) -> dict[str, str]:
    return {"csrf_token": token, "version": str(cp.version)} | fields


def test_the_step_form_offers_every_outcome_in_chinese(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock)
    sign_in_page(client, "clerk.a")
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX).text
    for words in ("未接通", "同意某天到店", "稍后提醒", "移出随访", "约定日期", "几天后提醒"):
        assert words in form, words
    for reason in ("已搬离", "已转至医院", "已去世", "号码错误", "拒绝随访"):
        assert reason in form, reason
    assert 'name="outcome" value="refused"' not in form
    assert 'name="outcome" value="wrong_number"' not in form


def test_an_agreed_day_takes_the_row_off_the_overdue_tab(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock)
    token = sign_in_page(client, "clerk.a")
    assert 'id="count-overdue">1<' in client.get("/?tab=overdue").text
    friday = clock.today + timedelta(days=2)
    data = attempt_form(
        token, cp, outcome="agreed_to_visit", visit_on=friday.isoformat(), remind_days="7"
    )  # fmt: skip  (a leftover box of another outcome)
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=data, headers=HX)
    assert r.status_code == 200, r.text
    assert "不出现在逾期列表" in r.text
    page = client.get("/?tab=overdue").text
    assert 'id="count-overdue">0<' in page and f'id="cp-{cp.id}"' not in page
    plan_page = client.get(f"/plans/{cp.plan_id}").text
    assert "已约到店" in plan_page and "约定 3月8日" in plan_page
    log = client.get(f"/members/{cp.plan.member_id}").text
    assert "同意某天到店" in log and "3月8日" in log


def test_a_bad_remind_is_refused_beside_its_box_and_nothing_is_written(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = attempt_form(token, cp, outcome="remind_later", remind_days="40")
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=data, headers=HX)
    assert r.status_code == 422
    assert "几天后提醒：须在 1 到 30 天之间" in r.text
    r = client.post(
        f"/checkpoints/{cp.id}/attempt",
        data=attempt_form(token, cp, outcome="removed"),
        headers=HX,
    )
    assert r.status_code == 422 and "移出原因" in r.text and "请说明移出随访的原因" in r.text
    assert count(world, ContactAttempt) == 0


def test_a_death_shows_on_the_member_plan_and_enrolment_pages(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = attempt_form(
        token, cp, outcome="removed", removal_reason="died", attempt_note="家属来电"
    )
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=data, headers=HX)
    assert r.status_code == 200, r.text
    assert "所有计划均已停止" in r.text
    world.session.expire_all()
    plan = world.session.get_one(CarePlan, cp.plan_id)
    assert plan.status is PlanStatus.stopped and plan.member.died_on == clock.today
    member = client.get(f"/members/{plan.member_id}").text
    assert "已于 2024年3月6日 去世" in member and "为会员建档" not in member
    assert f'href="/members/{plan.member_id}/enrol"' not in member
    assert "移出随访（已去世）" in member
    assert "移出随访 — <strong>已去世</strong>" in client.get(f"/plans/{plan.id}").text
    enrol = client.get(f"/members/{plan.member_id}/enrol").text
    assert "该会员已于" in enrol and "去世：不能新建计划" in enrol


def test_a_wrong_number_is_flagged_on_the_member_page(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock, mobile="13800138000")
    token = sign_in_page(client, "clerk.a")
    data = attempt_form(token, cp, outcome="removed", removal_reason="wrong_number")
    assert client.post(f"/checkpoints/{cp.id}/attempt", data=data, headers=HX).status_code == 200
    page = client.get(f"/members/{cp.plan.member_id}").text
    assert "号码被报错" in page and "被报告为错号" in page


def test_the_overdue_rows_carry_risk_chips_riskiest_first(
    client: TestClient, world: World, clock: TravelClock
):
    calm = overdue(world, clock, name="张平稳")
    risky_plan = enrolled(world, clock, start=START + timedelta(days=1), name="李高压")
    reading = HealthCheckIn(
        kind="blood_pressure", values={"systolic": 186, "diastolic": 100},
        measured_at=clock.now - timedelta(days=3),
    )  # fmt: skip
    actor = world.actor(world.clerk_a)
    record_health_check(world.session, actor, risky_plan.member_id, reading, now=clock.now)
    world.session.commit()
    sign_in_page(client, "clerk.a")
    page = client.get("/?tab=overdue").text
    assert page.index("李高压") < page.index("张平稳")  # fewer days overdue, yet first
    assert '<span class="chip chip-risk risk-blood_pressure">血压 ≥180/110</span>' in page
    row = page[page.index(f'id="cp-{calm.id}"') :]
    assert "chip-risk" not in row.split('class="work-slot"')[0]


def test_the_api_takes_every_outcome_and_lists_risks(
    client: TestClient, world: World, clock: TravelClock
):
    cp = overdue(world, clock)
    headers = api_sign_in(client, "clerk.a")
    r = client.get("/api/v1/checkpoints?status=overdue", headers=headers)
    assert r.status_code == 200 and r.json()[0]["risks"] == []
    r = client.post(
        f"/api/v1/checkpoints/{cp.id}/attempts",
        json={"outcome": "remind_later", "remind_days": 0},
        headers=headers,
    )
    assert r.status_code == 422 and "remind_days" in r.text
    r = client.post(
        f"/api/v1/checkpoints/{cp.id}/attempts",
        json={"outcome": "remind_later", "remind_days": 5},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["remind_on"] == (clock.today + timedelta(days=5)).isoformat()
    r = client.get(f"/api/v1/checkpoints/{cp.id}", headers=headers)
    assert r.json()["snoozed_until"] == (clock.today + timedelta(days=5)).isoformat()
    r = client.post(
        f"/api/v1/checkpoints/{cp.id}/attempts",
        json={"outcome": "removed", "removal_reason": "moved_away", "note": "搬去外地"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    plan = client.get(f"/api/v1/plans/{cp.plan_id}", headers=headers).json()
    assert (plan["status"], plan["removed_for"], plan["stop_reason"]) == (
        "stopped", "moved_away", "搬去外地",
    )  # fmt: skip
