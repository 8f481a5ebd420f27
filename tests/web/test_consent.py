"""Withdrawing consent from the member page and the API: the page says what it means,
and the API then refuses new health data, naming the field."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import World, api_sign_in, make_member, sign_in_page


def test_the_page_withdraws_consent_and_says_what_it_means(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    token = sign_in_page(client, "pharm.a")
    page = client.get(f"/members/{member.id}").text
    assert "（表格版本 2026-11）" in page and "会员撤回同意" in page
    r = client.post(f"/members/{member.id}/consent/withdraw", data={"csrf_token": token})
    assert r.status_code == 303
    page = client.get(f"/members/{member.id}").text
    assert "撤回健康数据同意。已记录的数据仍安全保存，但不再使用或新增" in page
    assert "会员撤回同意" not in page and f"/members/{member.id}/enrol" not in page


def test_after_a_withdrawal_the_api_refuses_new_health_data(client: TestClient, world: World):
    member = make_member(world)
    world.session.commit()
    headers = api_sign_in(client, "pharm.a")
    r = client.post(f"/api/v1/members/{member.id}/health-consent/withdraw", headers=headers)
    assert r.status_code == 200 and r.json()["health_consent_withdrawn_at"] is not None
    reading = {"kind": "bone_density", "values": {"t_score": -2.4}}
    r = client.post(f"/api/v1/members/{member.id}/health-checks", json=reading, headers=headers)
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "health_consent"
    assert "withdrew consent" in r.json()["error"]["message"]
