"""A hand-built chain where every audit figure is known (tests/careplan/test_audit.py).

  华东 · A001: clerk a1, clerk a2      华东 · B001: clerk b1      华北 · C001: clerk c1
As of D = 2024-03-20, period D-29..D. Osteoporosis dates: overdue from due + 3 (grace 2),
missed from due + 15 (expiry 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from careplan.models import CarePlan, Checkpoint, Escalation, ProtocolVersion, Staff, Store
from careplan.vocab import CheckpointState, EscalationStatus, Role, StopReason
from tests.factories import World, make_member, make_staff

D = date(2024, 3, 20)


@dataclass
class Chain:
    world: World
    store_c: Store
    c1: Staff
    manager_b: Staff
    ids: dict[str, int]

    @property
    def a1(self) -> Staff:
        return self.world.clerk_a

    @property
    def a2(self) -> Staff:
        return self.world.clerk_a2

    @property
    def b1(self) -> Staff:
        return self.world.clerk_b


def _step(
    world: World,
    who: Staff,
    due: date,
    *,
    state: CheckpointState = CheckpointState.pending,
    expires: bool = True,
    completed: date | None = None,
    late: bool = False,
    key: str = "medication_guidance",
) -> Checkpoint:
    """One member with one plan with one step, worked (or not) as told."""
    s = world.session
    version = s.scalar(select(ProtocolVersion).where(ProtocolVersion.protocol_id == "osteoporosis"))
    assert version is not None
    member = make_member(world, owner=who)
    plan = CarePlan(
        member_id=member.id,
        protocol_id="osteoporosis",
        protocol_version_id=version.id,
        start_date=due - timedelta(days=6),
        enrolled_by_id=who.id,
        enrolled_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    s.add(plan)
    s.flush()
    cp = Checkpoint(
        plan_id=plan.id,
        protocol_id="osteoporosis",
        key=key,
        seq=1,
        open_on=due - timedelta(days=6),
        due_on=due,
        overdue_on=due + timedelta(days=3),
        missed_on=due + timedelta(days=15) if expires else None,
        state=state,
        assignee_id=who.id,
        completed_on=completed,
        late=late,
    )
    s.add(cp)
    s.flush()
    return cp


def _escalation(world: World, store: Store, who: Staff, raised: datetime, *, open_: bool) -> None:
    member = make_member(world, owner=who)
    world.session.add(
        Escalation(
            member_id=member.id,
            store_id=store.id,
            reason=StopReason.side_effects,
            role=Role.pharmacist,
            assignee_id=who.id,
            action_zh="回访",
            action_en="call back",
            due_on=raised.date() + timedelta(days=2),
            status=EscalationStatus.open if open_ else EscalationStatus.resolved,
            raised_by_id=who.id,
            raised_at=raised,
            resolved_at=None if open_ else raised + timedelta(days=1),
        )
    )
    world.session.flush()


def ago(days: int) -> date:
    return D - timedelta(days=days)


@pytest.fixture
def chain(world: World) -> Chain:
    s = world.session
    store_c = Store(code="C001", name="朝阳店", region="华北")
    s.add(store_c)
    s.flush()
    c1 = make_staff(s, username="clerk.c1", role=Role.clerk, store=store_c)
    manager_b = make_staff(s, username="manager.b", role=Role.store_manager, store=world.store_b)
    a1, a2, b1 = world.clerk_a, world.clerk_a2, world.clerk_b
    ids: dict[str, int] = {}
    _step(world, a1, ago(2))  # still in its grace: not overdue
    for days, key in ((3, "medication_guidance"), (5, "take_on_time"), (14, "diet_guidance")):
        ids[f"a1-{days}"] = _step(world, a1, ago(days), key=key).id
    ids["a1-15"] = _step(world, a1, ago(15)).id  # missed today
    ids["a1-20"] = _step(world, a1, ago(20), expires=False, key="fall_prevention").id
    ids["a1-40"] = _step(world, a1, ago(40), expires=False, key="fall_prevention").id
    _step(world, a1, D + timedelta(days=5))  # upcoming
    _step(world, a1, ago(10), state=CheckpointState.done, completed=ago(10))
    _step(world, a1, ago(5), state=CheckpointState.skipped)  # excused: counted nowhere
    _step(world, a1, ago(6), state=CheckpointState.cancelled)
    _step(world, a2, ago(7), key="take_on_time")
    _step(world, a2, ago(8), key="take_on_time")
    _step(world, a2, ago(12), state=CheckpointState.done, completed=ago(6), late=True)
    _step(world, b1, ago(31), expires=False, key="fall_prevention")
    _step(world, b1, ago(40))  # missed on D-25: in the period
    _step(world, b1, ago(100))  # missed on D-85: before the period
    _step(world, c1, ago(4), key="take_on_time")
    # Done yesterday, three days late: overdue on D-3, done late as of D.
    ids["c1-done"] = _step(
        world, c1, ago(9), state=CheckpointState.done, completed=ago(1), late=True
    ).id
    _escalation(world, world.store_a, a1, datetime(2024, 3, 18, 2, tzinfo=UTC), open_=True)
    _escalation(world, store_c, c1, datetime(2024, 2, 28, 2, tzinfo=UTC), open_=True)
    _escalation(world, world.store_b, b1, datetime(2024, 3, 1, 2, tzinfo=UTC), open_=False)
    return Chain(world, store_c, c1, manager_b, ids)
