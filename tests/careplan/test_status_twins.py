"""A step's status is one rule written twice: in Python (schedule.checkpoint_status, for
one step on a page) and in SQL (checkpoints.status_clause, for lists). They agree on
every state and every placing of the step's dates around today, and of the day an
agreed visit holds the step until (none, before, on or after today)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy import select

from careplan.models import Checkpoint
from careplan.plans.checkpoints import status_clause
from careplan.plans.schedule import checkpoint_status
from careplan.vocab import CheckpointState, CheckpointStatus
from tests.careplan.test_plans import enroll
from tests.factories import World, make_member

TODAY = date(2024, 6, 10)
DAYS = [TODAY + timedelta(days=n) for n in (-2, -1, 0, 1, 2)]
HELD: list[date | None] = [None, TODAY - timedelta(days=1), TODAY, TODAY + timedelta(days=1)]


def placings() -> list[tuple[date, date, date | None]]:
    """Every (open, overdue, missed) the schedule can give: opens no later than it is
    overdue, and is missed (if ever) after it is overdue."""
    out: list[tuple[date, date, date | None]] = []
    for open_on, overdue_on in itertools.product(DAYS, DAYS):
        if open_on > overdue_on:
            continue
        out += [(open_on, overdue_on, None)]
        out += [(open_on, overdue_on, m) for m in DAYS if m > overdue_on]
    return out


def test_python_and_sql_give_every_step_the_same_status(world: World):
    plan = enroll(world, make_member(world).id)
    template = world.session.scalars(
        select(Checkpoint).where(Checkpoint.plan_id == plan.id)
    ).first()
    assert template is not None
    made: list[tuple[Checkpoint, CheckpointStatus]] = []
    combos = itertools.product(CheckpointState, (False, True), placings(), HELD)
    for n, (state, late, (open_on, overdue_on, missed_on), held) in enumerate(combos):
        cp = Checkpoint(
            plan_id=plan.id, key=f"twin_{n}", protocol_id=template.protocol_id, seq=1000 + n,
            open_on=open_on, due_on=open_on, overdue_on=overdue_on, missed_on=missed_on,
            state=state, late=late, assignee_id=template.assignee_id, version=1,
            held_until=held,
        )  # fmt: skip
        status = checkpoint_status(state, open_on, overdue_on, missed_on, late, TODAY, held)
        made.append((cp, status))
    world.session.add_all(cp for cp, _ in made)
    world.session.flush()
    expected = {cp.id: status for cp, status in made}
    assert len(expected) == 420 * len(HELD) and set(expected.values()) == set(CheckpointStatus)
    for status in CheckpointStatus:
        in_sql = set(
            world.session.scalars(
                select(Checkpoint.id).where(
                    Checkpoint.id.in_(expected), status_clause(status, TODAY)
                )
            )
        )
        in_python = {i for i, s in expected.items() if s is status}
        assert in_sql == in_python, status
