"""Escalations over the web: two answers at once, and who may close a case."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.models import Escalation
from careplan.plans import escalations
from careplan.vocab import EscalationStatus, StopReason
from tests.careplan.test_escalations import first_step, open_ones, stopped
from tests.factories import (
    HASHED,
    NOW,
    PASSWORD,
    ROOT,
    World,
    api_sign_in,
    make_member,
    make_world,
    sign_in_page,
)
from web.app import create_app
from web.deps import Clock, get_clock


def test_two_stopped_answers_posted_at_the_same_moment_make_one_case(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        world = make_world(s)
        world.clerk_a.password_hash = HASHED
        member = make_member(world)
        steps = [first_step(world, member.id, p) for p in ("osteoporosis", "hypertension")]
        targets = [(cp.id, cp.version) for cp in steps]
        member_id = member.id
        s.commit()
    app = create_app(factory)
    app.dependency_overrides[get_clock] = lambda: Clock(now=NOW, today=steps[0].due_on)
    r = TestClient(app).post(
        "/api/v1/auth/token", json={"username": "clerk.a", "password": PASSWORD}
    )
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    go = threading.Barrier(len(targets))
    answers: list[tuple[int, list[int]]] = []

    def answer(checkpoint_id: int, version: int) -> None:
        own = TestClient(app)
        go.wait()
        r = own.post(
            f"/api/v1/checkpoints/{checkpoint_id}/result",
            json={"version": version, "channel": "phone", "adherence": "stopped",
                  "stop_reason": "side_effects"},
            headers=headers,
        )  # fmt: skip
        answers.append((r.status_code, r.json().get("escalation_ids", [])))

    threads = [threading.Thread(target=answer, args=t) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with factory() as s:
        [esc] = open_ones(s, member_id)
        assert esc.reports == 2
    # Both saves succeeded, and each answer names the one case it went to.
    assert sorted(answers) == [(201, [esc.id]), (201, [esc.id])]


def raised_side_effects(world: World) -> int:
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"), StopReason.side_effects)
    world.session.commit()
    [esc] = open_ones(world.session, member.id)
    return esc.id


def test_a_clerk_is_not_offered_and_cannot_close_a_pharmacists_side_effect_case(
    client: TestClient, world: World
):
    esc_id = raised_side_effects(world)
    token = sign_in_page(client, "clerk.a")
    page = client.get("/escalations").text
    assert f'id="esc-{esc_id}"' in page  # the clerk sees the case about their member
    assert f"/escalations/{esc_id}/resolve" not in page  # but is offered no button
    r = client.post(f"/escalations/{esc_id}/resolve",
                    data={"csrf_token": token, "resolution": "我打过电话了"})  # fmt: skip
    assert r.status_code == 403
    assert "只有" in r.text and "上报事项" in r.text  # the refusal in Chinese
    r = client.post(f"/api/v1/escalations/{esc_id}/resolve", json={"resolution": "x"},
                    headers=api_sign_in(client, "clerk.a"))  # fmt: skip
    assert r.status_code == 403 and r.json()["error"]["field"] == "escalation_id"
    world.session.expire_all()
    assert world.session.get_one(Escalation, esc_id).status is EscalationStatus.open


def test_the_pharmacist_is_offered_the_button_and_closes_the_case(client: TestClient, world: World):
    esc_id = raised_side_effects(world)
    token = sign_in_page(client, "pharm.a")
    assert f"/escalations/{esc_id}/resolve" in client.get("/escalations").text
    r = client.post(f"/escalations/{esc_id}/resolve",
                    data={"csrf_token": token, "resolution": "药师已回访"})  # fmt: skip
    assert r.status_code == 303
    world.session.expire_all()
    assert world.session.get_one(Escalation, esc_id).status is EscalationStatus.resolved


def test_head_office_sees_each_cases_store_and_who_resolved_it_when(
    client: TestClient, world: World
):
    esc_id = raised_side_effects(world)
    world.pharmacist_a.name = "赵药师"
    world.session.commit()
    escalations.resolve_escalation(
        world.session, world.actor(world.pharmacist_a), esc_id, "药师已回访", now=NOW
    )
    world.session.commit()
    sign_in_page(client, "super")
    page = client.get("/escalations?status=resolved").text
    row = page[page.index(f'id="esc-{esc_id}"') :]
    row = row[: row.index("</tr>")]
    assert "徐汇店" in row  # the store column of the chain-wide list
    assert '于 2024年3月1日 10:00 办结，办结人： <span translate="no">赵药师</span>' in row
    assert "药师已回访" in row
    assert '<th scope="col">门店</th>' in page
    client.cookies.clear()
    sign_in_page(client, "pharm.a")  # one store's list has no store column
    assert '<th scope="col">门店</th>' not in client.get("/escalations?status=resolved").text


def test_one_word_for_escalations_in_chinese():
    catalogue = (ROOT / "web/translations/zh_CN/LC_MESSAGES/messages.po").read_text("utf-8")
    assert "升级" not in catalogue
    assert catalogue.count("上报事项") >= 5
