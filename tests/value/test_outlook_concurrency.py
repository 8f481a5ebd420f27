"""Two outlook changes of one member at once (a clerk and the store manager, two tabs)
on real committed databases: they take turns on the member, so the member ends with one
live contact plan, the later change's, and neither person sees an error. The database
refuses a second live contact plan whatever a caller does."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.db import begin_for_writing
from careplan.models import CarePlan
from careplan.models import plan as plan_model
from careplan.plans import lifecycle
from careplan.value import outlook
from careplan.vocab import PlanStatus
from tests.factories import NOW, TODAY, make_member, make_world


def _setup(factory: sessionmaker[Session]) -> tuple[int, Actor, Actor]:
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        world = make_world(s)
        member = make_member(world)
        clerk, manager = world.actor(world.clerk_a), world.actor(world.manager_a)
        outlook.set_outlook(s, clerk, member.id, "beyond", "刚买了半年的量", today=TODAY, now=NOW)
        s.commit()
        return member.id, clerk, manager


def _live(factory: sessionmaker[Session], member_id: int) -> list[CarePlan]:
    with factory() as s:
        return outlook.live_contact_plans(s, member_id)


def test_two_outlook_changes_at_once_leave_one_live_contact_plan(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    member_id, clerk, manager = _setup(factory)
    first_wrote = threading.Event()
    errors: list[BaseException] = []

    def change(actor: Actor, value: str, *, first: bool) -> None:
        try:
            if not first:
                first_wrote.wait(10)  # the first change has written, not yet committed
            with factory() as s:
                s.info["actor"] = actor
                begin_for_writing(s)  # as every write request does (web/deps.py)
                outlook.set_outlook(s, actor, member_id, value, "电话里说的", today=TODAY, now=NOW)
                if first:
                    first_wrote.set()
                    time.sleep(0.5)  # the second change starts meanwhile, and waits
                s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)
            first_wrote.set()

    threads = [
        threading.Thread(target=change, args=(clerk, "two_months"), kwargs={"first": True}),
        threading.Thread(target=change, args=(manager, "this_month"), kwargs={"first": False}),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    live = _live(factory, member_id)
    assert [p.protocol_id for p in live] == ["contact_this_month"]  # the later change's
    with factory() as s:
        plans = s.scalars(select(CarePlan).where(CarePlan.member_id == member_id)).all()
        stopped = sorted(p.protocol_id for p in plans if p.status is PlanStatus.stopped)
    assert stopped == ["contact_beyond", "contact_two_months"]


def test_the_database_refuses_a_second_live_contact_plan(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    member_id, clerk, _ = _setup(factory)
    with factory() as s:
        s.info["actor"] = clerk
        plan = s.scalars(select(CarePlan).where(CarePlan.member_id == member_id)).one()
        s.add(CarePlan(member_id=member_id, protocol_id="contact_two_months",
                       protocol_version_id=plan.protocol_version_id, start_date=TODAY,
                       enrolled_by_id=plan.enrolled_by_id, enrolled_at=NOW))  # fmt: skip
        with pytest.raises(IntegrityError):
            s.flush()
        s.rollback()
    # Another kind of plan beside the contact plan is fine.
    with factory() as s:
        s.info["actor"] = clerk
        lifecycle.enroll(s, clerk, member_id=member_id, protocol_id="osteoporosis",
                         start=TODAY, today=TODAY, now=NOW)  # fmt: skip
        s.commit()
    assert len(_live(factory, member_id)) == 1


def test_the_index_names_every_contact_plan_of_the_outlooks():
    assert frozenset(plan_model.CONTACT_PROTOCOLS) == outlook.CONTACT_PROTOCOLS
