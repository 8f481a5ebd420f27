"""The generated chain (`careplan demo generate`) is a consistent history, and the same
seed gives the same chain on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from careplan import migrate
from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.demo import synthetic
from careplan.models import CarePlan, Checkpoint, CheckpointResult, Escalation, HealthCheck
from careplan.plans import protocols
from careplan.plans.measurements import MEASUREMENTS
from tests.factories import shipped_protocols

TODAY = date(2024, 3, 20)
SPEC = synthetic.ChainSpec(stores=3, members=400, seed=7, today=TODAY)


def _generate(session: Session) -> synthetic.Counts:
    protocols.publish(session, shipped_protocols())
    counts = synthetic.generate(session, SPEC)
    session.flush()
    return counts


def _fingerprint(conn: Connection | Session) -> dict[str, Any]:
    """What the audit would see, independent of row ids."""
    by_state = select(Checkpoint.state, Checkpoint.late, func.count()).group_by(
        Checkpoint.state, Checkpoint.late
    )
    done_days = select(func.count(func.distinct(Checkpoint.completed_on)))
    return {
        "states": sorted((str(s), bool(late), n) for s, late, n in conn.execute(by_state)),
        "done_days": conn.execute(done_days).scalar(),
        "escalations": sorted(
            (str(s), n)
            for s, n in conn.execute(
                select(Escalation.status, func.count()).group_by(Escalation.status)
            )
        ),
        "health_checks": conn.execute(select(func.count()).select_from(HealthCheck)).scalar(),
    }


def test_generated_history_is_consistent(session: Session):
    counts = _generate(session)
    steps = session.scalars(select(Checkpoint)).all()
    assert counts.checkpoints == len(steps) >= SPEC.members * 3
    states = {s.state for s in steps}
    assert states == {"done", "pending", "skipped", "cancelled"}
    for step in steps:
        if step.state == "done":
            assert step.open_on <= step.completed_on <= TODAY
            assert (step.completed_on >= step.overdue_on) == step.late, step.key
        else:
            assert step.completed_on is None and not step.late
    open_overdue = [s for s in steps if s.state == "pending" and s.overdue_on <= TODAY]
    assert open_overdue  # the audit has something to find
    # Cancelled steps belong to stopped plans, from the day the plan stopped.
    plans = {p.id: p for p in session.scalars(select(CarePlan))}
    for step in steps:
        plan = plans[step.plan_id]
        cancelled = plan.stopped_on is not None and step.open_on >= plan.stopped_on
        assert (step.state == "cancelled") == cancelled
        assert step.assignee_id == plan.enrolled_by_id
    # Every done step has its one result, recorded on the day it was done.
    results = session.scalars(select(CheckpointResult)).all()
    done = {s.id: s for s in steps if s.state == "done"}
    assert counts.results == len(results) == len(done)
    assert all(done[r.checkpoint_id].completed_on == r.contacted_on for r in results)
    # Escalations follow a "stopped" answer; health checks only where there is a reading.
    stopped = {r.checkpoint_id for r in results if r.adherence == "stopped"}
    escalations = session.scalars(select(Escalation)).all()
    assert {e.checkpoint_id for e in escalations} == stopped and len(stopped) > 0
    assert {e.status for e in escalations} == {"open", "resolved"}
    checks = session.scalars(select(HealthCheck)).all()
    assert counts.health_checks == len(checks) > 0
    assert {done[c.checkpoint_id].protocol_id for c in checks} <= set(synthetic.MEASURES)
    # Readings of kinds the member page can draw (a generated "blood_glucose" was not one,
    # and every such member's page failed).
    assert {c.kind for c in checks} <= set(MEASUREMENTS)


def test_the_same_seed_gives_the_same_chain_on_either_database(session: Session, tmp_path: Path):
    _generate(session)
    here = _fingerprint(session)
    url = f"sqlite:///{tmp_path / 'other.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as other:
        other.info["actor"] = Actor.system("test")
        _generate(other)
        assert _fingerprint(other) == here
    engine.dispose()


def test_a_synthetic_chain_knows_its_members_last_sign_of_life(session: Session):
    """Written past the writers that keep members.last_seen_on, the chain recounts it:
    the long-inactive list reads the same members as the rule's probes."""
    from sqlalchemy import or_

    from careplan.models import Member
    from careplan.value import activity

    _generate(session)
    latest = dict(session.execute(
        select(CarePlan.member_id, func.max(CheckpointResult.contacted_on))
        .join(Checkpoint, Checkpoint.plan_id == CarePlan.id)
        .join(CheckpointResult, CheckpointResult.checkpoint_id == Checkpoint.id)
        .group_by(CarePlan.member_id)
    ).all())  # fmt: skip
    seen = dict(session.execute(select(Member.id, Member.last_seen_on)).all())
    wrong = {m: (seen[m], day) for m, day in latest.items() if seen[m] != day}
    assert latest and not wrong
    for days in (30, 180):
        probed = set(session.scalars(select(Member.id).where(activity.inactive(TODAY, days))))
        kept = set(session.scalars(select(Member.id).where(or_(*activity.quiet(TODAY, days)))))
        assert probed == kept
