"""Messages to members: the day's build, consent, quiet hours, the weekly cap,
cancellation when the reason goes, and sending through the log provider."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.config import ROOT
from careplan.errors import InvalidInput
from careplan.lectures.lectures import LectureIn, create_lecture, lecture_choices, register
from careplan.members import erasure
from careplan.members.occasions import festivals_between
from careplan.models import Checkpoint, Member, Message
from careplan.outreach import build, consent, outbox, rules
from careplan.outreach.log import LogProvider, read_log
from careplan.outreach.provider import Outgoing, Sent, Transient
from careplan.outreach.templates import current_templates, read_templates, render
from careplan.plans import outcomes, protocols
from careplan.plans.protocol_schema import Nudge, Remind
from careplan.plans.protocols import LoadedProtocol, content_hash
from careplan.vocab import (
    AttemptOutcome,
    CheckpointState,
    LectureStatus,
    MessageChannel,
    MessageReason,
    MessageState,
    RemovalReason,
)
from tests.factories import World, enrolled_steps, make_member, make_world

ZONE = ZoneInfo("Asia/Shanghai")
WINDOW = rules.Window.parse("09:00-20:00")
TEMPLATES = current_templates(ROOT / "protocols")
START = date(2024, 3, 4)  # osteoporosis week 1 is due 10 March


def at(day: date, hour: int, minute: int = 0) -> datetime:
    """A moment in Shanghai, as the chain's clock reads it."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZONE).astimezone(UTC)


def ctx(day: date, hour: int = 7, cap: int = 2) -> build.Context:
    return build.Context(
        day=day, now=at(day, hour), zone=ZONE, window=WINDOW, cap=cap, templates=TEMPLATES
    )


@pytest.fixture
def world(session) -> World:
    w = make_world(session)
    _publish_with_messages(session)
    return w


def _publish_with_messages(session) -> None:
    """Osteoporosis one version on, its first step reminding 3 days before and nudging
    once overdue 2 days (as a chain would write it in the YAML)."""
    shipped = next(p for p in protocols_shipped() if p.definition.id == "osteoporosis")
    first, *rest = shipped.definition.checkpoints
    messages = {"remind": Remind(days_before=3), "nudge": Nudge(after_overdue_days=2)}
    first = first.model_copy(update=messages)
    definition = shipped.definition.model_copy(
        update={"version": shipped.definition.version + 1, "checkpoints": (first, *rest)}
    )
    protocols.publish(session, [LoadedProtocol(definition, "test", content_hash(definition), {})])


def protocols_shipped() -> list[LoadedProtocol]:
    from tests.factories import shipped_protocols

    return shipped_protocols()


def member_with_consent(
    world: World, *, name: str = "王秀英", mobile: str = "13800000001"
) -> Member:
    member = make_member(world, name=name, mobile=mobile)
    member.created_at = at(date(2024, 3, 6), 10)  # registered that day (welcome until the 8th)
    consent.grant(
        world.session, world.actor(world.clerk_a), member.id, MessageChannel.sms, now=at(START, 10)
    )
    return member


def messages(world: World, member: Member) -> list[Message]:
    return list(
        world.session.scalars(
            select(Message).where(Message.member_id == member.id).order_by(Message.id)
        )
    )


def the_build(world: World, day: date, **kw) -> build.Built:
    world.session.info["actor"] = world.actor(world.clerk_a)
    return build.build_day(world.session, ctx(day, **kw))


def test_a_step_reminder_goes_three_days_before_and_once(world):
    member = member_with_consent(world)
    steps = enrolled_steps(world, member, start=START)
    due = steps["medication_guidance"].due_on
    assert the_build(world, due - timedelta(days=4)).by_reason == {"welcome": 1}  # too early
    built = the_build(world, due - timedelta(days=3))
    assert built.by_reason == {"step_reminder": 1}
    (reminder,) = [m for m in messages(world, member) if m.reason is MessageReason.step_reminder]
    assert reminder.channel is MessageChannel.sms and reminder.state is MessageState.queued
    assert "王秀英您好" in reminder.text and f"{due.month}月{due.day}日" in reminder.text
    assert "徐汇店" in reminder.text
    # The same day again, and the next day: nothing more (idempotency, and the reason
    # already messaged).
    assert the_build(world, due - timedelta(days=3)).added == 0
    assert the_build(world, due - timedelta(days=2)).added == 0


