"""One rule each: the stores a person sees (Python and SQL twins agree), and the contact
log that gives "last contact" to both the caseload and the lapsed-members list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from careplan.access import scope_members, scope_stores
from careplan.models import Member, Store
from careplan.plans import checkpoints, contacts, outcomes
from careplan.plans.outcomes import AttemptIn
from careplan.stores import visible_stores
from careplan.vocab import Adherence, Role, StopReason
from tests.careplan.test_checkpoints import result, save
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member, make_staff


def test_the_stores_a_person_sees_are_the_same_in_python_and_in_sql(world: World):
    admin = make_staff(world.session, username="adm", role=Role.admin, store=None)
    people = [world.clerk_a, world.pharmacist_a, world.manager_a, world.clerk_b,
              world.supervisor, admin]  # fmt: skip
    every = list(world.session.scalars(select(Store)))
    for person in people:
        actor = world.actor(person)
        in_python = {s.id for s in every if actor.may_see_store(s.id)}
        in_sql = set(world.session.scalars(scope_stores(select(Store.id), actor)))
        assert in_python == in_sql, person.username
        assert [s.id for s in visible_stores(world.session, actor)] == sorted(
            in_sql, key=lambda i: world.session.get(Store, i).code
        )
    assert {s.code for s in visible_stores(world.session, world.actor(world.clerk_b))} == {"B001"}


def test_the_members_a_person_sees_are_the_same_in_python_and_in_sql(world: World):
    make_member(world, name="甲")
    make_member(world, name="乙", owner=world.clerk_b)  # in store B, their own
    admin = make_staff(world.session, username="adm", role=Role.admin, store=None)
    people = [world.clerk_a, world.manager_a, world.clerk_b, world.supervisor, admin]
    every = list(world.session.scalars(select(Member)))
    assert len({m.home_store_id for m in every}) == 2
    for person in people:
        actor = world.actor(person)
        in_python = {m.id for m in every if actor.may_see_member(m)}
        in_sql = set(world.session.scalars(scope_members(select(Member.id), actor)))
        assert in_python == in_sql, person.username
        assert in_python, person.username
    assert len(visible_stores(world.session, world.actor(world.supervisor))) == 2


def test_last_contact_is_the_latest_result_or_attempt_on_any_plan(world: World):
    reached, tried, silent = (make_member(world, name=n) for n in ("甲", "乙", "丙"))
    plans = {m.id: enroll(world, m.id) for m in (reached, tried, silent)}
    first = steps(world, plans[reached.id])["medication_guidance"]
    save(world, first, result(first, contacted_on=START))
    cp = steps(world, plans[tried.id])["medication_guidance"]
    called = datetime(2024, 3, 4, 17, 30, tzinfo=UTC)  # 01:30 on the 5th in Shanghai
    outcomes.record_attempt(
        world.session, world.actor(world.clerk_a), cp.id, AttemptIn(version=cp.version),
        today=START + timedelta(days=7), now=called,
    )  # fmt: skip
    last = contacts.last_contacts(world.session, [reached.id, tried.id, silent.id])
    assert last == {reached.id: START, tried.id: called.date() + timedelta(days=1)}

    log = contacts.contact_log(world.session, [cp.id, first.id])
    assert [c.attempt is not None for c in log] == [True, False]  # newest first
    assert {c.by for c in log} == {world.clerk_a.id}
    assert contacts.last_answer(contacts.contact_log(world.session, [first.id])) is not None
    assert contacts.last_answer(contacts.contact_log(world.session, [cp.id])) is None


def test_the_log_is_in_contact_order_so_the_last_answer_is_the_latest_contact(world: World):
    """A call written up a week late (typed in last) still counts on the day it was made:
    the newest answer is the one from the latest contact, not the last one typed in."""
    member = make_member(world)
    plan = enroll(world, member.id)
    first, second = steps(world, plan)["medication_guidance"], steps(world, plan)["take_on_time"]
    clerk = world.actor(world.clerk_a)
    later = START + timedelta(days=8)
    stopped = result(second, contacted_on=later, adherence=Adherence.stopped,
                     stop_reason=StopReason.side_effects)  # fmt: skip
    checkpoints.record_result(world.session, clerk, second.id, stopped, today=later, now=NOW)
    missed = result(first, contacted_on=START, adherence=Adherence.missed_doses)
    typed_late = NOW + timedelta(days=1)  # the earlier call, written up after the later one
    checkpoints.record_result(world.session, clerk, first.id, missed, today=later, now=typed_late)
    log = contacts.contact_log(world.session, [first.id, second.id])
    assert [c.result.checkpoint_id for c in log if c.result] == [second.id, first.id]
    answer = contacts.last_answer(log)
    assert answer is not None and answer.adherence is Adherence.stopped
