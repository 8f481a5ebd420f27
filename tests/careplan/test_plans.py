"""Plans: enrolment, pause/resume, re-anchoring, expiry, versions and migration."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from careplan.errors import Conflict, InvalidInput
from careplan.models import CarePlan, Checkpoint, CheckpointResult
from careplan.plans import checkpoints, lifecycle, protocols
from careplan.plans.checkpoints import ResultIn
from careplan.plans.protocols import parse_protocol
from careplan.vocab import Adherence, Channel, CheckpointStatus, PlanStatus
from tests.factories import NOW, ROOT, World, make_member

START = date(2024, 3, 4)


def enroll(
    world: World, member_id: int, protocol_id: str = "osteoporosis", start: date = START
) -> CarePlan:
    return lifecycle.enroll(
        world.session,
        world.actor(world.clerk_a),
        member_id=member_id,
        protocol_id=protocol_id,
        start=start,
        today=START,
        now=NOW,
    )


def steps(world: World, plan: CarePlan) -> dict[str, Checkpoint]:
    return {cp.key: cp for cp in lifecycle.checkpoints_of(world.session, plan)}


def done(world: World, cp: Checkpoint, on: date, channel: Channel = Channel.phone) -> None:
    checkpoints.record_result(
        world.session,
        world.actor(world.clerk_a),
        cp.id,
        ResultIn(
            version=cp.version, channel=channel, adherence=Adherence.as_directed, contacted_on=on
        ),
        today=on,
        now=NOW,
    )


def test_enrolment_makes_the_previewed_checkpoints_assigned_to_the_owner(world: World):
    member = make_member(world)
    _, preview = lifecycle.preview(world.session, "osteoporosis", None, START, today=START)
    plan = enroll(world, member.id)
    made = lifecycle.checkpoints_of(world.session, plan)
    assert [(c.key, c.open_on, c.due_on) for c in made] == [
        (s.key, s.dates.open_on, s.dates.due_on) for s in preview
    ]
    assert {c.assignee_id for c in made} == {world.clerk_a.id}
    assert plan.protocol_version.version == SHIPPED  # the shipped osteoporosis protocol


def test_a_member_cannot_have_two_active_plans_of_the_same_protocol(world: World):
    member = make_member(world)
    enroll(world, member.id)
    with pytest.raises(Conflict, match="already has an active plan of this protocol"):
        enroll(world, member.id)
    enroll(world, member.id, "hypertension")  # another protocol is fine
    count = world.session.scalar(select(func.count()).select_from(CarePlan))
    assert count == 2


def test_after_a_plan_stops_the_member_can_be_enrolled_again(world: World):
    member = make_member(world)
    plan = enroll(world, member.id)
    lifecycle.stop(world.session, world.actor(world.clerk_a), plan.id, "搬家", today=START)
    assert {c.state.value for c in lifecycle.checkpoints_of(world.session, plan)} == {"cancelled"}
    assert enroll(world, member.id).id != plan.id


def test_enrolment_needs_health_data_consent(world: World):
    member = make_member(world, consent=False)
    with pytest.raises(InvalidInput) as exc:
        enroll(world, member.id)
    assert exc.value.field == "health_consent"
    assert world.session.scalar(select(func.count()).select_from(CarePlan)) == 0


def test_pause_holds_the_steps_and_resume_shifts_them_by_the_pause(world: World):
    plan = enroll(world, make_member(world).id)
    before = steps(world, plan)["diet_guidance"].due_on
    lifecycle.pause(world.session, world.actor(world.clerk_a), plan.id, today=date(2024, 3, 6))
    assert (
        lifecycle.status_of(steps(world, plan)["diet_guidance"], date(2024, 4, 30))
        is CheckpointStatus.paused
    )  # a paused plan never shows as overdue
    lifecycle.resume(world.session, world.actor(world.clerk_a), plan.id, today=date(2024, 3, 16))
    after = steps(world, plan)
    assert after["diet_guidance"].due_on == before + timedelta(days=10)
    assert (
        lifecycle.status_of(after["diet_guidance"], date(2024, 3, 20)) is CheckpointStatus.upcoming
    )
    assert plan.status is PlanStatus.active and plan.shift_days == 10


def test_a_late_first_contact_re_anchors_the_later_steps(world: World):
    plan = enroll(world, make_member(world).id)
    s = steps(world, plan)
    week2_due = s["take_on_time"].due_on
    # Week 1 is due 10 Mar, overdue from 13 Mar; done on 15 Mar: 5 days after due.
    done(world, s["medication_guidance"], date(2024, 3, 15))
    s = steps(world, plan)
    assert s["medication_guidance"].late is True
    assert s["take_on_time"].due_on == week2_due + timedelta(days=5)
    assert s["medication_review"].due_on == date(2024, 4, 28) + timedelta(days=5)


def test_a_late_step_without_re_anchoring_leaves_the_calendar_alone(world: World):
    plan = enroll(world, make_member(world).id)
    s = steps(world, plan)
    done(world, s["medication_guidance"], date(2024, 3, 8))
    week3_due = s["diet_guidance"].due_on
    done(world, s["take_on_time"], date(2024, 3, 25))  # week 2 due 17 Mar: late
    s = steps(world, plan)
    assert s["take_on_time"].late is True
    assert s["diet_guidance"].due_on == week3_due


def test_done_within_the_grace_days_is_not_late(world: World):
    plan = enroll(world, make_member(world).id)
    cp = steps(world, plan)["medication_guidance"]
    done(world, cp, date(2024, 3, 12))  # due 10 Mar, grace 2
    assert cp.late is False


def test_an_expired_step_is_missed_and_a_plan_of_resolved_steps_completes(world: World):
    plan = enroll(world, make_member(world).id)
    s = steps(world, plan)
    last = s.pop("medication_review")
    for cp in s.values():
        done(world, cp, cp.due_on)
    assert plan.status is PlanStatus.active
    assert lifecycle.status_of(last, last.due_on + timedelta(days=3)) is CheckpointStatus.overdue
    missed_day = last.due_on + timedelta(days=15)  # expiry 14 days after due
    assert lifecycle.status_of(last, missed_day) is CheckpointStatus.missed
    assert lifecycle.effective_status(world.session, plan, missed_day) is PlanStatus.completed


def test_a_result_recorded_after_expiry_is_accepted_and_marked_late(world: World):
    plan = enroll(world, make_member(world).id)
    cp = steps(world, plan)["medication_guidance"]
    done(world, cp, date(2024, 4, 30))
    assert lifecycle.status_of(cp, date(2024, 5, 1)) is CheckpointStatus.done_late


def test_the_last_step_done_completes_the_plan(world: World):
    plan = enroll(world, make_member(world).id, "follow_up_333")
    for cp in lifecycle.checkpoints_of(world.session, plan):
        done(world, cp, cp.due_on)
    assert plan.status is PlanStatus.completed and plan.completed_on == date(2024, 6, 4)


SHIPPED_TEXT = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
SHIPPED = parse_protocol(SHIPPED_TEXT).definition.version  # the shipped osteoporosis
NEXT = SHIPPED + 1
V2 = SHIPPED_TEXT.replace(f"version: {SHIPPED}", f"version: {NEXT}").replace(
    "  - key: medication_review\n    week: 8\n",
    "  - key: bone_density_check\n    week: 7\n"
    "    title: {zh: 骨密度复查, en: Bone density re-check}\n"
    "    measurements: [bone_density]\n"
    "    guidance: {zh: 请来店复查骨密度, en: Come in for a bone density check}\n"
    "  - key: medication_review\n    week: 9\n",
)


def publish_v2(world: World) -> None:
    protocols.publish(world.session, [parse_protocol(V2, "osteoporosis.yaml")])


def test_publishing_a_new_version_changes_only_new_plans(world: World):
    old = enroll(world, make_member(world).id)
    publish_v2(world)
    new = enroll(world, make_member(world, name="李桂兰").id)
    assert old.protocol_version.version == SHIPPED and len(steps(world, old)) == 6
    assert new.protocol_version.version == NEXT and "bone_density_check" in steps(world, new)


def test_migration_preview_shows_what_changes_and_migrate_keeps_results(world: World):
    plan = enroll(world, make_member(world).id)
    s = steps(world, plan)
    done(world, s["medication_guidance"], date(2024, 3, 8))
    publish_v2(world)
    actor = world.actor(world.manager_a)
    [preview] = lifecycle.preview_migration(world.session, actor, [plan.id], NEXT)
    actions = {c.key: c.action for c in preview.changes}
    assert actions["medication_guidance"] == "kept"
    assert actions["take_on_time"] == "unchanged"
    assert actions["bone_density_check"] == "added"
    assert actions["medication_review"] == "rescheduled"
    assert world.session.scalar(select(func.count()).select_from(Checkpoint)) == 6  # nothing yet

    [applied] = lifecycle.migrate(world.session, actor, [plan.id], NEXT)
    assert applied == preview and (applied.from_version, applied.to_version) == (SHIPPED, NEXT)
    after = steps(world, plan)
    assert plan.protocol_version.version == NEXT
    assert after["bone_density_check"].due_on == date(2024, 4, 21)
    assert after["medication_review"].due_on == date(2024, 5, 5)  # week 9
    assert after["medication_guidance"].state.value == "done"
    kept = world.session.scalar(
        select(CheckpointResult).where(
            CheckpointResult.checkpoint_id == after["medication_guidance"].id
        )
    )
    assert kept is not None and kept.contacted_on == date(2024, 3, 8)


def test_migration_only_moves_forward(world: World):
    plan = enroll(world, make_member(world).id)
    with pytest.raises(InvalidInput) as exc:
        lifecycle.migrate(
            world.session, world.actor(world.manager_a), [plan.id], SHIPPED
        )  # its own
    assert exc.value.field == "to_version"


def test_a_start_date_years_away_is_refused(world: World):
    member = make_member(world)
    with pytest.raises(InvalidInput) as exc:
        enroll(world, member.id, start=date(2031, 1, 1))
    assert exc.value.field == "start_date"
