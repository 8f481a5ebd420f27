"""The worklist as calls (issue 21): a member with several open steps is one row, and a
routine contact reads as a step of its own."""

from __future__ import annotations

from datetime import timedelta

from careplan.plans import lifecycle, worklist
from careplan.plans.lifecycle import protocol_of, step_title
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import World, make_member

TODAY = START + timedelta(days=3)


def test_a_member_with_several_open_steps_is_one_row_with_the_others_also_due(world: World):
    member, other = make_member(world), make_member(world, name="李四")
    bones = steps(world, enroll(world, member.id))["medication_guidance"]
    pressure = steps(world, enroll(world, member.id, "hypertension"))["start_guidance"]
    enroll(world, other.id)
    q = worklist.WorklistQuery(staff_id=world.clerk_a.id)
    wl = worklist.build(world.session, world.actor(world.clerk_a), q, today=TODAY)
    rows = {item.member.id: item for item in wl.items}
    assert len(wl.items) == 2 == wl.counts["due"]
    first = rows[member.id]
    assert {first.checkpoint.id, *(a.checkpoint.id for a in first.also)} == {bones.id, pressure.id}
    assert len(first.also) == 1 and rows[other.id].also == ()
    # Working one offers the other.
    offered = worklist.also_due_with(world.session, world.actor(world.clerk_a), bones, None, TODAY)
    assert [a.checkpoint.id for a in offered] == [pressure.id]


def test_routine_contacts_carry_their_month_and_number(world: World):
    plan = enroll(world, make_member(world).id, "post_purchase")
    protocol = protocol_of(plan)
    keys = [k for k in steps(world, plan) if k.startswith("routine_")]
    titles = {step_title(protocol, k) for k in keys}
    assert len(titles) == len(keys)  # no two rows with one name
    first = step_title(protocol, "routine_01_2")
    assert (first.month, first.number) == (1, 2) and first.title.zh == "常规维护联系"
    assert step_title(protocol, "day3_thanks").month is None
    assert lifecycle.step_of(protocol, "routine_01_2") is protocol.routine


def test_each_tabs_count_is_its_list_of_members_on_any_day(world: World):
    """The tab counts come from one query for all tabs; each must be the number of rows
    its own list shows (a member once), whatever the day and however the steps stand."""
    members = [make_member(world, name=n) for n in ("甲", "乙", "丙")]
    enroll(world, members[0].id)
    enroll(world, members[0].id, "hypertension")
    enroll(world, members[1].id, "hypertension")
    enroll(world, members[2].id, "diabetes_t2")
    actor = world.actor(world.clerk_a)
    seen: set[tuple[int, int, int]] = set()
    for days in range(0, 70, 3):
        today = START + timedelta(days=days)
        for staff_id in (world.clerk_a.id, None):
            q = worklist.WorklistQuery(staff_id=staff_id)
            counts = worklist.counts(world.session, actor, q, today=today)
            shown = {}
            for tab in worklist.TAB_STATUS:
                tab_q = worklist.WorklistQuery(staff_id=staff_id, tab=tab)
                shown[tab] = len(worklist.build(world.session, actor, tab_q, today=today).items)
            assert {tab: counts[tab] for tab in shown} == shown, (days, staff_id)
            seen.add((shown["due"], shown["overdue"], shown["upcoming"]))
    assert len(seen) > 3  # the days walked through different mixes of the three tabs
