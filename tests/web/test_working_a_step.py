"""Working a step as clerks and pharmacists do it (issue 21): the channel is chosen, never
preselected; the form follows the call; refusals sit beside the box at fault."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient

from careplan import plans
from careplan.models import Checkpoint, CheckpointResult
from tests.conftest import World, make_member
from tests.web.conftest import TravelClock, sign_in_page
from tests.web.test_pages import HX, count, due_step, result_form


def test_no_channel_is_preselected_and_a_save_without_one_is_refused_naming_it(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX).text
    radios = re.findall(r'<input type="radio" name="channel"[^>]*>', form)
    assert radios and not any("checked" in r for r in radios)
    data = result_form(token, cp)
    del data["channel"]
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 422
    assert re.search(r"回访方式[:：]\s*请选择您是如何联系到会员的", r.text)
    assert count(world, CheckpointResult) == 0


def step_of_protocol(world: World, clock: TravelClock, protocol_id: str, key: str) -> Checkpoint:
    member = make_member(world, owner=world.clerk_a)
    plan = plans.enroll(
        world.session, world.actor(world.clerk_a), member_id=member.id, protocol_id=protocol_id,
        start=clock.today - timedelta(days=60), today=clock.today, now=clock.now,
    )  # fmt: skip
    world.session.commit()
    return next(cp for cp in plans.checkpoints_of(world.session, plan) if cp.key == key)


def test_the_form_follows_the_call_and_folds_the_effect_record(
    client: TestClient, world: World, clock: TravelClock
):
    cp = step_of_protocol(world, clock, "hypertension", "start_guidance")
    sign_in_page(client, "clerk.a")
    page = client.get(f"/checkpoints/{cp.id}").text
    form = page[page.index('class="result-form"') :]
    order = ["检查清单", 'name="adherence"', "检测数值", 'name="channel"', 'name="notes"']
    order.append("保存回访结果")
    places = [form.index(marker) for marker in order]
    assert places == sorted(places), dict(zip(order, places, strict=True))
    assert re.search(r'<details class="effect-record"\s*>', form)  # folded
    assert "打印用药指导单" not in page  # printing is offered after the save
    asks = step_of_protocol(world, clock, "post_purchase", "day28_effects")
    assert re.search(
        r'<details class="effect-record"\s*open>', client.get(f"/checkpoints/{asks.id}").text
    )


def test_a_refused_measurement_is_marked_on_its_own_box(
    client: TestClient, world: World, clock: TravelClock
):
    cp = step_of_protocol(world, clock, "hypertension", "start_guidance")
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp) | {
        "m.blood_pressure.systolic": "120",
        "m.blood_pressure.diastolic": "900",
    }
    r = client.post(f"/checkpoints/{cp.id}/result", data=data, headers=HX)
    assert r.status_code == 422
    box = f'id="m-{cp.id}-blood_pressure-diastolic-error"'
    assert box in r.text and f'id="m-{cp.id}-blood_pressure-systolic-error"' not in r.text
    error = r.text[r.text.index(box) :].split("</p>")[0]
    assert "舒张压：超出输入框下方所示的合理范围" in error
    # each range hint sits under its own box
    boxes = r.text.split('<div class="measure-box">')[1:]
    assert len(boxes) >= 2
    for chunk in boxes:
        chunk = chunk.split("</div>")[0]
        assert chunk.count("<input") == 1 and chunk.count('class="hint" id="m-') == 1
    assert count(world, CheckpointResult) == 0
    r = client.post(
        f"/checkpoints/{cp.id}/result", data=data | {"m.blood_pressure.diastolic": "8o"}, headers=HX
    )
    assert "舒张压：请输入数字" in r.text
