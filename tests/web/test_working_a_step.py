"""Working a step as clerks and pharmacists do it (issue 21): the channel is chosen, never
preselected; the form follows the call; refusals sit beside the box at fault."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta

from fastapi.testclient import TestClient

from careplan.models import Checkpoint, CheckpointResult
from careplan.plans import lifecycle
from tests.factories import (
    HX,
    TravelClock,
    World,
    count,
    due_step,
    enrolled,
    make_member,
    result_form,
    sign_in_page,
)


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
    assert "回访方式：请选择您是如何联系到会员的" in r.text
    assert count(world, CheckpointResult) == 0


def step_of_protocol(world: World, clock: TravelClock, protocol_id: str, key: str) -> Checkpoint:
    member = make_member(world, owner=world.clerk_a)
    plan = lifecycle.enroll(
        world.session, world.actor(world.clerk_a), member_id=member.id, protocol_id=protocol_id,
        start=clock.today - timedelta(days=60), today=clock.today, now=clock.now,
    )  # fmt: skip
    world.session.commit()
    return next(cp for cp in lifecycle.checkpoints_of(world.session, plan) if cp.key == key)


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


def test_every_main_page_has_exactly_one_h1(client: TestClient, world: World, clock: TravelClock):
    cp = due_step(world, clock)
    member_id = cp.plan.member_id
    pages = [
        "/", "/?tab=overdue", "/?tab=upcoming", "/?tab=escalations", "/?tab=occasions",
        "/members", "/members?q=a", "/members/new", f"/members/{member_id}",
        f"/members/{member_id}/edit", f"/members/{member_id}/enrol", f"/plans/{cp.plan_id}",
        f"/checkpoints/{cp.id}", "/escalations", "/sheets", "/lectures", "/settings", "/my-members",
    ]  # fmt: skip
    sign_in_page(client, "clerk.a")
    for url in pages:
        r = client.get(url)
        assert r.status_code == 200, url
        assert len(re.findall(r"<h1[\s>]", r.text)) == 1, url
    client.cookies.clear()
    sign_in_page(client, "manager.a")
    for url in ("/?staff=all", "/store/staff", "/audit", "/purchases/import"):
        r = client.get(url)
        assert r.status_code == 200, url
        assert len(re.findall(r"<h1[\s>]", r.text)) == 1, url


def test_a_save_with_htmx_hands_the_focus_to_the_saved_notice(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    r = client.post(f"/checkpoints/{cp.id}/result", data=result_form(token, cp), headers=HX)
    assert re.search(r'<p role="status"[^>]*autofocus', r.text)


def attempt_form(token: str, cp: Checkpoint, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "version": str(cp.version),
        "outcome": "call_back",
        "call_back_at": "2024-03-06T16:30",
    } | fields


def test_call_back_at_confirms_what_was_logged_and_the_step_page_keeps_its_layout(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    r = client.post(
        f"/checkpoints/{cp.id}/attempt", data=attempt_form(token, cp, full_page="1"), headers=HX
    )
    assert r.status_code == 200
    assert (
        "已记录" in r.text and "2024年3月6日 16:30" in r.text and "该步骤仍在您的待办中" in r.text
    )
    # The step page's form again (its heading, the result form), not a worklist row.
    assert "<h1>" in r.text and 'class="result-form"' in r.text and "listitem" not in r.text
    assert "HX-Retarget" not in r.headers
    # On the worklist the row says the same.
    world.session.refresh(cp)
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=attempt_form(token, cp), headers=HX)
    assert r.headers["HX-Retarget"] == f"#cp-{cp.id}" and "已记录" in r.text
    # Without JavaScript: back on the step page, saying what was logged.
    world.session.refresh(cp)
    r = client.post(f"/checkpoints/{cp.id}/attempt", data=attempt_form(token, cp, tab="overdue"))
    assert r.status_code == 303 and r.headers["location"].startswith(f"/checkpoints/{cp.id}?")
    page = client.get(r.headers["location"]).text
    assert "已记录" in page and "16:30" in page and 'href="/?tab=overdue"' in page


def test_without_javascript_a_save_returns_to_the_tab_it_came_from(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    assert f'href="/checkpoints/{cp.id}?tab=due"' in client.get("/?tab=due").text
    assert 'name="tab" value="overdue"' in client.get(f"/checkpoints/{cp.id}?tab=overdue").text
    r = client.post(f"/checkpoints/{cp.id}/result", data=result_form(token, cp, tab="overdue"))
    assert r.headers["location"] == f"/?tab=overdue&saved={cp.id}"
    page = client.get(r.headers["location"]).text
    assert re.search(r'tab=overdue[^>]*aria-current="page"', page)


def test_a_member_with_two_open_steps_is_one_row_and_working_one_offers_the_other(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    member = cp.plan.member
    actor = world.actor(world.clerk_a)
    lifecycle.enroll(
        world.session, actor, member_id=member.id, protocol_id="hypertension",
        start=clock.today - timedelta(days=3), today=clock.today, now=clock.now,
    )  # fmt: skip
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    page = client.get("/").text
    assert page.count(f'href="/members/{member.id}"') == 1
    assert "该会员还有：" in page and "高血压" in page
    assert 'id="count-due">1<' in page
    form = client.get(f"/checkpoints/{cp.id}/form", headers=HX).text
    assert "该会员现在还有这些待办步骤" in form and "高血压" in form
    saved = client.post(f"/checkpoints/{cp.id}/result", data=result_form(token, cp), headers=HX)
    assert "该会员现在还有这些待办步骤" in saved.text


def test_routine_contacts_read_as_distinct_steps(
    client: TestClient, world: World, clock: TravelClock
):
    cp = step_of_protocol(world, clock, "post_purchase", "day3_thanks")
    sign_in_page(client, "clerk.a")
    page = client.get(f"/plans/{cp.plan_id}").text
    assert "常规维护联系 · 第1个月第1次" in page and "常规维护联系 · 第1个月第2次" in page


def test_no_word_is_printed_twice_on_a_worklist_row(
    client: TestClient, world: World, clock: TravelClock
):
    enrolled(world, clock, start=date(2024, 2, 5), name="李桂兰")
    due_step(world, clock)
    sign_in_page(client, "clerk.a")
    for tab in ("due", "overdue"):
        page = client.get(f"/?tab={tab}").text
        for row in page.split('role="listitem"')[1:]:
            words = re.sub(r"<[^>]+>", " ", row.split('class="work-actions"')[0]).split()
            doubled = [a for a, b in itertools.pairwise(words) if a == b]
            assert not doubled, (tab, " ".join(words))
            assert "过敏:" not in row


def test_a_managers_whole_store_list_names_whose_each_row_is(
    client: TestClient, world: World, clock: TravelClock
):
    enrolled(world, clock, start=date(2024, 3, 4), name="张建国")
    enrolled(world, clock, start=date(2024, 3, 4), owner=world.clerk_a2, name="别人的")
    sign_in_page(client, "manager.a")
    page = client.get("/?staff=all").text
    assert "<title>全店工作台" in page and re.search(r"<h1>全店工作台", page)
    assert "负责人：" in page
    assert world.clerk_a.name in page and world.clerk_a2.name in page
    mine = client.get(f"/?staff={world.clerk_a2.id}").text
    assert f"<h1>{world.clerk_a2.name}的工作台" in mine and "张建国" not in mine
    client.cookies.clear()
    sign_in_page(client, "clerk.a")
    own = client.get("/").text
    assert "<h1>我的工作台" in own and "负责人：" not in own


def test_my_members_lists_live_plans_next_step_and_last_contact_sorted_and_searched(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock, name="王秀英")
    enrolled(world, clock, start=date(2024, 2, 5), name="李桂兰")
    make_member(world, owner=world.clerk_a, name="无方案")
    enrolled(world, clock, start=date(2024, 3, 4), owner=world.clerk_a2, name="别人的")
    token = sign_in_page(client, "clerk.a")
    client.post(f"/checkpoints/{cp.id}/result", data=result_form(token, cp))
    page = client.get("/my-members").text
    assert "王秀英" in page and "李桂兰" in page
    assert "无方案" not in page and "别人的" not in page
    assert "骨质疏松慢病追踪" in page and "2024年3月6日" in page  # live plan, last contact
    assert page.index("李桂兰") < page.index("王秀英")  # the sooner next step first
    by_name = client.get("/my-members?sort=name").text
    assert 'aria-sort="ascending"' in by_name
    found = client.get("/my-members?q=王秀英", headers=HX).text
    assert "王秀英" in found and "李桂兰" not in found


def test_search_results_show_owner_age_and_live_plans(
    client: TestClient, world: World, clock: TravelClock
):
    plan = enrolled(world, clock, start=date(2024, 3, 4), name="王秀英")
    plan.member.birthday = date(1950, 6, 1)
    world.session.commit()
    sign_in_page(client, "clerk.a")
    r = client.get("/members?q=王秀英", headers=HX).text
    assert "73 岁" in r and world.clerk_a.name in r and "骨质疏松慢病追踪" in r


def test_a_stopped_answer_shows_on_the_plan_and_the_member_page_lists_it_open(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock)
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp, adherence="stopped", stop_reason="side_effects")
    assert client.post(f"/checkpoints/{cp.id}/result", data=data).status_code == 303
    plan = client.get(f"/plans/{cp.plan_id}").text
    assert "会员已停服（副作用）" in plan and "上报事项处理中" in plan
    assert "已完成" not in plan.split("<h1>")[1].split("</h1>")[0]
    member = client.get(f"/members/{cp.plan.member_id}").text
    section = member[member.index('id="h-escalations"') :].split("</section>")[0]
    assert "副作用" in section and "没有未处理的上报事项" not in section


def test_the_enrolment_preview_numbers_from_1_refuses_a_duplicate_and_success_says_so(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    form = {"csrf_token": token, "protocol_id": "osteoporosis", "start": "2024-03-06"}
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "preview"}, headers=HX)
    numbers = re.findall(r"<tr><td>(\d+)</td>", r.text)
    assert numbers == [str(n) for n in range(1, len(numbers) + 1)] and numbers
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "confirm"})
    page = client.get(r.headers["location"]).text
    assert "已加入“骨质疏松慢病追踪”" in page and "第一步：" in page
    again = client.post(
        f"/members/{member.id}/enrol", data=form | {"action": "preview"}, headers=HX
    )
    assert again.status_code == 422
    assert 'class="error" role="alert"' in again.text and "该会员已在此方案中" in again.text
    assert "<table" not in again.text  # no dates for a plan that cannot be saved