def test_a_nudge_once_the_step_is_overdue_the_protocols_days(world):
    member = member_with_consent(world)
    cp = enrolled_steps(world, member, start=START)["medication_guidance"]
    world.session.query(Message).delete()
    assert the_build(world, cp.overdue_on).by_reason.get("step_nudge") is None  # 1 day overdue
    built = the_build(world, cp.overdue_on + timedelta(days=1))
    assert built.by_reason.get("step_nudge") == 1


def test_no_consent_no_message_and_consent_is_per_channel(world):
    member = make_member(world, mobile="13800000002")
    enrolled_steps(world, member, start=START)
    assert the_build(world, date(2024, 3, 8)).added == 0
    consent.grant(
        world.session,
        world.actor(world.clerk_a),
        member.id,
        MessageChannel.wechat,
        now=at(START, 10),
        address="oAbCdEfGhIjKlMnOpQrS12",
    )
    the_build(world, date(2024, 3, 8))
    assert {m.channel for m in messages(world, member)} == {MessageChannel.wechat}


def test_consent_needs_a_mobile_for_sms_and_an_openid_for_wechat(world):
    member = make_member(world, mobile=None)
    actor = world.actor(world.clerk_a)
    with pytest.raises(InvalidInput, match="mobile"):
        consent.grant(world.session, actor, member.id, MessageChannel.sms, now=at(START, 10))
    with pytest.raises(InvalidInput, match="openid"):
        consent.grant(
            world.session, actor, member.id, MessageChannel.wechat, now=at(START, 10), address="x y"
        )
    assert consent.consents_of(world.session, member.id) == {}


def test_a_message_built_at_night_waits_for_the_window(world):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)
    the_build(world, date(2024, 3, 8), hour=22)
    (m, *_) = messages(world, member)
    assert m.not_before == at(date(2024, 3, 9), 9)
    assert WINDOW.next_opening(at(START, 8, 59), ZONE) == at(START, 9)
    assert WINDOW.next_opening(at(START, 12), ZONE) == at(START, 12)
    assert WINDOW.next_opening(at(START, 20), ZONE) == at(START + timedelta(days=1), 9)


def test_the_weekly_cap_keeps_care_first_and_the_lecture_reminder_always_goes():
    going, held = rules.within_cap(
        [
            MessageReason.festival,
            MessageReason.birthday,
            MessageReason.step_reminder,
            MessageReason.lecture_reminder,
        ],
        already=0,
        cap=2,
    )
    assert going == [
        MessageReason.lecture_reminder,
        MessageReason.step_reminder,
        MessageReason.birthday,
    ]
    assert held == [MessageReason.festival]
    going, held = rules.within_cap([MessageReason.lecture_reminder, MessageReason.refill], 2, 2)
    assert going == [MessageReason.lecture_reminder] and held == [MessageReason.refill]


def test_the_cap_counts_the_last_seven_days(world):
    member = member_with_consent(world)
    member.created_at = at(date(2024, 3, 7), 10)  # welcome due until the 9th
    enrolled_steps(world, member, start=START)
    assert the_build(world, date(2024, 3, 8), cap=1).by_reason == {"step_reminder": 1}
    assert the_build(world, date(2024, 3, 9), cap=1).held_by_cap == 1  # the 8th counts
    # The welcome was held back by the cap and its days pass; seven days on, the
    # overdue step's nudge finds room again.
    assert the_build(world, date(2024, 3, 9), cap=1).added == 0
    assert the_build(world, date(2024, 3, 15), cap=1).by_reason == {"step_nudge": 1}


def test_every_template_renders_in_both_languages():
    sample = {name: f"<{name}>" for t in TEMPLATES.by_key.values() for name in t.variables}
    for template in TEMPLATES.by_key.values():
        for language in ("zh", "en"):
            text = render(template, language, sample)
            assert "{" not in text and all(f"<{v}>" in text for v in template.variables)
    assert {t.reason for t in TEMPLATES.by_key.values()} == set(MessageReason)


