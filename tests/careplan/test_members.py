"""The archive, ownership changes with history, and the change log's old/new values."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from careplan.access import Actor
from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.members import archive
from careplan.members.archive import MemberCreate, MemberFields
from careplan.models import Member
from careplan.plans import lifecycle
from careplan.trust import change_log
from careplan.trust.change_log import UnattributedChange
from careplan.vocab import OwnershipReason
from tests.careplan.test_plans import done, enroll, steps
from tests.factories import NOW, World, make_member


def test_a_mobile_number_that_is_not_mainland_is_refused():
    with pytest.raises(ValueError, match="not a mainland mobile number"):
        MemberCreate(card_number="C1234", name="王", mobile="12345")
    assert (
        MemberCreate(card_number="C1234", name="王", mobile="+86 138-0013-8000").mobile
        == "13800138000"
    )


def test_health_data_without_consent_is_refused_and_nothing_written(world: World):
    with pytest.raises(InvalidInput) as exc:
        archive.create_member(
            world.session,
            world.actor(world.clerk_a),
            MemberCreate(card_number="C9999", name="赵六", drug_allergies=["青霉素"]),
            now=NOW,
        )
    assert exc.value.field == "health_consent"
    assert world.session.scalar(select(func.count()).select_from(Member)) == 0


def test_consent_is_recorded_with_who_and_when(world: World):
    member = make_member(world)
    assert (member.health_consent, member.health_consent_by_id, member.health_consent_at) == (
        True,
        world.clerk_a.id,
        NOW,
    )


def test_members_sharing_a_mobile_are_flagged(world: World):
    first = make_member(world, mobile="13800138000")
    second = make_member(world, name="王秀英", mobile="13800138000")
    assert archive.same_mobile(world.session, world.actor(world.clerk_a), second) == [first.id]


def test_reassigning_moves_open_steps_and_keeps_history(world: World):
    member = make_member(world)
    plan = enroll(world, member.id)
    first = steps(world, plan)["medication_guidance"]
    done(world, first, first.due_on)
    archive.reassign_member(
        world.session,
        world.actor(world.manager_a),
        member.id,
        world.clerk_a2.id,
        note="店员调岗",
        now=NOW,
    )
    s = steps(world, plan)
    assert s["medication_guidance"].assignee_id == world.clerk_a.id  # done work stays theirs
    assert {c.assignee_id for k, c in s.items() if k != "medication_guidance"} == {
        world.clerk_a2.id
    }
    history = archive.ownership_history(world.session, world.actor(world.manager_a), member.id)
    assert [(h.staff_id, h.reason, h.ended_at is not None) for h in history] == [
        (world.clerk_a.id, OwnershipReason.registered, True),
        (world.clerk_a2.id, OwnershipReason.reassigned, False),
    ]


def test_a_clerk_may_not_reassign(world: World):
    member = make_member(world)
    with pytest.raises(Forbidden):
        archive.reassign_member(
            world.session, world.actor(world.clerk_a), member.id, world.clerk_a2.id, now=NOW
        )


def test_a_member_cannot_go_to_staff_of_another_store(world: World):
    member = make_member(world)
    with pytest.raises(InvalidInput) as exc:
        archive.reassign_member(
            world.session, world.actor(world.supervisor), member.id, world.clerk_b.id, now=NOW
        )
    assert exc.value.field == "owner_id"


def test_a_departing_clerks_members_all_move_and_the_clerk_is_marked_left(world: World):
    ids = [make_member(world, name=f"会员{i}").id for i in range(3)]
    for member_id in ids:
        enroll(world, member_id)
    moved = archive.reassign_all(
        world.session,
        world.actor(world.manager_a),
        world.clerk_a.id,
        world.clerk_a2.id,
        staff_left=True,
        now=NOW,
    )
    assert moved == 3
    assert world.clerk_a.active is False
    owners = world.session.scalars(select(Member.owner_id).where(Member.id.in_(ids))).all()
    assert set(owners) == {world.clerk_a2.id}


def test_another_stores_member_is_not_found_for_a_clerk(world: World):
    member = make_member(world)
    with pytest.raises(NotFound):
        archive.update_member(
            world.session, world.actor(world.clerk_b), member.id, MemberFields(name="改名")
        )


def test_the_change_log_keeps_who_when_and_old_and_new_values(world: World):
    member = make_member(world)
    archive.update_member(
        world.session,
        world.actor(world.pharmacist_a),
        member.id,
        MemberFields(drug_allergies=["青霉素", "磺胺类"], address="漕溪路1号"),
    )
    rows = change_log.history(world.session, world.actor(world.supervisor), "member", member.id)
    assert [r.action for r in rows] == ["create", "update"]
    update = rows[1]
    assert update.actor_id == world.pharmacist_a.id and update.via == "test"
    assert update.changes == {
        "drug_allergies": [["青霉素"], ["青霉素", "磺胺类"]],
        "address": [None, "漕溪路1号"],
    }


def test_plan_and_checkpoint_changes_are_logged_too(world: World):
    plan = enroll(world, make_member(world).id)
    lifecycle.pause(world.session, world.actor(world.clerk_a), plan.id, today=plan.start_date)
    rows = change_log.history(world.session, world.actor(world.supervisor), "plan", plan.id)
    assert rows[-1].changes["status"] == ["active", "paused"]
    cp = steps(world, plan)["take_on_time"]
    cp_rows = change_log.history(world.session, world.actor(world.supervisor), "checkpoint", cp.id)
    assert cp_rows[-1].changes["state"] == ["pending", "paused"]


def test_only_chain_wide_roles_read_the_change_log(world: World):
    member = make_member(world)
    with pytest.raises(Forbidden):
        change_log.history(world.session, world.actor(world.clerk_a), "member", member.id)


def test_a_change_without_an_actor_is_refused(world: World):
    member = make_member(world)
    world.session.info.pop("actor")
    member.address = "无名氏改的"
    with pytest.raises(UnattributedChange):
        world.session.flush()
    world.session.rollback()
    world.session.info["actor"] = Actor.system("test")
