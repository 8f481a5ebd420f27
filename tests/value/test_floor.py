"""The three-contacts-a-year floor: who was reached fewer than three times in 365 days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from careplan.errors import Forbidden
from careplan.models import Checkpoint, CheckpointResult, ContactAttempt, Member
from careplan.plans import lifecycle
from careplan.value import floor, outlook
from careplan.vocab import Adherence, AttemptOutcome, Channel
from tests.factories import NOW, TODAY, World, make_member


def steps(world: World, member: Member) -> list[Checkpoint]:
    actor = world.actor(world.manager_a if member.home_store_id == world.store_a.id
                        else world.clerk_b)  # fmt: skip
    plan = outlook.set_outlook(world.session, actor, member.id, "two_months", "节奏",
                               today=TODAY, now=NOW)  # fmt: skip
    return lifecycle.checkpoints_of(world.session, plan)


def result(world: World, cp: Checkpoint, on: date, channel: Channel = Channel.phone) -> None:
    world.session.add(
        CheckpointResult(checkpoint_id=cp.id, recorded_by_id=cp.assignee_id, recorded_at=NOW,
                         contacted_on=on, channel=channel, adherence=Adherence.as_directed)
    )  # fmt: skip


def attempt(world: World, cp: Checkpoint, on: date, channel: Channel = Channel.phone) -> None:
    world.session.add(
        ContactAttempt(checkpoint_id=cp.id, staff_id=cp.assignee_id, channel=channel,
                       attempted_at=datetime(on.year, on.month, on.day, 3, tzinfo=UTC),
                       outcome=AttemptOutcome.unreachable)
    )  # fmt: skip


@pytest.fixture
def members(world: World) -> dict[str, Member]:
    """two: 2 contacts; three: 3; old: 2 in the year and one 366 days ago; message: 2 by
    phone and one text message; none: never; b: store B, never."""
    out = {k: make_member(world, name=k, mobile=f"1380000000{i}")
           for i, k in enumerate(("two", "three", "old", "message", "none"))}  # fmt: skip
    out["b"] = make_member(world, owner=world.clerk_b, name="b")
    last = TODAY - timedelta(days=364)  # the window's first day
    for key, extra in (("two", None), ("three", Channel.home_visit), ("old", "old"),
                       ("message", Channel.message)):  # fmt: skip
        cps = steps(world, out[key])
        result(world, cps[0], TODAY - timedelta(days=20))
        attempt(world, cps[1], last)
        if extra == "old":
            result(world, cps[2], last - timedelta(days=1))
        elif extra is not None:
            result(world, cps[2], TODAY, channel=extra)
    world.session.flush()
    return out


def test_members_below_three_contacts_a_year_are_listed_with_count_and_last(world: World,
                                                                            members):  # fmt: skip
    rows, total = floor.below_floor(world.session, world.actor(world.manager_a), TODAY)
    by_name = {r.name: r for r in rows}
    assert set(by_name) == {"two", "old", "message", "none"} and total == 4
    assert by_name["two"].contacts == 2 and by_name["two"].last_contact_on == TODAY - timedelta(
        days=20)  # fmt: skip
    assert by_name["none"].contacts == 0 and by_name["none"].last_contact_on is None
    assert by_name["two"].mobile == "13800000000" and by_name["two"].owner == world.clerk_a.name
    assert rows[0].name == "none"  # fewest contacts first


def test_the_floor_list_pages_and_counts_per_store(world: World, members):
    first, total = floor.below_floor(world.session, world.actor(world.supervisor), TODAY,
                                     per_page=2)  # fmt: skip
    second, _ = floor.below_floor(world.session, world.actor(world.supervisor), TODAY,
                                  page=2, per_page=2)  # fmt: skip
    assert total == 5 and len(first) == 2 and not {r.member_id for r in first} & {
        r.member_id for r in second}  # fmt: skip
    counts = floor.below_by_store(world.session, world.actor(world.supervisor), TODAY)
    assert counts == {world.store_a.id: 4, world.store_b.id: 1}
    assert floor.below_by_store(world.session, world.actor(world.manager_a), TODAY) == {
        world.store_a.id: 4}  # fmt: skip
    only_b, n = floor.below_floor(world.session, world.actor(world.supervisor), TODAY,
                                  store_id=world.store_b.id)  # fmt: skip
    assert n == 1 and only_b[0].name == "b"


def test_clerks_do_not_see_the_floor_list(world: World, members):
    with pytest.raises(Forbidden):
        floor.below_floor(world.session, world.actor(world.clerk_a), TODAY)
    with pytest.raises(Forbidden):
        floor.below_by_store(world.session, world.actor(world.pharmacist_a), TODAY)