def test_a_bad_template_file_is_refused_with_its_lines(tmp_path: Path):
    good = (ROOT / "protocols" / "messages" / "templates.yaml").read_text("utf-8")
    path = tmp_path / "templates.yaml"
    for change, said in [
        (
            ("{due}", "{when}"),
            [
                "'when' is not one of the template's variables",
                "the variable 'due' is not in the text",
            ],
        ),
        (("template_code: SMS_480100003", "template_code: 42"), ["template_code"]),
        (
            ("  - key: welcome\n    reason: welcome", "  - key: welcome\n    reason: refill"),
            ["no template keyed by the reason 'welcome'"],
        ),
    ]:
        path.write_text(good.replace(*change, 1), "utf-8")
        with pytest.raises(protocols.ProtocolFileError) as refused:
            read_templates(path)
        issues = [str(i) for i in refused.value.issues]
        for words in said:
            assert any(words in i for i in issues), (words, issues)
        assert all(i.startswith(f"{path}:") for i in issues)


# --- sending --------------------------------------------------------------------------------


class Flaky:
    """A provider that fails transiently the first `fail` times."""

    name = "flaky"
    channel = MessageChannel.sms

    def __init__(self, fail: int) -> None:
        self.fail, self.sent = fail, []

    def send(self, message: Outgoing) -> Sent:
        if self.fail:
            self.fail -= 1
            raise Transient("isp.RAM_PERMISSION_DENY")
        self.sent.append(message)
        return Sent(provider_id=f"biz-{message.message_id}")

    def callback(self, headers, body):  # pragma: no cover
        raise NotImplementedError


def sending(provider, now: datetime) -> outbox.Sending:
    return outbox.Sending(
        providers={MessageChannel.sms: provider, MessageChannel.wechat: provider},
        clock=lambda: now,
        zone=ZONE,
        window=WINDOW,
        templates=TEMPLATES,
    )


def test_sent_through_the_log_provider_which_keeps_what_it_sent(world, session_factory, tmp_path):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)
    ids = the_build(world, date(2024, 3, 8)).ids
    world.session.commit()
    log = LogProvider(MessageChannel.sms, tmp_path)
    result = outbox.send(session_factory, ids, sending(log, at(date(2024, 3, 8), 9, 30)))
    assert result.sent == 2
    world.session.expire_all()
    assert {m.state for m in messages(world, member)} == {MessageState.sent}
    kept = read_log(log.path)
    assert {k["to"] for k in kept} == {"13800000001"}
    assert any("3月10日" in k["text"] for k in kept)
    assert log.sent_before(ids[0]) == Sent(provider_id=f"log-{ids[0]}")


def test_nothing_leaves_outside_the_window(world, session_factory, tmp_path):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)
    ids = the_build(world, date(2024, 3, 8)).ids
    world.session.commit()
    provider = Flaky(0)
    result = outbox.send(session_factory, ids, sending(provider, at(date(2024, 3, 8), 8, 59)))
    assert result.sent == 0 and provider.sent == [] and result.waiting == 2


def test_a_transient_failure_is_retried_with_backoff_then_sent(world, session_factory):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)
    world.session.query(Message).delete()
    ids = build.build_day(world.session, ctx(date(2024, 3, 8)), [build._step_messages]).ids
    world.session.commit()
    provider, now = Flaky(1), at(date(2024, 3, 8), 10)
    first = outbox.send(session_factory, ids, sending(provider, now))
    assert first.sent == 0 and [i for i, _ in first.retry] == ids
    ((_, when),) = first.retry
    assert when == now + outbox.BACKOFF
    assert outbox.send(session_factory, ids, sending(provider, now)).sent == 0  # not yet
    again = outbox.send(session_factory, ids, sending(provider, when))
    assert again.sent == 1
    world.session.expire_all()
    (m,) = messages(world, member)
    assert m.state is MessageState.sent and m.attempts == 2 and m.provider_id == f"biz-{m.id}"


