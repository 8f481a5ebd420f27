"""Contact plans by outlook (预计续购): the default from the purchase rhythm, each
outlook's calls and visits, a change of outlook, the worklist, who may set it."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.models import CarePlan, ChangeLog, Checkpoint, CheckpointResult, ContactAttempt
from careplan.plans import lifecycle, worklist
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.plans.outcomes import AttemptIn, record_attempt
from careplan.plans.schedule import add_months
from careplan.value import outlook
from careplan.vocab import Channel, CheckpointState, Outlook, PlanStatus
from tests.factories import NOW, TODAY, World, make_member
from tests.value.test_snapshot import buy


def every(days: int, n: int, last: date) -> list[date]:
    return [last - timedelta(days=days * k) for k in range(n)]


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        ([], None),
        ([TODAY - timedelta(days=3)], None),  # one purchase day: no rhythm yet
        ([TODAY, TODAY], None),  # one day twice is one day
        (every(30, 4, TODAY - timedelta(days=10)), Outlook.this_month),  # next in 20 days
        (every(30, 3, TODAY - timedelta(days=40)), Outlook.this_month),  # overdue: now
        (every(45, 3, TODAY), Outlook.two_months),
        (every(90, 2, TODAY), Outlook.three_months),
        (every(120, 3, TODAY - timedelta(days=10)), Outlook.beyond),  # next in 110 days
        # gaps 10, 10, 200: the median (10) is the rhythm, not the mean
        ([TODAY - timedelta(days=d) for d in (0, 10, 20, 220)], Outlook.this_month),
    ],
)
def test_the_default_outlook_follows_the_purchase_rhythm(days, expected):
    assert outlook.default_outlook(days, TODAY).outlook is expected


def test_the_default_says_when_the_next_purchase_is_expected(world: World):
    member = make_member(world)
    for day in every(45, 3, TODAY - timedelta(days=5)):
        buy(world, member.id, day, "50")
    shown = outlook.outlook_of(world.session, world.actor(world.clerk_a), member.id, TODAY)
    assert shown.outlook is None and shown.plan is None  # nobody set it: no contact plan
    assert shown.shown is Outlook.two_months
    assert shown.default.rhythm.gap_days == 45
    assert shown.default.rhythm.expected_on == TODAY + timedelta(days=40)


def set_(world: World, member_id: int, value: str, reason: str = "刚买了三个月的量", by=None):
    actor = world.actor(by or world.clerk_a)
    return outlook.set_outlook(world.session, actor, member_id, value, reason, today=TODAY, now=NOW)


def steps_of(world: World, plan: CarePlan) -> list[Checkpoint]:
    return lifecycle.checkpoints_of(world.session, plan)


def gaps(steps: list[Checkpoint], prefix: str) -> set[int]:
    days = [cp.due_on for cp in steps if cp.key.startswith(prefix + "_")]
    return {(b - a).days for a, b in itertools.pairwise(days)}


@pytest.mark.parametrize(
    ("value", "months", "call_gap", "visit_gaps"),
    [
        ("this_month", 1, 7, None),
        ("two_months", 2, 3, {7}),
        ("three_months", 3, 7, {14}),
        ("beyond", 3, 14, {30, 31}),  # a visit a month: calendar months
    ],
)
def test_each_outlook_sets_its_calls_and_visits(world: World, value, months, call_gap, visit_gaps):
    member = make_member(world, consent=False)  # a contact plan holds no health data
    plan = set_(world, member.id, value)
    steps = steps_of(world, plan)
    assert plan.protocol_id == outlook.PROTOCOLS[Outlook(value)]
    assert plan.start_date == TODAY and plan.end_date == add_months(TODAY, months)
    assert steps[0].key == "first_call" and steps[0].due_on == TODAY + timedelta(days=1)
    assert gaps(steps, "call") == {call_gap}
    if visit_gaps is None:
        assert not [cp for cp in steps if cp.key.startswith("visit_")]
    else:
        assert gaps(steps, "visit") <= visit_gaps
    assert steps[-1].key.startswith("review_") and steps[-1].due_on == plan.end_date
    assert [cp.due_on for cp in steps] == sorted(cp.due_on for cp in steps)
    protocol = lifecycle.protocol_of(plan)
    assert lifecycle.allowed_channels(protocol, lifecycle.step_of(protocol, "call_01_1")) == (
        Channel.phone,)  # fmt: skip


def test_two_months_calls_every_three_days_and_visits_weekly(world: World):
    plan = set_(world, make_member(world).id, "two_months")
    by_key = {cp.key: cp.due_on for cp in steps_of(world, plan)}
    assert [by_key[f"call_01_{n}"] for n in (1, 2, 3)] == [date(2024, 3, 5), date(2024, 3, 8),
                                                          date(2024, 3, 11)]  # fmt: skip
    assert [by_key[f"visit_01_{n}"] for n in (1, 2)] == [date(2024, 3, 9), date(2024, 3, 16)]
    title = lifecycle.step_title(lifecycle.protocol_of(plan), "call_01_3")
    assert (title.title.zh, title.month, title.number) == ("例行电话", 1, 3)


def test_a_new_outlook_replaces_the_pending_contacts_and_keeps_what_was_recorded(world: World):
    member = make_member(world)
    first = set_(world, member.id, "two_months")
    steps = {cp.key: cp for cp in steps_of(world, first)}
    done = steps["first_call"]
    later = TODAY + timedelta(days=1)
    result = record_result(
        world.session, world.actor(world.clerk_a), done.id,
        ResultIn(version=done.version, channel="phone", adherence="as_directed", notes="挺好"),
        today=later, now=NOW + timedelta(days=1),
    )  # fmt: skip
    tried = steps["call_01_1"]
    record_attempt(world.session, world.actor(world.clerk_a), tried.id, AttemptIn(),
                   today=later, now=NOW + timedelta(days=1))  # fmt: skip
    second = set_(world, member.id, "beyond", "说要等下个季度")
    world.session.flush()
    assert first.status is PlanStatus.stopped and second.status is PlanStatus.active
    old = steps_of(world, first)
    assert {cp.state for cp in old if cp.key != "first_call"} == {CheckpointState.cancelled}
    assert done.state is CheckpointState.done
    kept = world.session.scalar(select(CheckpointResult).where(CheckpointResult.id == result.id))
    assert kept is not None and kept.notes == "挺好" and kept.checkpoint_id == done.id
    assert world.session.scalar(
        select(ContactAttempt).where(ContactAttempt.checkpoint_id == tried.id)
    )
    assert [p.id for p in outlook.live_contact_plans(world.session, member.id)] == [second.id]


def test_the_worklist_shows_the_contact_plan_and_not_the_one_replaced(world: World):
    member = make_member(world)
    first = set_(world, member.id, "this_month")
    second = set_(world, member.id, "this_month", "复核：仍是本月")  # the same again: from today
    q = worklist.WorklistQuery(staff_id=world.clerk_a.id, tab="due")
    items = worklist.build(world.session, world.actor(world.clerk_a), q,
                           today=TODAY + timedelta(days=1)).items  # fmt: skip
    plans = {item.checkpoint.plan_id for item in items}
    assert second.id in plans and first.id not in plans
    assert [i.step_title.title.zh for i in items if i.checkpoint.plan_id == second.id] == [
        "首次例行电话：告知联系安排"]  # fmt: skip


def test_who_may_set_the_outlook(world: World):
    member = make_member(world)
    with pytest.raises(Forbidden):
        set_(world, member.id, "beyond", by=world.clerk_a2)  # not the owner
    with pytest.raises(Forbidden):
        set_(world, member.id, "beyond", by=world.pharmacist_a)
    with pytest.raises(NotFound):
        set_(world, member.id, "beyond", by=world.clerk_b)  # another store
    assert set_(world, member.id, "beyond", by=world.manager_a).status is PlanStatus.active
    assert set_(world, member.id, "this_month", by=world.supervisor).status is PlanStatus.active


@pytest.mark.parametrize(
    ("value", "reason", "field"),
    [("beyond", "  ", "outlook_reason"), ("soon", "会员说的", "outlook"), ("", "x", "outlook"),
     ("beyond", "长" * 256, "outlook_reason")],
)  # fmt: skip
def test_an_outlook_needs_a_known_value_and_the_words_why(world: World, value, reason, field):
    member = make_member(world)
    with pytest.raises(InvalidInput) as exc:
        set_(world, member.id, value, reason)
    assert exc.value.field == field
    assert member.outlook is None and not outlook.live_contact_plans(world.session, member.id)


def test_the_change_log_says_who_set_which_outlook_and_why(world: World):
    member = make_member(world)
    set_(world, member.id, "three_months", "刚买了三个月的量")
    world.session.flush()
    entries = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "member", ChangeLog.entity_id == member.id,
                                ChangeLog.action == "update")
    ).all()  # fmt: skip
    change = next(e for e in entries if "outlook" in e.changes)
    assert change.actor_id == world.clerk_a.id
    assert change.changes["outlook"] == [None, "three_months"]
    assert change.changes["outlook_reason"] == [None, "刚买了三个月的量"]
    plans = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "plan", ChangeLog.action == "create")
    ).all()
    assert plans and plans[-1].actor_id == world.clerk_a.id


def test_health_plans_still_need_consent(world: World):
    member = make_member(world, consent=False)
    with pytest.raises(InvalidInput) as exc:
        lifecycle.enroll(world.session, world.actor(world.clerk_a), member_id=member.id,
                         protocol_id="osteoporosis", start=TODAY, today=TODAY, now=NOW)  # fmt: skip
    assert exc.value.field == "health_consent"
    assert set_(world, member.id, "beyond").status is PlanStatus.active
