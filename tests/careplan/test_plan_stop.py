"""A "stopped taking" answer is not a plan that went well (issue 21): the plan stays
live, showing the stop and its open escalation, until someone resolves it."""

from __future__ import annotations

from datetime import date, timedelta

from careplan.plans import checkpoints, lifecycle
from careplan.plans.checkpoints import ResultIn
from careplan.plans.escalations import resolve_escalation
from careplan.vocab import Adherence, Channel, PlanStatus, StopReason
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member


def answer(world: World, cp, on: date, **kw) -> None:
    data = ResultIn(
        version=cp.version, channel=Channel.phone, contacted_on=on,
        **({"adherence": Adherence.as_directed} | kw),
    )  # fmt: skip
    checkpoints.record_result(
        world.session, world.actor(world.clerk_a), cp.id, data, today=on, now=NOW
    )


def test_a_stopped_answer_on_the_last_step_keeps_the_plan_open_until_resolved(world: World):
    plan = enroll(world, make_member(world).id, "follow_up_333")
    s = steps(world, plan)
    answer(world, s["day3_call"], START + timedelta(days=3))
    answer(world, s["week3_call"], START + timedelta(days=21))
    last = s["month3_call"].due_on
    answer(world, s["month3_call"], last, adherence=Adherence.stopped,
           stop_reason=StopReason.side_effects)  # fmt: skip
    later = last + timedelta(days=30)
    assert plan.status is PlanStatus.active
    assert lifecycle.effective_status(world.session, plan, later) is PlanStatus.active
    (open_one,) = lifecycle.open_escalations(world.session, plan_id=plan.id)
    assert open_one.reason is StopReason.side_effects
    resolve_escalation(world.session, world.actor(world.pharmacist_a), open_one.id, "已电话评估",
                       now=NOW)  # fmt: skip
    assert lifecycle.open_escalations(world.session, plan_id=plan.id) == []
    assert lifecycle.effective_status(world.session, plan, later) is PlanStatus.completed
    assert plan.status is PlanStatus.completed  # no longer counted among live plans


def test_a_plan_without_a_stop_completes_with_its_last_step(world: World):
    plan = enroll(world, make_member(world).id, "follow_up_333")
    s = steps(world, plan)
    answer(world, s["day3_call"], START + timedelta(days=3))
    answer(world, s["week3_call"], START + timedelta(days=21))
    answer(world, s["month3_call"], s["month3_call"].due_on)
    assert plan.status is PlanStatus.completed
