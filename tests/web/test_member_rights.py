"""The member's rights from the page and the API: the data export (JSON and a readable
PDF), recorded as an export, and erasure at the member's request."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.members.consent import withdraw_health_consent
from careplan.models import AccessLog
from tests import pdf
from tests.factories import (
    NOW,
    World,
    api_sign_in,
    enrolled_steps,
    make_member,
    record_bone_density,
    sign_in_page,
)


def _exports(world: World, member_id: int) -> list[str]:
    world.session.expire_all()
    rows = world.session.scalars(
        select(AccessLog.target).where(AccessLog.member_id == member_id, AccessLog.what == "export")
    )
    return list(rows)


def _member_with_a_reading(world: World):
    member = make_member(world, name="欧阳淑芬", mobile="13912345678")
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))
    record_bone_density(world, steps["medication_guidance"], world.pharmacist_a, now=NOW,
                        t_score=-2.7)  # fmt: skip
    world.session.commit()
    return member


def test_the_export_holds_everything_and_is_recorded(client: TestClient, world: World):
    member = _member_with_a_reading(world)
    sign_in_page(client, "clerk.a")
    r = client.get(f"/members/{member.id}/export.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    data = r.json()
    assert data["member"]["name"] == "欧阳淑芬" and data["member"]["mobile"] == "13912345678"
    assert data["member"]["drug_allergies"] == ["青霉素"]
    assert [h["values"] for h in data["health_checks"]] == [{"t_score": -2.7}]
    assert len(data["plans"]) == 1 and len(data["checkpoints"]) == 6
    assert len(data["checkpoint_results"]) == 1
    assert data["staff"][str(world.clerk_a.id)] == world.clerk_a.name
    assert "password_hash" not in r.text

    r = client.get(f"/members/{member.id}/export.pdf")
    assert r.headers["content-type"] == "application/pdf"
    text = pdf.flat(pdf.text(r.content))
    for shown in ("会员个人信息副本", "会员档案", "欧阳淑芬", "13912345678", "青霉素", "-2.7"):
        assert shown in text, shown

    headers = api_sign_in(client, "clerk.a")
    r = client.get(f"/api/v1/members/{member.id}/export", headers=headers)
    assert r.status_code == 200 and r.json()["member"]["id"] == member.id
    assert _exports(world, member.id) == [
        f"/members/{member.id}/export.json",
        f"/members/{member.id}/export.pdf",
        f"/api/v1/members/{member.id}/export",
    ]
    # Another store's clerk neither exports nor leaves an entry.
    other = api_sign_in(client, "clerk.b")
    assert client.get(f"/api/v1/members/{member.id}/export", headers=other).status_code == 404
    assert len(_exports(world, member.id)) == 3


def test_a_manager_erases_a_member_from_the_page(client: TestClient, world: World):
    member = _member_with_a_reading(world)
    api = api_sign_in(client, "manager.a")
    r = client.post(f"/api/v1/members/{member.id}/erase", json={}, headers=api)
    assert r.status_code == 409 and r.json()["error"]["field"] == "plans"

    withdraw_health_consent(world.session, world.actor(world.manager_a), member.id, now=NOW)
    world.session.commit()
    clerk = api_sign_in(client, "clerk.a")
    assert (
        client.post(f"/api/v1/members/{member.id}/erase", json={}, headers=clerk).status_code == 403
    )

    csrf = sign_in_page(client, "manager.a")
    page = client.get(f"/members/{member.id}")
    assert "删除会员个人信息" in page.text
    r = client.post(f"/members/{member.id}/erase", data={"csrf_token": csrf})
    assert r.status_code == 303
    page = client.get(f"/members/{member.id}").text
    assert "个人信息已于" in page and "欧阳淑芬" not in page and "13912345678" not in page
    assert "删除会员个人信息" not in page
    data = client.get(f"/members/{member.id}/export.json").json()
    assert data["member"]["name"] == "已删除" and data["member"]["mobile"] is None


def test_the_export_holds_complaints_grades_and_messages_too(client: TestClient, world: World):
    """What the store keeps of its dealings with the member is the member's to see: a
    complaint and its words, a grade set by staff and why, consent to SMS."""
    from careplan.outreach import consent as message_consent
    from careplan.value import complaints, grades
    from careplan.vocab import MessageChannel

    member = make_member(world, name="欧阳淑芬", mobile="13912345678")
    manager = world.actor(world.manager_a)
    complaints.record(world.session, manager, complaints.ComplaintIn(
        what="等了二十分钟没人理", cause="service", severity="high", channel="in_person",
        member_id=member.id), now=NOW)  # fmt: skip
    grades.set_grade(world.session, manager, member.id, 80, "介绍了两位朋友并成交", now=NOW)
    message_consent.grant(world.session, manager, member.id, MessageChannel.sms, now=NOW)
    world.session.commit()
    sign_in_page(client, "clerk.a")
    data = client.get(f"/members/{member.id}/export.json").json()
    assert [c["what"] for c in data["complaints"]] == ["等了二十分钟没人理"]
    assert [(g["to_grade"], g["reason"]) for g in data["grade_changes"]][-1] == (
        80, "介绍了两位朋友并成交")  # fmt: skip
    assert [c["channel"] for c in data["message_consents"]] == ["sms"]
    assert data["staff"][str(world.manager_a.id)] == world.manager_a.name
    text = pdf.flat(pdf.text(client.get(f"/members/{member.id}/export.pdf").content))
    for shown in ("投诉", "等了二十分钟没人理", "关系等级变更", "介绍了两位朋友并成交", "消息"):
        assert shown in text, shown