def test_a_message_whose_step_was_done_is_cancelled_not_sent(world, session_factory):
    member = member_with_consent(world)
    cp = enrolled_steps(world, member, start=START)["medication_guidance"]
    ids = build.build_day(world.session, ctx(date(2024, 3, 8)), [build._step_messages]).ids
    world.session.get_one(Checkpoint, cp.id).state = CheckpointState.done
    world.session.commit()
    provider = Flaky(0)
    result = outbox.send(session_factory, ids, sending(provider, at(date(2024, 3, 8), 10)))
    assert result.cancelled == 1 and provider.sent == []
    world.session.expire_all()
    (m,) = messages(world, member)
    assert m.state is MessageState.cancelled and m.cancel_reason == "step_closed"


def test_an_opt_out_reply_stops_the_next_message(world, session_factory):
    member = member_with_consent(world, mobile="13800000009")
    enrolled_steps(world, member, start=START)
    ids = the_build(world, date(2024, 3, 8)).ids
    replied = at(START, 11)
    assert consent.withdraw_by_reply(world.session, "+8613800000009", "退订", now=replied) == 1
    assert consent.withdraw_by_reply(world.session, "+8613800000009", "好的", now=replied) == 0
    world.session.commit()
    provider = Flaky(0)
    outbox.send(session_factory, ids, sending(provider, at(date(2024, 3, 8), 10)))
    assert provider.sent == []
    world.session.expire_all()
    assert {m.cancel_reason for m in messages(world, member)} == {"consent_withdrawn"}
    c = consent.consents_of(world.session, member.id)[MessageChannel.sms]
    assert c.withdrawn_via == "reply" and not consent.is_given(c)
    assert the_build(world, date(2024, 3, 9)).added == 0
    assert consent.is_opt_out("TD") and consent.is_opt_out(" td。")
    assert not consent.is_opt_out("TD吗")


def test_an_erased_member_gets_nothing_more(world, session_factory):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)
    ids = the_build(world, date(2024, 3, 8)).ids
    world.session.get_one(Member, member.id).erased_at = at(START, 12)
    world.session.commit()
    provider = Flaky(0)
    outbox.send(session_factory, ids, sending(provider, at(date(2024, 3, 8), 10)))
    assert provider.sent == []
    assert the_build(world, date(2024, 3, 9)).added == 0


def test_the_lecture_reminder_goes_the_day_before_and_stops_if_cancelled(world, session_factory):
    member = member_with_consent(world)
    actor = world.actor(world.manager_a)
    starts = at(date(2024, 3, 20), 14)
    lecture = create_lecture(
        world.session,
        actor,
        LectureIn(
            title_zh="骨质疏松防治",
            title_en="Osteoporosis",
            topic=lecture_choices(world.session).topics[0].key,
            store_id=world.store_a.id,
            venue="二楼会议室",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1),
            capacity=20,
            register_by=starts - timedelta(days=1),
        ),
        now=at(START, 10),
    )
    register(world.session, actor, lecture.id, member.id, now=at(START, 11))
    world.session.query(Message).delete()
    built = build.build_day(world.session, ctx(date(2024, 3, 19)), [build._lectures])
    assert built.by_reason == {"lecture_reminder": 1}
    (m,) = messages(world, member)
    assert "骨质疏松防治" in m.text and "3月20日 14:00" in m.text and "二楼会议室" in m.text
    lecture.status = LectureStatus.cancelled
    world.session.commit()
    provider = Flaky(0)
    outbox.send(session_factory, built.ids, sending(provider, at(date(2024, 3, 19), 10)))
    assert provider.sent == []
    world.session.expire_all()
    assert messages(world, member)[0].cancel_reason == "lecture_cancelled"


