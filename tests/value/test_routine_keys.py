"""Routine contact keys (`<key_prefix>_<MM>_<n>`, e.g. routine_01_3, call_01_3) read the
same everywhere: the step's name on the worklist and the reminder its series asks for,
also for the contact plans by outlook, whose routine tail has several series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from careplan.config import ROOT
from careplan.models import Message
from careplan.outreach import build, consent, rules
from careplan.outreach.templates import current_templates
from careplan.plans import lifecycle, protocols
from careplan.plans.protocol_schema import Remind, routine_key_parts
from careplan.value import outlook
from careplan.vocab import MessageChannel, MessageReason
from tests.factories import NOW, TODAY, World, make_member, shipped_protocols
from web.templating import step_name

ZONE = ZoneInfo("Asia/Shanghai")


def _shipped(protocol_id: str):
    return next(p.definition for p in shipped_protocols() if p.definition.id == protocol_id)


@pytest.mark.parametrize(
    ("protocol_id", "key", "zh", "en"),
    [
        ("post_purchase", "routine_01_3", "第1个月第3次", "month 1, contact 3"),
        ("contact_two_months", "call_01_3", "例行电话 · 第1个月第3次", "month 1, contact 3"),
        ("contact_two_months", "visit_02_1", "例行上门 · 第2个月第1次", "month 2, contact 1"),
        ("contact_beyond", "call_03_2", "例行电话 · 第3个月第2次", "month 3, contact 2"),
    ],
)
def test_a_routine_contact_is_named_with_its_series_month_and_number(protocol_id, key, zh, en):
    definition = _shipped(protocol_id)
    title = lifecycle.step_title(definition, key)
    assert (title.month, title.number) == routine_key_parts(key)[1:]
    assert lifecycle.step_of(definition, key) is definition.tail_of(key)
    assert zh in step_name(title, "zh")
    assert en in step_name(title, "en")


def test_a_fixed_step_is_named_without_month_and_number():
    definition = _shipped("contact_two_months")
    title = lifecycle.step_title(definition, "first_call")
    assert title.month is None and step_name(title, "zh") == "首次例行电话：告知联系安排"
    assert routine_key_parts("first_call") is None
    assert routine_key_parts("call_xx_1") is None  # not a month: not a routine key


def _publish_calls_reminding(world: World) -> None:
    """contact_two_months one version on, its phone calls reminded a day before."""
    shipped = next(p for p in shipped_protocols() if p.definition.id == "contact_two_months")
    d = shipped.definition
    tails = tuple(
        t.model_copy(update={"remind": Remind(days_before=1)}) if t.key_prefix == "call" else t
        for t in d.tails
    )
    definition = d.model_copy(update={"version": d.version + 1, "routine": tails})
    loaded = protocols.LoadedProtocol(definition, "test", protocols.content_hash(definition), {})
    protocols.publish(world.session, [loaded])


def test_a_routine_call_of_a_contact_plan_gets_the_reminder_its_series_asks_for(world: World):
    _publish_calls_reminding(world)
    member = make_member(world, mobile="13800000011")
    actor = world.actor(world.clerk_a)
    consent.grant(world.session, actor, member.id, MessageChannel.sms, now=NOW)
    plan = outlook.set_outlook(world.session, actor, member.id, "two_months", "刚买了两个月的量",
                               today=TODAY, now=NOW)  # fmt: skip
    steps = {cp.key: cp for cp in lifecycle.checkpoints_of(world.session, plan)}
    call = steps["call_01_3"]
    day = call.due_on - timedelta(days=1)
    ctx = build.Context(
        day=day,
        now=datetime(day.year, day.month, day.day, 1, tzinfo=UTC),  # 09:00 in Shanghai
        zone=ZONE,
        window=rules.Window.parse("09:00-20:00"),
        cap=7,
        templates=current_templates(ROOT / "protocols"),
    )
    world.session.info["actor"] = actor
    build.build_day(world.session, ctx)
    sent = world.session.scalars(
        select(Message).where(
            Message.member_id == member.id, Message.reason == MessageReason.step_reminder
        )
    ).all()
    assert [m.ref for m in sent] == [f"step:{call.id}"]
    assert "例行电话" in sent[0].text
    # Home visits ask for no reminder: none for the visit due on another day.
    assert not any(m.ref == f"step:{steps['visit_01_1'].id}" for m in sent)
