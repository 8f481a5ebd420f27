"""Messages on the pages: consent on the member's page, a store's messages of the day,
what the log provider kept, and the providers' signed callbacks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from careplan.config import get_settings
from careplan.jobs import tasks
from careplan.models import Message, MessageConsent
from careplan.outreach import consent, outbox, wiring
from careplan.vocab import MessageChannel, MessageReason, MessageState
from tests.factories import TravelClock, World, make_member, sign_in_page
from tests.web.test_lectures import schedule

SECRET = "s" * 40


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CAREPLAN_WORK_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_clerk_takes_sms_consent_and_a_bad_openid_is_refused_in_chinese(
    client: TestClient, world: World
):
    member = make_member(world, mobile="13900000001")
    world.session.commit()
    token = sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}").text
    assert "发给会员的消息" in page and "尚未征询" in page and "还没有消息。" in page
    r = client.post(f"/members/{member.id}/messages/consent",
                    data={"csrf_token": token, "channel": "sms"})  # fmt: skip
    assert r.status_code == 303
    page = client.get(f"/members/{member.id}").text
    assert "已同意" in page and "会员撤回同意" in page
    r = client.post(f"/members/{member.id}/messages/consent",
                    data={"csrf_token": token, "channel": "wechat", "openid": "x"})  # fmt: skip
    assert r.status_code == 422 and "不是有效的微信用户标识" in r.text
    world.session.expire_all()
    assert set(consent.consents_of(world.session, member.id)) == {MessageChannel.sms}
    r = client.post(f"/members/{member.id}/messages/consent/withdraw",
                    data={"csrf_token": token, "channel": "sms"})  # fmt: skip
    assert r.status_code == 303 and "已撤回" in client.get(f"/members/{member.id}").text


def test_a_manager_builds_the_day_and_sees_it_sent_in_the_log(
    client: TestClient, world: World, clock: TravelClock, session_factory, monkeypatch,
    settings_env,
):  # fmt: skip
    member = make_member(world, name="周敏", mobile="13900000002")
    member.created_at = clock.now
    consent.grant(world.session, world.actor(world.clerk_a), member.id, MessageChannel.sms,
                  now=clock.now)  # fmt: skip
    world.session.commit()
    monkeypatch.setattr(tasks, "_factory", lambda: session_factory)
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "queue_messages", lambda ids, **kw: queued.append(list(ids)))
    built: list[int] = []  # the job, run as a consumer would (here, at once)
    monkeypatch.setattr(tasks, "build_messages_now",
                        lambda by: built.append(tasks.build_now(by=by).added))  # fmt: skip
    token = sign_in_page(client, "manager.a")
    r = client.post("/store/messages/build", data={"csrf_token": token})
    assert r.status_code == 303
    page = client.get(r.headers["location"]).text
    assert "正在生成今日消息" in page and built == [1]
    assert "周敏" in page and "入会感谢" in page and "待发送" in page
    assert "周敏您好，感谢您成为徐汇店的会员" in page
    client.post("/store/messages/build", data={"csrf_token": token})
    assert built == [1, 0]  # built again: nothing twice
    (ids,) = queued
    outbox.send(session_factory, ids, wiring.sending(get_settings()))
    log_page = client.get("/messages/log").text
    assert "13900000002" in log_page and "周敏您好" in log_page
    assert "已发送" in client.get("/store/messages").text
    client.cookies.clear()
    sign_in_page(client, "clerk.a")
    assert client.get("/store/messages").status_code == 403
    assert client.get("/messages/log").status_code == 403


def _sent_message(world: World, member_id: int, provider_id: str) -> Message:
    now = datetime(2024, 3, 6, 3, tzinfo=UTC)
    row = Message(member_id=member_id, store_id=world.store_a.id, channel=MessageChannel.sms,
                  reason=MessageReason.welcome, ref="welcome", for_day=now.date(),
                  template="welcome", language="zh", variables={}, text="欢迎",
                  state=MessageState.sent, not_before=now, created_at=now, provider="aliyun",
                  provider_id=provider_id, attempts=1)  # fmt: skip
    world.session.add(row)
    world.session.commit()
    return row


@pytest.fixture
def aliyun(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("CAREPLAN_MESSAGES_SMS_PROVIDER", "aliyun")
    monkeypatch.setenv("CAREPLAN_SMS_ALIYUN_ACCESS_KEY_ID", "LTAI-test")
    monkeypatch.setenv("CAREPLAN_SMS_ALIYUN_ACCESS_KEY_SECRET", "secret-test")
    monkeypatch.setenv("CAREPLAN_SMS_CALLBACK_SECRET", SECRET)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_aliyun_receipts_and_a_td_reply_arrive_signed_and_change_the_rows(
    client: TestClient, world: World, aliyun
):
    member = make_member(world, mobile="13900000003")
    consent.grant(world.session, world.actor(world.clerk_a), member.id, MessageChannel.sms,
                  now=datetime(2024, 3, 6, 2, tzinfo=UTC))  # fmt: skip
    sent = _sent_message(world, member.id, "biz-1")
    receipt = [{"phone_number": "13900000003", "success": True, "biz_id": "biz-1",
                "out_id": str(sent.id), "err_code": "DELIVERED", "err_msg": "用户接收成功",
                "send_time": "2024-03-06 11:00:00", "report_time": "2024-03-06 11:00:05",
                "sms_size": "1"}]  # fmt: skip
    url = "/callbacks/messages/aliyun"
    assert client.post(url, content=json.dumps(receipt)).status_code == 403  # no token
    assert client.post(f"{url}?token=wrong", content=json.dumps(receipt)).status_code == 403
    world.session.expire_all()
    assert world.session.get_one(Message, sent.id).state is MessageState.sent
    r = client.post(f"{url}?token={SECRET}", content=json.dumps(receipt))
    assert r.status_code == 200 and r.json() == {"code": 0, "msg": "成功"}
    world.session.expire_all()
    assert world.session.get_one(Message, sent.id).state is MessageState.delivered
    reply = [{"phone_number": "13900000003", "content": "退订", "send_time": "2024-03-06 12:00:00",
              "sign_name": "康宁大药房", "dest_code": "1234", "sequence_id": 1}]  # fmt: skip
    assert client.post(f"{url}?token={SECRET}", content=json.dumps(reply)).status_code == 200
    world.session.expire_all()
    row = world.session.scalar(select(MessageConsent).where(MessageConsent.member_id == member.id))
    assert row is not None and row.withdrawn_via == "reply" and row.withdrawn_at is not None
    assert client.post("/callbacks/messages/nobody", content=b"[]").status_code == 404


def test_an_invitation_by_message_goes_to_the_outbox_of_those_who_agreed(
    client: TestClient, world: World, clock: TravelClock, monkeypatch
):
    agreed, silent = make_member(world, name="孙老", mobile="13900000004"), make_member(world)
    consent.grant(world.session, world.actor(world.clerk_a), agreed.id, MessageChannel.sms,
                  now=clock.now)  # fmt: skip
    world.session.commit()
    queued: list[list[int]] = []
    monkeypatch.setattr(tasks, "queue_messages", lambda ids, **kw: queued.append(list(ids)))
    token = sign_in_page(client, "manager.a")
    url = schedule(client, world, token, protocols="").headers["location"]  # type: ignore[attr-defined]
    form = {"csrf_token": token, "member_id": [agreed.id, silent.id], "channel": "message"}
    r = client.post(f"{url}/invite", data=form)
    assert r.status_code == 303
    assert "已记录：邀请了 2 位会员（短信/微信邀请）。" in client.get(r.headers["location"]).text
    world.session.expire_all()
    (m,) = world.session.scalars(select(Message)).all()
    assert (m.member_id, m.reason, m.state) == (
        agreed.id, MessageReason.lecture_invitation, MessageState.queued
    )  # fmt: skip
    assert "诚邀您参加免费健康讲座" in m.text and "防跌倒健康讲座" in m.text
    assert queued == [[m.id]]  # queued once the invitations were committed
    page = client.get(f"/members/{agreed.id}").text
    assert "讲座邀请" in page and "待发送" in page


def test_a_preview_shows_the_members_own_message_and_sends_nothing(
    client: TestClient, world: World
):
    member = make_member(world, name="郑淑珍", mobile="13900000005")
    world.session.commit()
    sign_in_page(client, "clerk.a")
    page = client.get(f"/members/{member.id}").text
    assert "预览消息" in page and '<option value="birthday">生日祝福</option>' in page
    url = f"/members/{member.id}/messages/preview"
    r = client.get(url, params={"template": "birthday"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "<html" not in r.text
    assert "郑淑珍您好，祝您生日快乐" in r.text and "徐汇店为您准备了一份生日礼物" in r.text
    r = client.get(url, params={"template": "nonsense"}, headers={"HX-Request": "true"})
    assert r.status_code == 422 and "请从列表中选择" in r.text
    world.session.expire_all()
    assert world.session.scalars(select(Message)).all() == []
    client.cookies.clear()
    sign_in_page(client, "clerk.b")  # another store's clerk sees nothing of her
    assert client.get(url, params={"template": "birthday"}).status_code == 404