def test_a_member_recorded_as_died_gets_nothing_more(world, session_factory):
    member = member_with_consent(world)
    steps = enrolled_steps(world, member, start=START)
    ids = the_build(world, date(2024, 3, 8)).ids
    assert len(ids) == 2  # the step's reminder and the welcome, waiting for the window
    cp = steps["medication_guidance"]
    outcomes.record_attempt(
        world.session, world.actor(world.clerk_a), cp.id,
        outcomes.AttemptIn(outcome=AttemptOutcome.removed, removal_reason=RemovalReason.died,
                           died_on=date(2024, 3, 8), version=cp.version),
        today=date(2024, 3, 8), now=at(date(2024, 3, 8), 11),
    )  # fmt: skip
    world.session.commit()
    world.session.expire_all()
    # Cancelled at once, so the store's list says so before the sender ever looks.
    assert {(m.state, m.cancel_reason) for m in messages(world, member)} == {
        (MessageState.cancelled, "member_gone")
    }
    provider = Flaky(0)
    outbox.send(session_factory, ids, sending(provider, at(date(2024, 3, 8), 12)))
    assert provider.sent == []
    # No greeting, reminder or refill later either.
    assert the_build(world, date(2024, 3, 9)).added == 0
    assert the_build(world, date(2024, 3, 16)).added == 0
    with pytest.raises(InvalidInput, match="can no longer be sent"):
        consent.grant(world.session, world.actor(world.clerk_a), member.id, MessageChannel.sms,
                      now=at(START, 12))  # fmt: skip


def test_an_erasure_cancels_what_waits_and_keeps_no_words_of_the_member(world):
    member = member_with_consent(world, name="吴桂兰")
    assert the_build(world, date(2024, 3, 7)).by_reason == {"welcome": 1}
    erasure.erase_member(world.session, world.actor(world.manager_a), member.id, "request",
                         now=at(date(2024, 3, 7), 12))  # fmt: skip
    world.session.expire_all()
    (m,) = messages(world, member)
    assert (m.state, m.cancel_reason, m.text, m.variables) == (
        MessageState.cancelled, "member_gone", "", {}
    )  # fmt: skip


def _bought(world: World, member: Member, on: date) -> None:
    box = PurchaseIn(product_code="ALN70", product_name="阿仑膦酸钠片", quantity=1,
                     drug_class="bisphosphonates", days_supply=28, purchased_on=on,
                     amount=Decimal("58.00"))  # fmt: skip
    record_purchase(world.session, world.actor(world.clerk_a), member.id, box, today=on,
                    now=at(on, 10))  # fmt: skip


def test_a_refill_reminder_three_days_before_the_supply_runs_out_and_none_once_bought(
    world, session_factory
):
    member = member_with_consent(world)
    enrolled_steps(world, member, start=START)  # osteoporosis tracks bisphosphonates
    _bought(world, member, date(2024, 3, 4))  # 28 days: the supply runs out on 1 April
    world.session.query(Message).delete()
    refills = [build._refills]
    assert build.build_day(world.session, ctx(date(2024, 3, 28)), refills).added == 0
    built = build.build_day(world.session, ctx(date(2024, 3, 29)), refills)
    (m,) = messages(world, member)
    assert (m.reason, m.ref) == (MessageReason.refill, "bisphosphonates:2024-04-01")
    assert "双膦酸盐类预计将于4月1日用完" in m.text
    assert build.build_day(world.session, ctx(date(2024, 3, 30)), refills).added == 0  # once
    _bought(world, member, date(2024, 3, 30))  # bought before the message left
    world.session.commit()
    provider = Flaky(0)
    outbox.send(session_factory, built.ids, sending(provider, at(date(2024, 3, 30), 11)))
    assert provider.sent == []
    world.session.expire_all()
    assert messages(world, member)[0].cancel_reason == "refilled"


def test_a_birthday_greeting_on_the_day_and_a_festival_greeting_to_everyone_who_agreed(world):
    member = member_with_consent(world, name="钱玉梅")
    member.birthday = date(1956, 3, 12)
    other = member_with_consent(world, name="孙国强", mobile="13800000002")
    world.session.query(Message).delete()
    greetings = [build._occasions]
    assert build.build_day(world.session, ctx(date(2024, 3, 11)), greetings).added == 0
    built = build.build_day(world.session, ctx(date(2024, 3, 12)), greetings)
    assert built.by_reason == {"birthday": 1}
    (m,) = messages(world, member)
    assert "钱玉梅您好，祝您生日快乐" in m.text and m.ref == "birthday:2024"
    festival = festivals_between(date(2024, 4, 1), date(2024, 12, 31))[0]
    built = build.build_day(world.session, ctx(festival.on), greetings)
    assert built.by_reason == {"festival": 2}
    said = messages(world, other)[0].text
    assert f"{festival.zh}将至" in said and "孙国强您好" in said
    assert build.build_day(world.session, ctx(festival.on), greetings).added == 0
