"""Escalations: one open case per member and reason, and who may close it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from careplan.access import may_resolve_escalation
from careplan.errors import Forbidden, NotFound
from careplan.models import Checkpoint, Escalation
from careplan.plans import checkpoints, escalations
from careplan.plans.checkpoints import ResultIn
from careplan.vocab import Adherence, Channel, EscalationStatus, Role, StopReason
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member


def first_step(world: World, member_id: int, protocol_id: str) -> Checkpoint:
    plan = enroll(world, member_id, protocol_id)
    return min(steps(world, plan).values(), key=lambda c: c.seq)


def stopped(world: World, cp: Checkpoint, reason: StopReason = StopReason.side_effects) -> None:
    checkpoints.record_result(
        world.session,
        world.actor(world.clerk_a),
        cp.id,
        ResultIn(version=cp.version, channel=Channel.phone, adherence=Adherence.stopped,
                 stop_reason=reason, contacted_on=START),
        today=START,
        now=NOW,
    )  # fmt: skip


def open_ones(session: Session, member_id: int) -> list[Escalation]:
    stmt = select(Escalation).where(
        Escalation.member_id == member_id, Escalation.status == EscalationStatus.open
    )
    return list(session.scalars(stmt.order_by(Escalation.id)))


def test_a_second_stopped_answer_for_the_same_reason_adds_to_the_open_escalation(world: World):
    member = make_member(world)
    first = first_step(world, member.id, "osteoporosis")
    second = first_step(world, member.id, "hypertension")
    stopped(world, first)
    stopped(world, second)
    [esc] = open_ones(world.session, member.id)
    assert esc.reports == 2
    assert (esc.checkpoint_id, esc.last_checkpoint_id) == (first.id, second.id)
    # Each step's saved notice finds the case its answer went to.
    assert escalations.raised_at_checkpoint(world.session, second.id) == [esc]


def test_another_reason_or_a_resolved_case_opens_a_new_escalation(world: World):
    member = make_member(world)
    first = first_step(world, member.id, "osteoporosis")
    stopped(world, first, StopReason.side_effects)
    stopped(world, first_step(world, member.id, "hypertension"), StopReason.cost)
    assert sorted(e.reason for e in open_ones(world.session, member.id)) == [
        StopReason.cost, StopReason.side_effects
    ]  # fmt: skip
    side = open_ones(world.session, member.id)[0]
    escalations.resolve_escalation(
        world.session, world.actor(world.pharmacist_a), side.id, "已回访", now=NOW
    )
    stopped(world, first_step(world, member.id, "diabetes_t2"), StopReason.side_effects)
    assert [e.reports for e in open_ones(world.session, member.id)] == [1, 1]


def test_the_database_refuses_a_second_open_escalation_for_the_same_reason(world: World):
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"))
    [esc] = open_ones(world.session, member.id)
    twin = Escalation(
        member_id=esc.member_id, store_id=esc.store_id, reason=esc.reason, role=esc.role,
        action_zh="", action_en="", due_on=esc.due_on, raised_by_id=esc.raised_by_id,
        raised_at=NOW,
    )  # fmt: skip
    with pytest.raises(IntegrityError), world.session.begin_nested():
        world.session.add(twin)


def test_an_insert_that_loses_the_race_adds_to_the_winners_case(
    world: World, monkeypatch: pytest.MonkeyPatch
):
    """Two answers at once: both looked and found no open case; the second insert is
    refused by the unique index and adds to the first one's case instead of failing."""
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"))
    found = escalations.open_escalation_for
    calls = iter([None])
    monkeypatch.setattr(
        escalations, "open_escalation_for", lambda *a: next(calls, None) or found(*a)
    )
    stopped(world, first_step(world, member.id, "hypertension"))
    [esc] = open_ones(world.session, member.id)
    assert esc.reports == 2


def test_a_side_effect_case_is_closed_by_the_pharmacist_manager_or_supervisor_not_a_clerk(
    world: World,
):
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"), StopReason.side_effects)
    [esc] = open_ones(world.session, member.id)
    assert esc.role is Role.pharmacist
    for clerk in (world.clerk_a, world.clerk_a2):  # the owner who raised it, and a colleague
        with pytest.raises(Forbidden) as refused:
            escalations.resolve_escalation(
                world.session, world.actor(clerk), esc.id, "我打过电话了", now=NOW
            )
        assert refused.value.field == "escalation_id"
    assert esc.status is EscalationStatus.open
    with pytest.raises(NotFound):  # another store's people do not even see it
        escalations.resolve_escalation(
            world.session, world.actor(world.clerk_b), esc.id, "x", now=NOW
        )
    allowed = [world.pharmacist_a, world.manager_a, world.supervisor]
    assert [may_resolve_escalation(world.actor(s), esc) for s in allowed] == [True] * 3
    escalations.resolve_escalation(
        world.session, world.actor(world.pharmacist_a), esc.id, "药师已回访，建议就医", now=NOW
    )
    assert (esc.status, esc.resolved_by_id) == (EscalationStatus.resolved, world.pharmacist_a.id)


def test_a_managers_case_is_not_the_pharmacists_to_close(world: World):
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"), StopReason.service)
    [esc] = open_ones(world.session, member.id)
    assert esc.role is Role.store_manager
    assert not may_resolve_escalation(world.actor(world.pharmacist_a), esc)
    assert may_resolve_escalation(world.actor(world.manager_a), esc)


def test_a_case_is_late_the_day_after_its_due_day_until_it_is_resolved(world: World):
    member = make_member(world)
    stopped(world, first_step(world, member.id, "osteoporosis"), StopReason.cost)
    [esc] = open_ones(world.session, member.id)
    assert not escalations.is_late(esc, esc.due_on)
    assert escalations.is_late(esc, esc.due_on + timedelta(days=1))
    escalations.resolve_escalation(
        world.session, world.actor(world.pharmacist_a), esc.id, "已调整", now=NOW
    )
    assert not escalations.is_late(esc, esc.due_on + timedelta(days=1))
