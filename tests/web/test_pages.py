"""The workbench pages through the ASGI app, on both databases: sign-in, CSRF, lockout,
worklist, archive, enrolment, working a step (htmx and plain POST), hand-over."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.models import CarePlan, Checkpoint, CheckpointResult, Escalation, Member, Ownership
from careplan.plans import lifecycle
from careplan.plans.lifecycle import status_of
from tests.factories import (
    PASSWORD,
    TravelClock,
    World,
    api_sign_in,
    csrf_of,
    make_member,
    sign_in_page,
)

HX = {"HX-Request": "true"}


def enrolled(world: World, clock: TravelClock, *, start: date, owner=None, **kw) -> CarePlan:
    member = make_member(world, owner=owner or world.clerk_a, **kw)
    actor = world.actor(owner or world.clerk_a)
    plan = lifecycle.enroll(
        world.session, actor, member_id=member.id, protocol_id="osteoporosis",
        start=start, today=clock.today, now=clock.now,
    )  # fmt: skip
    world.session.commit()
    return plan


def steps_by_status(world: World, plan: CarePlan, today: date) -> dict[str, list[Checkpoint]]:
    found: dict[str, list[Checkpoint]] = {}
    for cp in world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id)):
        found.setdefault(status_of(cp, today).value, []).append(cp)
    return found


def count(world: World, model: type) -> int:
    return world.session.scalar(select(func.count()).select_from(model)) or 0


# --- Sign-in, cookies, CSRF, lockout -------------------------------------------------


def test_pages_need_a_signed_in_user(client: TestClient):
    r = client.get("/members")
    assert r.status_code == 303
    assert r.headers["location"] == "/sign-in?next=/members"


def test_sign_in_sets_an_http_only_same_site_cookie(client: TestClient, world: World):
    token = csrf_of(client)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": "clerk.a", "password": PASSWORD, "next": "/"},
    )
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    assert "careplan_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert client.get("/").status_code == 200


def test_a_crafted_next_cannot_send_staff_to_another_site(client: TestClient):
    token = csrf_of(client)
    data = {"csrf_token": token, "username": "clerk.a", "password": PASSWORD}
    r = client.post("/sign-in", data=data | {"next": "//evil.example/"})
    assert r.headers["location"] == "/"


def test_posts_without_the_csrf_token_are_refused(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    url = f"/members/{member.id}/verified"
    assert client.post(url).status_code == 403
    assert client.post(url, data={"csrf_token": "0" * 64}).status_code == 403
    assert "表单已过期" in client.post(url).text
    world.session.refresh(member)
    assert member.last_verified_on == date(2024, 3, 1)  # unchanged
    assert client.post(url, data={"csrf_token": token}).status_code == 303
    assert client.post(url, headers={"X-CSRF-Token": token} | HX).status_code == 200


def test_the_sign_in_form_needs_its_csrf_token_too(client: TestClient):
    r = client.post("/sign-in", data={"username": "clerk.a", "password": PASSWORD})
    assert r.status_code == 403
    assert "careplan_session" not in r.headers.get("set-cookie", "")


def test_the_sign_in_pages_token_opens_no_signed_in_form(client: TestClient, world: World):
    """A token minted for the anonymous cookie (anyone can get one from the sign-in page,
    and plant the cookie) is good for signing in and nothing else."""
    member = make_member(world)
    world.session.commit()
    planted = csrf_of(client)  # the sign-in page's, for this browser's anonymous cookie
    own = sign_in_page(client, "clerk.a")
    assert client.cookies.get("careplan_anon")  # still sent alongside the session
    url = f"/members/{member.id}/verified"
    assert client.post(url, data={"csrf_token": planted}).status_code == 403
    assert client.post(url, headers={"X-CSRF-Token": planted} | HX).status_code == 403
    assert client.post(url, data={"csrf_token": own}).status_code == 303


def test_a_form_posted_from_another_site_is_refused(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    url, data = f"/members/{member.id}/verified", {"csrf_token": token}
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        {"Origin": "http://testserver.evil.example"},
    ):
        r = client.post(url, data=data, headers=headers)
        assert r.status_code == 403, headers
        assert "表单已过期" in r.text
    world.session.refresh(member)
    assert member.last_verified_on == date(2024, 3, 1)  # unchanged
    assert client.post(url, data=data, headers={"Origin": "http://testserver"}).status_code == 303
    same_site = {"Referer": "http://testserver/members/1"}
    assert client.post(url, data=data, headers=same_site).status_code == 303


def test_five_wrong_passwords_lock_the_account_for_a_while(client: TestClient, clock: TravelClock):
    token = csrf_of(client)
    data = {"csrf_token": token, "username": "clerk.a", "next": "/"}
    for _ in range(5):
        r = client.post("/sign-in", data=data | {"password": "wrong-password!"})
        assert r.status_code == 401
        assert "用户名或密码错误" in r.text or "账号已锁定" in r.text
    r = client.post("/sign-in", data=data | {"password": PASSWORD})
    assert r.status_code == 401
    assert "账号已锁定" in r.text
    # The API shares the lock.
    r = client.post("/api/v1/auth/token", json={"username": "clerk.a", "password": PASSWORD})
    assert r.status_code == 423
    clock.advance(minutes=16)
    r = client.post("/sign-in", data=data | {"password": PASSWORD})
    assert r.status_code == 303


def test_sign_out_ends_the_session(client: TestClient):
    token = sign_in_page(client, "clerk.a")
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/").status_code == 303


def test_a_page_cookie_is_not_an_api_token(client: TestClient):
    sign_in_page(client, "clerk.a")
    cookie = client.cookies.get("careplan_session")
    r = client.get("/api/v1/members", headers={"Authorization": f"Bearer {cookie}"})
    assert r.status_code == 401


# --- Access: three personas ----------------------------------------------------------


def test_every_store_a_url_and_api_route_is_404_for_the_clerk_of_store_b(
    client: TestClient, world: World, clock: TravelClock
):
    plan = enrolled(world, clock, start=date(2024, 3, 4))
    member_id, plan_id = plan.member_id, plan.id
    cp = world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan_id)).first()
    assert cp is not None
    world.session.add(
        Escalation(
            member_id=member_id,
            store_id=world.store_a.id,
            plan_id=plan_id,
            checkpoint_id=cp.id,
            reason="service",
            role="store_manager",
            action_zh="上门",
            action_en="Visit",
            due_on=clock.today,
            raised_by_id=world.clerk_a.id,
            raised_at=clock.now,
        )
    )
    world.session.commit()
    esc_id = world.session.scalar(select(Escalation.id))
    pages = [
        f"/members/{member_id}",
        f"/members/{member_id}/edit",
        f"/members/{member_id}/enrol",
        f"/plans/{plan_id}",
        f"/checkpoints/{cp.id}",
        f"/checkpoints/{cp.id}/form",
    ]
    posts = [
        f"/members/{member_id}",
        f"/members/{member_id}/verified",
        f"/members/{member_id}/consent",
        f"/members/{member_id}/enrol",
        f"/checkpoints/{cp.id}/result",
        f"/checkpoints/{cp.id}/attempt",
        f"/escalations/{esc_id}/resolve",
    ]
    api_gets = [
        f"/api/v1/members/{member_id}",
        f"/api/v1/members/{member_id}/ownership",
        f"/api/v1/members/{member_id}/plans",
        f"/api/v1/members/{member_id}/health-checks",
        f"/api/v1/members/{member_id}/effects",
        f"/api/v1/members/{member_id}/purchases",
        f"/api/v1/plans/{plan_id}",
        f"/api/v1/checkpoints/{cp.id}",
    ]
    api_posts = [
        ("patch", f"/api/v1/members/{member_id}", {"name": "X"}),
        ("post", f"/api/v1/members/{member_id}/verified", None),
        ("post", f"/api/v1/members/{member_id}/health-consent", None),
        ("post", f"/api/v1/members/{member_id}/reassign", {"owner_id": world.clerk_b.id}),
        (
            "post",
            f"/api/v1/members/{member_id}/health-checks",
            {"kind": "weight", "values": {"value": 60}},
        ),
        ("post", f"/api/v1/members/{member_id}/effects", {"after": "好"}),
        ("post", f"/api/v1/plans/{plan_id}/pause", None),
        ("post", f"/api/v1/plans/{plan_id}/resume", None),
        ("post", f"/api/v1/plans/{plan_id}/stop", {"reason": "x"}),
        (
            "post",
            f"/api/v1/checkpoints/{cp.id}/result",
            {"version": cp.version, "channel": "phone", "adherence": "as_directed"},
        ),
        ("post", f"/api/v1/checkpoints/{cp.id}/attempts", {}),
        ("post", f"/api/v1/checkpoints/{cp.id}/skip", {"reason": "x"}),
        ("post", f"/api/v1/escalations/{esc_id}/resolve", {"resolution": "x"}),
    ]
    token_b = sign_in_page(client, "clerk.b")
    for url in pages:
        assert client.get(url).status_code == 404, url
    for url in posts:
        assert client.post(url, data={"csrf_token": token_b}).status_code == 404, url
    hb = api_sign_in(client, "clerk.b")
    for url in api_gets:
        assert client.get(url, headers=hb).status_code == 404, url
    for method, url, body in api_posts:
        r = client.request(method.upper(), url, headers=hb, json=body)
        assert r.status_code == 404, (url, r.status_code, r.text)
    assert f"/members/{member_id}" not in client.get("/members?q=王").text
    # The same URLs open for the clerk of store A and for the supervisor.
    for username in ("clerk.a", "super"):
        client.cookies.clear()
        sign_in_page(client, username)
        for url in pages:
            assert client.get(url).status_code == 200, (username, url)
        headers = api_sign_in(client, username)
        for url in api_gets:
            assert client.get(url, headers=headers).status_code == 200, (username, url)


def test_store_pages_are_for_managers(client: TestClient):
    sign_in_page(client, "clerk.a")
    r = client.get("/store/staff")
    assert r.status_code == 403
    assert "只有店长" in r.text


# --- Worklist ---------------------------------------------------------------------------


def test_the_worklist_shows_due_and_overdue_steps_with_counts(
    client: TestClient, world: World, clock: TravelClock
):
    old = enrolled(world, clock, start=date(2024, 2, 5), name="李桂兰")
    new = enrolled(world, clock, start=date(2024, 3, 4), name="张建国")
    enrolled(world, clock, start=date(2024, 3, 4), owner=world.clerk_a2, name="别人的")
    by_old = steps_by_status(world, old, clock.today)
    by_new = steps_by_status(world, new, clock.today)
    # The counts are calls: members with a step in the tab (issue 21: one row per member).
    due = sum(1 for by in (by_old, by_new) if by.get("due"))
    overdue = sum(1 for by in (by_old, by_new) if by.get("overdue"))
    assert due >= 1 and overdue >= 1
    sign_in_page(client, "clerk.a")
    page = client.get("/").text
    assert f'id="count-due">{due}<' in page
    assert f'id="count-overdue">{overdue}<' in page
    assert "张建国" in page and "别人的" not in page
    assert "11:00–12:00" in page  # best call hours
    page = client.get("/?tab=overdue").text
    oldest = min(cp.due_on for cp in by_old["overdue"])
    days = (clock.today - oldest).days
    assert f"已逾期 {days} 天" in page
    assert "李桂兰" in page
    filtered = client.get("/?tab=overdue&protocol=hypertension").text
    assert "李桂兰" not in filtered


def test_birthdays_and_festivals_this_week_are_greeting_tasks(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world, name="周凤英")
    member.birthday = date(1950, 3, 9)
    world.session.commit()
    clock.now = clock.now.replace(month=9, day=14)  # 中秋 2024 is 17 September
    sign_in_page(client, "clerk.a")
    page = client.get("/").text
    assert 'id="count-occasions">1<' in page
    page = client.get("/?tab=occasions").text
    assert "中秋节" in page
    assert "周凤英" not in page  # her birthday is in March
    clock.now = clock.now.replace(month=3, day=6)
    page = client.get("/?tab=occasions").text
    assert "周凤英" in page and "满 74 岁" in page


# --- Working a checkpoint ---------------------------------------------------------------


def due_step(world: World, clock: TravelClock, **kw) -> Checkpoint:
    plan = enrolled(world, clock, start=date(2024, 3, 4), **kw)
    return steps_by_status(world, plan, clock.today)["due"][0]


def result_form(token: str, cp: Checkpoint, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "version": str(cp.version),
        "channel": "phone",
        "adherence": "as_directed",
        "notes": "已电话指导",
    } | fields


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


# --- Member archive -------------------------------------------------------------------


def archive_form(token: str, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "name": "孙玉梅",
        "card_number": "C20001",
        "mobile": "138 0013 8000",
        "health_consent": "on",
        "drug_allergies": "青霉素，磺胺",
    } | fields


def test_registering_a_member_validates_and_writes_nothing_on_error(
    client: TestClient, world: World
):
    token = sign_in_page(client, "clerk.a")
    before = count(world, Member)
    r = client.post("/members", data=archive_form(token, mobile="1234"))
    assert r.status_code == 422
    assert "手机号" in r.text and "不是有效的手机号" in r.text
    r = client.post("/members", data=archive_form(token, health_consent=""))
    assert r.status_code == 422 and "授权" in r.text
    assert count(world, Member) == before
    r = client.post("/members", data=archive_form(token))
    assert r.status_code == 303
    member = world.session.scalar(select(Member).where(Member.card_number == "C20001"))
    assert member is not None
    assert member.mobile == "13800138000"
    assert member.drug_allergies == ["青霉素", "磺胺"]
    assert member.owner_id == world.clerk_a.id
    page = client.get(r.headers["location"]).text
    assert "allergy-box" in page and "青霉素、磺胺" in page


def test_duplicates_by_phone_are_flagged(client: TestClient, world: World):
    first = make_member(world, name="王秀英", mobile="13900139000")
    second = make_member(world, name="王秀英", mobile="13900139000")
    world.session.commit()
    sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{second.id}").text
    assert "该手机号已登记给" in page and f"/members/{first.id}" in page
    check = client.get("/members/mobile-check?mobile=139-0013-9000", headers=HX).text
    assert "是否为同一人" in check


def test_search_finds_members_by_pinyin_initials_phone_and_card(client: TestClient, world: World):
    member = make_member(world, name="单田芳", mobile="13700137000")
    world.session.commit()
    sign_in_page(client, "clerk.a")
    for q in ("stf", "dtf", "单田", "0137000", member.card_number):
        assert f"/members/{member.id}" in client.get(f"/members?q={q}").text, q
    assert f"/members/{member.id}" not in client.get("/members?q=wxy").text


def test_confirmed_today_is_one_click(client: TestClient, world: World, clock: TravelClock):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    assert "今日已核实" in client.get(f"/members/{member.id}").text  # the button
    r = client.post(f"/members/{member.id}/verified", headers=HX | {"X-CSRF-Token": token})
    assert "✓" in r.text
    world.session.refresh(member)
    assert member.last_verified_on == clock.today


def test_editing_without_consent_cannot_add_health_data(client: TestClient, world: World):
    member = make_member(world, consent=False)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    edit = client.get(f"/members/{member.id}/edit").text
    assert re.search(r'<textarea [^>]*name="drug_allergies"[^>]*disabled', edit)
    r = client.post(
        f"/members/{member.id}",
        data={"csrf_token": token, "name": "王秀英", "drug_allergies": "青霉素"},
    )
    assert r.status_code == 303  # the disabled part is ignored, the rest saved
    world.session.refresh(member)
    assert member.drug_allergies == []
    r = client.post(f"/members/{member.id}", data={"csrf_token": token, "name": ""})
    assert r.status_code == 422 and "姓名" in r.text


def test_the_member_page_shows_plans_checks_and_ownership(
    client: TestClient, world: World, clock: TravelClock
):
    cp = due_step(world, clock, name="刘淑珍")
    token = sign_in_page(client, "clerk.a")
    data = result_form(token, cp, **{"m.bone_density.t_score": "-2.8"})
    client.post(f"/checkpoints/{cp.id}/result", data=data)
    page = client.get(f"/members/{cp.plan.member_id}").text
    assert "骨质疏松" in page
    assert '<svg class="chart"' in page and "骨密度" in page
    assert "负责人变更记录" in page and "登记该会员" in page
    assert "档案完整度" in page


# --- Enrolment ------------------------------------------------------------------------


def test_enrolling_shows_the_dates_before_confirming(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    form = {"csrf_token": token, "protocol_id": "osteoporosis", "start": "2024-03-06"}
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "preview"}, headers=HX)
    assert r.status_code == 200
    assert r.text.count("<tr>") == 7  # header + weeks 1/2/3/4/6/8
    assert count(world, CarePlan) == 0
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "confirm"})
    assert r.status_code == 303
    assert count(world, CarePlan) == 1
    r = client.post(f"/members/{member.id}/enrol", data=form | {"action": "confirm"})
    assert r.status_code == 422 and count(world, CarePlan) == 1


# --- Store manager ----------------------------------------------------------------------


def test_a_manager_hands_over_a_departing_clerks_members_with_history(
    client: TestClient, world: World
):
    members = [make_member(world, name=f"会员{i}") for i in range(3)]
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    assert "会员0" in client.get("/store/staff").text
    data = {
        "csrf_token": token,
        "mode": "all",
        "from_staff_id": str(world.clerk_a.id),
        "to_staff_id": str(world.clerk_a2.id),
        "staff_left": "on",
        "note": "离职交接",
    }
    r = client.post("/store/reassign", data=data)
    assert r.status_code == 303, r.text
    for m in members:
        world.session.refresh(m)
        assert m.owner_id == world.clerk_a2.id
    world.session.refresh(world.clerk_a)
    assert not world.clerk_a.active
    assert count(world, Ownership) == 6
    page = client.get(r.headers["location"]).text
    assert "已移交 3 位会员" in page and "离职交接" in page


def test_a_manager_hands_over_selected_members(client: TestClient, world: World):
    a, b = make_member(world, name="甲"), make_member(world, name="乙")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    data = {"csrf_token": token, "member_ids": [str(a.id)], "to_staff_id": str(world.clerk_a2.id)}
    assert client.post("/store/reassign", data=data).status_code == 303
    world.session.refresh(a)
    world.session.refresh(b)
    assert (a.owner_id, b.owner_id) == (world.clerk_a2.id, world.clerk_a.id)
    r = client.post("/store/reassign", data={"csrf_token": token, "to_staff_id": "1"})
    assert r.status_code == 422 and "请至少选择一位会员" in r.text


# --- Languages --------------------------------------------------------------------------


def test_the_sign_in_page_follows_accept_language(client: TestClient):
    assert "Sign in" in client.get("/sign-in", headers={"Accept-Language": "en-GB,en"}).text
    assert "登录" in client.get("/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).text
    assert "登录" in client.get("/sign-in", headers={"Accept-Language": "fr"}).text


def test_each_user_chooses_their_language(client: TestClient):
    token = sign_in_page(client, "clerk.a")
    assert "我的工作台" in client.get("/").text
    assert client.post("/settings", data={"csrf_token": token, "language": "en"}).status_code == 303
    assert "My worklist" in client.get("/").text
    r = client.post("/settings", data={"csrf_token": token, "language": "fr"})
    assert r.status_code == 422


def test_every_answer_carries_the_security_headers(client: TestClient, world: World):
    """No inline script may run, nobody else may frame careplan, types are not sniffed,
    and pages with health data are not cached; the vendored files may be."""
    for path in ("/sign-in", "/api/v1/members", "/no-such-page"):
        r = client.get(path)
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
        assert "frame-ancestors 'self'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"
    r = client.get("/static/vendor/htmx/htmx.min.js")
    assert r.status_code == 200 and r.headers.get("cache-control") != "no-store"
