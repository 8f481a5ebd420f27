"""Holiday cover: a hand-over with a last day, after which the members go back."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from careplan.errors import InvalidInput
from careplan.members import archive
from careplan.models import ChangeLog, Checkpoint, Member, Ownership
from careplan.vocab import CheckpointState, OwnershipReason
from tests.factories import World, enrolled_steps, make_member

# 10:00 in Shanghai on each day
MON = datetime(2024, 3, 4, 2, tzinfo=UTC)
UNTIL = date(2024, 3, 10)


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, tzinfo=UTC)


def cover(world: World, until: date | None = UNTIL, **kw) -> int:
    return archive.reassign_all(
        world.session, world.actor(world.manager_a), world.clerk_a.id, world.clerk_a2.id,
        staff_left=kw.pop("staff_left", False), now=kw.pop("now", MON), until=until, **kw,
    )  # fmt: skip


def owners(world: World, ids: list[int]) -> list[int]:
    world.session.expire_all()
    return [world.session.get_one(Member, i).owner_id for i in ids]


def open_assignees(world: World, member_id: int) -> set[int]:
    steps = enrolled_of(world, member_id)
    return {cp.assignee_id for cp in steps if cp.state is CheckpointState.pending}


def enrolled_of(world: World, member_id: int) -> list[Checkpoint]:
    from careplan.models import CarePlan

    stmt = select(Checkpoint).join(CarePlan).where(CarePlan.member_id == member_id)
    return list(world.session.scalars(stmt))


def test_a_cover_moves_the_members_and_they_go_back_the_day_after_its_last_day(world: World):
    a, b = make_member(world).id, make_member(world, name="李秀兰").id
    enrolled_steps(world, world.session.get_one(Member, a), start=date(2024, 3, 1))
    assert cover(world) == 2
    clerk, taker = world.clerk_a.id, world.clerk_a2.id
    assert owners(world, [a, b]) == [taker, taker]
    assert open_assignees(world, a) == {taker}  # the open steps went along
    system = world.actor(world.manager_a)
    # On the last day the cover holds; the day after, the members are back.
    assert archive.end_covers(world.session, system, now=at(UNTIL)) == 0
    assert owners(world, [a, b]) == [taker, taker]
    assert archive.end_covers(world.session, system, now=at(UNTIL + timedelta(days=1))) == 2
    assert owners(world, [a, b]) == [clerk, clerk]
    assert open_assignees(world, a) == {clerk}
    # Running the daily check again changes nothing.
    assert archive.end_covers(world.session, system, now=at(UNTIL + timedelta(days=2))) == 0
    history = archive.ownership_history(world.session, system, a)
    assert [(o.staff_id, o.reason, o.cover_until) for o in history] == [
        (clerk, OwnershipReason.registered, None),
        (taker, OwnershipReason.cover, UNTIL),
        (clerk, OwnershipReason.cover_ended, None),
    ]
    logged = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "ownership", ChangeLog.action == "create")
    ).all()
    assert {c.changes["reason"][1] for c in logged} >= {"cover", "cover_ended"}


def test_a_manager_gives_the_members_back_early(world: World):
    a = make_member(world).id
    cover(world)
    back = archive.end_covers(
        world.session, world.actor(world.manager_a), now=MON + timedelta(days=2),
        returning_to=world.clerk_a.id,
    )  # fmt: skip
    assert back == 1 and owners(world, [a]) == [world.clerk_a.id]
    assert (
        archive.covers_in_force(world.session, world.actor(world.manager_a), world.store_a.id) == []
    )


def test_a_cover_for_someone_who_left_meanwhile_stays_with_the_taker(world: World):
    a = make_member(world).id
    cover(world)
    world.clerk_a.active = False
    world.session.flush()
    assert (
        archive.end_covers(world.session, world.actor(world.manager_a), now=at(date(2024, 4, 1)))
        == 0
    )
    assert owners(world, [a]) == [world.clerk_a2.id]
    [held] = world.session.scalars(select(Ownership).where(Ownership.reason == "cover")).all()
    assert held.cover_until is None and held.ended_at is None


def test_the_covers_in_force_name_owner_taker_last_day_and_count(world: World):
    make_member(world), make_member(world, name="李秀兰")
    cover(world)
    [c] = archive.covers_in_force(world.session, world.actor(world.manager_a), world.store_a.id)
    assert (c.owner_id, c.taker_id, c.until, c.members) == (
        world.clerk_a.id, world.clerk_a2.id, UNTIL, 2
    )  # fmt: skip


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"until": date(2024, 3, 3)}, "until"),  # the last day before today
        ({"staff_left": True}, "until"),  # who left does not come back
    ],
)
def test_a_cover_is_refused_naming_the_field_and_nothing_moves(world: World, kw, field):
    a = make_member(world).id
    with pytest.raises(InvalidInput) as refused:
        cover(world, **kw)
    assert refused.value.field == field
    assert owners(world, [a]) == [world.clerk_a.id]


def test_one_member_cannot_be_given_a_cover_reason_by_hand(world: World):
    a = make_member(world).id
    with pytest.raises(InvalidInput) as refused:
        archive.reassign_member(
            world.session, world.actor(world.manager_a), a, world.clerk_a2.id,
            reason=OwnershipReason.cover, now=MON,
        )  # fmt: skip
    assert refused.value.field == "reason"


def test_steps_already_overdue_at_a_hand_over_are_inherited_with_the_previous_owner(
    world: World,
):
    from careplan.audit import audit
    from careplan.plans import worklist

    world.clerk_a.name = "李娜"
    member = make_member(world)
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))  # weeks behind by 03-04
    today = date(2024, 3, 4)
    overdue = {k for k, cp in steps.items() if (cp.overdue_on <= today and cp.missed_on is None)
               or cp.overdue_on <= today < (cp.missed_on or today)}  # fmt: skip
    later = {k for k, cp in steps.items() if cp.overdue_on > today}
    assert overdue and later
    archive.reassign_member(
        world.session, world.actor(world.manager_a), member.id, world.clerk_a2.id, now=MON
    )
    for key in overdue:
        cp = steps[key]
        assert (cp.inherited_from_id, cp.inherited_on) == (world.clerk_a.id, today)
    assert all(steps[k].inherited_from_id is None for k in later)
    # Six days on, the worklist and the audit show whose the first days were.
    six_on = today + timedelta(days=6)
    taker = world.actor(world.clerk_a2)
    wl = worklist.build(world.session, taker,
                        worklist.WorklistQuery(staff_id=world.clerk_a2.id, tab="overdue"),
                        today=six_on)  # fmt: skip
    inherited = [i for i in wl.items if i.inherited_from]
    assert inherited and all(i.inherited_from == "李娜" for i in inherited)
    assert {i.days_since_hand_over for i in inherited} == {6}
    assert all(i.days_overdue > 6 for i in inherited)
    sup = world.actor(world.supervisor)
    scope = audit.resolve_scope(world.session, sup, staff_id=world.clerk_a2.id)
    q = audit.make_query(scope, today=six_on)
    listed = audit.list_steps(world.session, sup, q, audit.StepFilter(), limit=50, offset=0)
    mine = [s for s in listed if s.inherited_on]
    assert mine and {(s.inherited_from, s.inherited_on, s.days_overdue_since_hand_over)
                     for s in mine} == {("李娜", today, 6)}  # fmt: skip
    assert all(s.days_overdue > 6 for s in mine)
    exported = list(audit.iter_steps(world.session, sup, q, audit.StepFilter()))
    assert [s.inherited_from for s in exported] == [s.inherited_from for s in listed]
