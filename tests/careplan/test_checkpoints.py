"""Working a checkpoint: results, attempts, escalations, channel rules, stale saves, lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from careplan.errors import InvalidInput, StaleVersion
from careplan.members.health_records import HealthCheckIn
from careplan.models import CheckpointResult, ContactAttempt, Escalation, HealthCheck
from careplan.plans import checkpoints, lifecycle, outcomes
from careplan.plans.checkpoints import CheckpointFilter, ResultIn
from careplan.plans.outcomes import AttemptIn
from careplan.vocab import Adherence, Channel, CheckpointStatus, Role, StopReason
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member


def result(cp, **kw) -> ResultIn:
    data = {
        "version": cp.version,
        "channel": Channel.phone,
        "adherence": Adherence.as_directed,
        "contacted_on": START,
    } | kw
    return ResultIn(**data)


def save(world: World, cp, data: ResultIn, today: date = START):
    return checkpoints.record_result(
        world.session, world.actor(world.clerk_a), cp.id, data, today=today, now=NOW
    )


EXPECTED_ROUTE = {
    StopReason.effect_quality: (Role.pharmacist, 1),
    StopReason.service: (Role.store_manager, 2),
    StopReason.competitor: (Role.store_manager, 3),
    StopReason.side_effects: (Role.pharmacist, 0),
    StopReason.cost: (Role.pharmacist, 3),
    StopReason.doctor_change: (Role.pharmacist, 3),
    StopReason.other: (Role.store_manager, 3),
}


@pytest.mark.parametrize("reason", list(StopReason))
def test_a_stopped_answer_raises_the_protocols_escalation_for_its_reason(world: World, reason):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    save(world, cp, result(cp, adherence=Adherence.stopped, stop_reason=reason))
    [esc] = world.session.scalars(select(Escalation)).all()
    role, days = EXPECTED_ROUTE[reason]
    assert (esc.reason, esc.role, (esc.due_on - START).days) == (reason, role, days)
    handler = {Role.pharmacist: world.pharmacist_a, Role.store_manager: world.manager_a}[role]
    assert esc.assignee_id == handler.id and esc.store_id == world.store_a.id
    assert esc.action_zh and esc.action_en


def test_a_stopped_answer_needs_a_reason():
    with pytest.raises(ValueError, match="stop_reason"):
        ResultIn(version=1, channel=Channel.phone, adherence=Adherence.stopped)


def test_the_result_records_checklist_measurements_and_moves_the_step_to_done(world: World):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    save(
        world,
        cp,
        result(
            cp,
            checklist={"dose_explained": True, "upright_30min": False},
            measurements=[HealthCheckIn(kind="bone_density", values={"t_score": -2.7})],
        ),
    )
    assert lifecycle.status_of(cp, START) is CheckpointStatus.done
    row = world.session.scalar(select(CheckpointResult))
    assert row.checklist == {"dose_explained": True, "upright_30min": False}
    check = world.session.scalar(select(HealthCheck))
    assert (check.kind, check.values, check.unit, check.checkpoint_id) == (
        "bone_density",
        {"t_score": -2.7},
        "T",
        cp.id,
    )


def test_a_checklist_item_from_another_step_is_refused_and_nothing_is_written(world: World):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    with pytest.raises(InvalidInput) as exc:
        save(world, cp, result(cp, checklist={"home_safety": True}))
    assert exc.value.field == "checklist.home_safety"
    assert world.session.scalar(select(func.count()).select_from(CheckpointResult)) == 0


def test_an_implausible_reading_is_refused_with_its_range():
    with pytest.raises(
        ValueError, match=r"values\.systolic: 1300 mmHg is outside the plausible range 50-300"
    ):
        HealthCheckIn(kind="blood_pressure", values={"systolic": 1300, "diastolic": 80})


def test_a_channel_the_step_does_not_allow_is_refused(world: World):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    with pytest.raises(InvalidInput, match="channel message is not allowed") as exc:
        save(world, cp, result(cp, channel=Channel.message))
    assert exc.value.field == "channel"


def first_two_post_purchase_contacts(world: World, first_channel: Channel):
    """Day 3 by `first_channel`, day 7 by phone; returns the day-14 step."""
    s = steps(world, enroll(world, make_member(world).id, "post_purchase"))
    for key, on, channel in (
        ("day3_thanks", date(2024, 3, 7), first_channel),
        ("day7_visit", date(2024, 3, 11), Channel.phone),
    ):
        save(world, s[key], result(s[key], channel=channel, contacted_on=on), today=on)
    return s["day14_visit"]


DAY14 = date(2024, 3, 18)


def test_after_two_phone_contacts_day_14_must_be_a_home_visit(world: World):
    day14 = first_two_post_purchase_contacts(world, Channel.phone)
    with pytest.raises(InvalidInput, match="last 2 contacts were by phone"):
        save(world, day14, result(day14, contacted_on=DAY14), today=DAY14)
    save(world, day14, result(day14, channel=Channel.home_visit, contacted_on=DAY14), today=DAY14)
    assert day14.state.value == "done"


def test_a_home_visit_earlier_lifts_the_rule(world: World):
    day14 = first_two_post_purchase_contacts(world, Channel.home_visit)
    save(world, day14, result(day14, contacted_on=DAY14), today=DAY14)
    assert day14.state.value == "done"


def test_unreachable_keeps_the_step_open_with_the_call_back_time(world: World):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    later = datetime(2024, 3, 4, 8, 0, tzinfo=UTC)
    outcomes.record_attempt(
        world.session,
        world.actor(world.clerk_a),
        cp.id,
        AttemptIn(call_back_at=later, note="无人接听"),
        today=START,
        now=NOW.replace(day=4),
    )
    assert lifecycle.status_of(cp, START) is CheckpointStatus.due
    assert cp.call_back_at == later


def test_the_same_attempt_saved_twice_is_logged_once_and_another_moves_the_version(
    world: World,
):
    """A double click on "unreachable" logs one attempt; a second, different attempt is a
    new one, and a form opened before it is refused as stale (issue 21)."""
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    actor, opened = world.actor(world.clerk_a), cp.version

    def attempt(data: AttemptIn, seconds: int = 0):
        return outcomes.record_attempt(world.session, actor, cp.id, data, today=START,
                                          now=NOW + timedelta(seconds=seconds))  # fmt: skip

    first = attempt(AttemptIn(version=opened, note="无人接听"))
    assert attempt(AttemptIn(version=opened, note="无人接听"), seconds=1).id == first.id
    assert cp.version == opened + 1
    with pytest.raises(StaleVersion):  # another note, on the form as it was first opened
        attempt(AttemptIn(version=opened, note="关机"), seconds=2)
    attempt(AttemptIn(version=cp.version, note="无人接听"), seconds=60)  # a new try
    count = select(func.count()).select_from(ContactAttempt)
    assert world.session.scalar(count) == 2


def test_a_save_on_a_stale_version_is_refused_with_the_current_answer(world: World):
    cp = steps(world, enroll(world, make_member(world).id))["medication_guidance"]
    read_version = cp.version
    save(world, cp, result(cp, notes="第一位药师的记录"))
    with pytest.raises(StaleVersion) as exc:
        save(world, cp, result(cp, version=read_version, notes="第二位"))
    assert exc.value.current["result"]["notes"] == "第一位药师的记录"
    assert exc.value.current["status"] == "done"
    assert world.session.scalar(select(func.count()).select_from(CheckpointResult)) == 1


def test_lists_filter_due_and_overdue_by_date_oldest_first(world: World):
    a = enroll(world, make_member(world).id)  # week 1: 4-10 Mar
    b = enroll(world, make_member(world, name="李桂兰").id, start=date(2024, 2, 20))
    actor = world.actor(world.clerk_a)

    def keys(status: CheckpointStatus, today: date) -> list[tuple[int, str]]:
        rows = checkpoints.list_checkpoints(
            world.session, actor, CheckpointFilter(status=status), today=today
        )
        return [(cp.plan_id, cp.key) for cp, _ in rows]

    today = date(2024, 3, 6)
    assert keys(CheckpointStatus.overdue, today) == [(b.id, "medication_guidance")]
    assert keys(CheckpointStatus.due, today) == [
        (b.id, "take_on_time"),
        (a.id, "medication_guidance"),
        (b.id, "diet_guidance"),
    ]
    # The moment a date passes, the list changes: no batch job involved.
    assert (a.id, "medication_guidance") not in keys(CheckpointStatus.overdue, date(2024, 3, 12))
    assert (a.id, "medication_guidance") in keys(CheckpointStatus.overdue, date(2024, 3, 13))


def test_a_clerk_of_another_store_sees_none_of_these_steps(world: World):
    enroll(world, make_member(world).id)
    rows = checkpoints.list_checkpoints(
        world.session, world.actor(world.clerk_b), CheckpointFilter(), today=START
    )
    assert rows == []
    rows = checkpoints.list_checkpoints(
        world.session, world.actor(world.supervisor), CheckpointFilter(), today=START
    )
    assert len(rows) == 6


def test_a_steps_allowed_channels_are_its_own_else_the_protocols_defaults(world: World):
    s = steps(world, enroll(world, make_member(world).id))
    protocol = lifecycle.protocol_of(s["medication_guidance"].plan)
    own = lifecycle.step_of(protocol, "medication_guidance")
    assert lifecycle.allowed_channels(protocol, own) == own.channels
    assert Channel.message not in lifecycle.allowed_channels(protocol, own)
    bare = next(step for step in protocol.checkpoints if step.channels is None)
    assert lifecycle.allowed_channels(protocol, bare) == protocol.defaults.channels
