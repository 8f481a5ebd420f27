"""How a call ends (issue 24): agreed to come on a day, remind later, removed from
follow-up with a reason; each one's effect on the lists, the plans and the member."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from careplan.audit import audit
from careplan.errors import Conflict, InvalidInput
from careplan.members import archive
from careplan.models import ChangeLog, Checkpoint, ContactAttempt
from careplan.plans import checkpoints, lifecycle, worklist
from careplan.plans.checkpoints import CheckpointFilter
from careplan.plans.outcomes import AttemptIn, record_attempt
from careplan.vocab import (
    AttemptOutcome,
    CheckpointState,
    CheckpointStatus,
    PlanStatus,
    RemovalReason,
)
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member

# medication_guidance (osteoporosis, week 1): due START+6, overdue from START+9 (grace
# 2), missed from START+21 (expiry 14).
TODAY = START + timedelta(days=10)
LATER = NOW + timedelta(days=10)


def overdue_step(world: World, **member: object) -> Checkpoint:
    cp = steps(world, enroll(world, make_member(world, **member).id))["medication_guidance"]  # type: ignore[arg-type]
    assert lifecycle.status_of(cp, TODAY) is CheckpointStatus.overdue
    return cp


def call(world: World, cp: Checkpoint, today: date = TODAY, **values: object) -> ContactAttempt:
    data = AttemptIn(version=cp.version, **values)  # type: ignore[arg-type]
    return record_attempt(
        world.session, world.actor(world.clerk_a), cp.id, data, today=today, now=LATER
    )


def on_list(world: World, cp: Checkpoint, tab: str, today: date) -> bool:
    q = worklist.WorklistQuery(staff_id=world.clerk_a.id, tab=tab)
    wl = worklist.build(world.session, world.actor(world.clerk_a), q, today=today)
    return cp.id in {i.checkpoint.id for i in wl.items}


def test_an_agreed_visit_holds_the_step_off_overdue_until_the_day_plus_grace(world: World):
    cp = overdue_step(world)
    friday = TODAY + timedelta(days=3)
    attempt = call(world, cp, outcome=AttemptOutcome.agreed_to_visit, visit_on=friday)
    assert attempt.visit_on == friday and cp.visit_on == friday
    assert cp.held_until == friday + timedelta(days=3)  # grace 2, then overdue
    for day in (TODAY, friday, friday + timedelta(days=2)):
        assert lifecycle.status_of(cp, day) is CheckpointStatus.visit_agreed
        assert not on_list(world, cp, "overdue", day)
    again = friday + timedelta(days=3)
    assert lifecycle.status_of(cp, again) is CheckpointStatus.overdue
    assert on_list(world, cp, "overdue", again)
    f = CheckpointFilter(status=CheckpointStatus.visit_agreed, staff_id=world.clerk_a.id)
    listed = checkpoints.list_checkpoints(world.session, world.actor(world.clerk_a), f, today=TODAY)
    assert [c.id for c, _ in listed] == [cp.id]


def test_remind_later_takes_the_step_off_the_worklist_until_today_plus_n(world: World):
    cp = overdue_step(world)
    attempt = call(world, cp, outcome=AttemptOutcome.remind_later, remind_days=3)
    assert attempt.remind_on == cp.snoozed_until == TODAY + timedelta(days=3)
    for n in (0, 1, 2):
        assert not on_list(world, cp, "overdue", TODAY + timedelta(days=n))
    assert on_list(world, cp, "overdue", TODAY + timedelta(days=3))
    q = worklist.WorklistQuery(staff_id=world.clerk_a.id, tab="overdue")
    counts = worklist.counts(world.session, world.actor(world.clerk_a), q, today=TODAY)
    assert counts["overdue"] == 0
    # Still overdue as a status: the audit and the API's list see it.
    assert lifecycle.status_of(cp, TODAY) is CheckpointStatus.overdue


@pytest.mark.parametrize(
    "reason",
    [r for r in RemovalReason if r is not RemovalReason.died],
)
def test_a_removal_stops_the_plan_with_its_reason(world: World, reason: RemovalReason):
    cp = overdue_step(world, mobile="13800138000")
    call(world, cp, outcome=AttemptOutcome.removed, removal_reason=reason, note="家属告知")
    plan = cp.plan
    assert (plan.status, plan.removed_for, plan.stop_reason) == (
        PlanStatus.stopped, reason, "家属告知",
    )  # fmt: skip
    assert plan.stopped_on == TODAY
    assert all(
        s.state is not CheckpointState.pending
        for s in lifecycle.checkpoints_of(world.session, plan)
    )
    member = plan.member
    assert (member.phone_flagged_at is not None) is (reason is RemovalReason.wrong_number)
    assert member.died_on is None


def test_a_wrong_number_is_flagged_until_a_mobile_is_saved_or_confirmed(world: World):
    cp = overdue_step(world, mobile="13800138000")
    call(world, cp, outcome=AttemptOutcome.removed, removal_reason=RemovalReason.wrong_number)
    member = cp.plan.member
    assert member.phone_flagged_at == LATER and member.phone_flagged_by_id == world.clerk_a.id
    actor = world.actor(world.clerk_a)
    archive.update_member(world.session, actor, member.id, archive.MemberFields(name="王秀英"))
    assert member.phone_flagged_at is not None  # another field saved: still flagged
    archive.update_member(
        world.session, actor, member.id, archive.MemberFields(mobile="13900139000")
    )
    assert member.phone_flagged_at is None and member.phone_flagged_by_id is None
    other = overdue_step(world, name="李明", mobile="13700137000")
    call(world, other, outcome=AttemptOutcome.removed, removal_reason=RemovalReason.wrong_number)
    archive.mark_verified(world.session, actor, other.plan.member_id, today=TODAY)
    assert other.plan.member.phone_flagged_at is None


def test_a_death_stops_every_plan_is_on_the_archive_and_refuses_enrolment(world: World):
    cp = overdue_step(world)
    member = cp.plan.member
    other = enroll(world, member.id, "hypertension")
    died = TODAY - timedelta(days=2)
    call(world, cp, outcome=AttemptOutcome.removed, removal_reason=RemovalReason.died, died_on=died)
    assert (member.died_on, member.died_recorded_at, member.died_recorded_by_id) == (
        died, LATER, world.clerk_a.id,
    )  # fmt: skip
    for plan in (cp.plan, other):
        assert (plan.status, plan.removed_for) == (PlanStatus.stopped, RemovalReason.died)
    with pytest.raises(Conflict) as refused:
        enroll(world, member.id, "diabetes_t2")
    assert refused.value.field == "member_id"
    assert refused.value.params == {"day": died}


def test_a_death_without_a_day_is_today(world: World):
    cp = overdue_step(world)
    call(world, cp, outcome=AttemptOutcome.removed, removal_reason=RemovalReason.died)
    assert cp.plan.member.died_on == TODAY


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"outcome": "agreed_to_visit", "visit_on": TODAY - timedelta(days=1)}, "visit_on"),
        ({"outcome": "agreed_to_visit", "visit_on": TODAY + timedelta(days=91)}, "visit_on"),
        ({"outcome": "agreed_to_visit", "visit_on": START + timedelta(days=21)}, "visit_on"),
        ({"outcome": "remind_later", "remind_days": 0}, "remind_days"),
        ({"outcome": "remind_later", "remind_days": 31}, "remind_days"),
        (
            {"outcome": "removed", "removal_reason": "died", "died_on": TODAY + timedelta(1)},
            "died_on",
        ),
    ],
)
def test_bad_days_are_refused_naming_the_field_and_nothing_is_written(
    world: World, values: dict[str, object], field: str
):
    cp = overdue_step(world)
    world.session.commit()
    before = world.session.scalar(select(func.count(ChangeLog.id)))
    with pytest.raises(InvalidInput) as refused:
        call(world, cp, **values)
    assert refused.value.field == field
    world.session.rollback()
    assert world.session.scalar(select(func.count(ContactAttempt.id))) == 0
    assert world.session.scalar(select(func.count(ChangeLog.id))) == before
    cp = world.session.get_one(Checkpoint, cp.id)
    assert (cp.held_until, cp.snoozed_until, cp.plan.status) == (None, None, PlanStatus.active)


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"outcome": "agreed_to_visit"}, "visit_on"),
        ({"outcome": "remind_later"}, "remind_days"),
        ({"outcome": "removed"}, "removal_reason"),
        ({"outcome": "refused"}, "outcome"),
        ({"outcome": "wrong_number"}, "outcome"),
        ({"outcome": "unreachable", "visit_on": TODAY}, "visit_on"),
        ({"outcome": "removed", "removal_reason": "moved_away", "died_on": TODAY}, "died_on"),
    ],
)
def test_missing_or_stray_fields_are_refused_by_name(values: dict[str, object], field: str):
    with pytest.raises(ValidationError) as refused:
        AttemptIn(**values)  # type: ignore[arg-type]
    assert field in str(refused.value)


def test_every_outcome_is_in_the_change_log_with_who(world: World):
    cp = overdue_step(world)
    call(world, cp, outcome=AttemptOutcome.removed, removal_reason=RemovalReason.died)
    world.session.flush()
    rows = world.session.scalars(select(ChangeLog).order_by(ChangeLog.id)).all()
    made = {(r.entity, r.action) for r in rows if r.actor_id == world.clerk_a.id}
    assert {("contact_attempt", "create"), ("plan", "update"), ("member", "update")} <= made
    member_change = next(
        r for r in rows if (r.entity, r.action) == ("member", "update") and "died_on" in r.changes
    )
    assert member_change.changes["died_on"] == [None, TODAY.isoformat()]
    plan_change = next(
        r for r in rows if (r.entity, r.action) == ("plan", "update") and "removed_for" in r.changes
    )
    assert plan_change.changes["removed_for"] == [None, "died"]


def test_old_refused_and_wrong_number_rows_still_read(world: World):
    cp = overdue_step(world)
    for outcome in (AttemptOutcome.refused, AttemptOutcome.wrong_number):
        world.session.add(
            ContactAttempt(
                checkpoint_id=cp.id,
                staff_id=world.clerk_a.id,
                attempted_at=NOW,
                channel="phone",
                outcome=outcome,
            )
        )
    world.session.flush()
    world.session.expire_all()
    read = world.session.scalars(select(ContactAttempt.outcome).order_by(ContactAttempt.id))
    assert list(read) == [AttemptOutcome.refused, AttemptOutcome.wrong_number]


def test_the_audit_counts_an_agreed_visit_as_overdue_only_once_the_hold_ends(world: World):
    """The supervisors' audit and the worklist agree on a step held by an agreed visit."""
    cp = overdue_step(world)
    manager = world.actor(world.manager_a)

    def overdue_in_audit(day: date) -> int:
        scope = audit.resolve_scope(world.session, manager, staff_id=world.clerk_a.id)
        report = audit.report(world.session, manager, audit.make_query(scope, today=day))
        return report.total.overdue_total

    def overdue_by_the_rule(day: date) -> int:
        plan_steps = world.session.scalars(
            select(Checkpoint).where(Checkpoint.plan_id == cp.plan_id)
        )
        return sum(lifecycle.status_of(c, day) is CheckpointStatus.overdue for c in plan_steps)

    assert overdue_in_audit(TODAY) == 1
    friday = TODAY + timedelta(days=3)
    call(world, cp, outcome=AttemptOutcome.agreed_to_visit, visit_on=friday)
    assert overdue_in_audit(TODAY) == 0
    for day in (friday + timedelta(days=2), friday + timedelta(days=3)):  # held; then not
        assert overdue_in_audit(day) == overdue_by_the_rule(day)
    assert lifecycle.status_of(cp, friday + timedelta(days=3)) is CheckpointStatus.overdue
