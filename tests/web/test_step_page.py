"""Working a step through the ASGI app, on both databases: the save with htmx and as a plain
POST, a stopped answer's escalation, a stale save, a bad measurement, a call back."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.models import CheckpointResult, Escalation
from tests.factories import (
    HX,
    TravelClock,
    World,
    count,
    due_step,
    result_form,
    sign_in_page,
)


def test_saving_with_htmx_swaps_the_row_and_updates_the_counts(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    assert 'id="count-due">1<' in client.get("/").text
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX)
    assert form.status_code == 200 and "<html" not in form.text
    assert 'name="checklist.' in form.text
    r = client.post(
        f"/checkpoints/{cp.id}/result",
        data=result_form(token, cp, **{"m.bone_density.t_score": "-2.6"}),
        headers=HX | {"HX-Target": f"div#work-{cp.id}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["HX-Retarget"] == f"#cp-{cp.id}"
    assert "已保存" in r.text
    assert '<hx-partial hx-target="#count-due" hx-swap="innerHTML">0</hx-partial>' in r.text
    assert count(world, CheckpointResult) == 1
    assert 'id="count-due">0<' in client.get("/").text


def test_a_stopped_answer_raises_the_escalation_visibly(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp, adherence="stopped", stop_reason="side_effects")
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 200, r.text
    assert "已上报" in r.text and "副作用" in r.text
    assert count(world, Escalation) == 1
    assert 'id="count-escalations">1<' in client.get("/").text
    assert "副作用" in client.get("/escalations").text


def test_the_same_save_works_as_a_plain_post(client: TestClient, world: World, clock: TravelClock):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    r = client.post(f"/checkpoints/{cp.id}/result", data=result_form(token, cp))
    assert r.status_code == 303
    assert r.headers["location"] == f"/?tab=due&saved={cp.id}"
    assert "该步骤已从您的待办中移除" in client.get(r.headers["location"]).text
    assert count(world, CheckpointResult) == 1


def test_a_stale_save_shows_the_other_answer_instead_of_overwriting(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    old_version = cp.version
    token = sign_in_page(client, "clerk.a")
    first = result_form(token, cp, notes="王药师先打的电话")
    assert client.post(f"/checkpoints/{cp.id}/result", data=first).status_code == 303
    second = result_form(token, cp, adherence="missed_doses", notes="我的答案")
    second["version"] = str(old_version)
    r = client.post(f"/checkpoints/{cp.id}/result", data=second, headers=HX)
    assert r.status_code == 409
    assert "您的答案没有保存" in r.text and "王药师先打的电话" in r.text
    result = world.session.scalar(select(CheckpointResult))
    assert result is not None and result.notes == "王药师先打的电话"


def test_a_bad_measurement_names_the_field_and_saves_nothing(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp, **{"m.bone_density.t_score": "-60"})
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 422
    assert "检测数值" in r.text and "合理范围" in r.text
    assert 'value="-60"' in r.text  # the typed value is kept for correcting
    assert count(world, CheckpointResult) == 0


def test_unreachable_with_a_call_back_keeps_the_step_open(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = {
        "csrf_token": token,
        "version": str(cp.version),
        "outcome": "call_back",
        "call_back_at": "2024-03-06T16:30",
    }
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=data, headers=HX)
    assert r.status_code == 200, r.text
    assert "回电时间" in r.text and "16:30" in r.text
    world.session.refresh(cp)
    assert cp.state.value == "pending"
    assert 'id="count-due">1<' in client.get("/").text
