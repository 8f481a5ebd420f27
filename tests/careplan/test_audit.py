"""The audit's figures against a hand-built chain where every number is known.

Chain (as of D = 2024-03-20, period D-29..D):
  华东 · A001: clerk a1, clerk a2      华东 · B001: clerk b1      华北 · C001: clerk c1
Osteoporosis dates: overdue from due + 3 (grace 2), missed from due + 15 (expiry 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan import audit
from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.models import CarePlan, Checkpoint, Escalation, ProtocolVersion, Staff, Store
from careplan.vocab import CheckpointState, EscalationStatus, Role, StopReason
from tests.conftest import World, make_member, make_staff

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


def _report(chain: Chain, who: Staff, *, as_of: date = D, **scope: object) -> audit.Report:
    w = chain.world
    actor = w.actor(who)
    sc = audit.resolve_scope(w.session, actor, **scope)  # type: ignore[arg-type]
    return audit.report(w.session, actor, audit.make_query(sc, today=D, as_of=as_of))


def _rows(report: audit.Report) -> dict[object, audit.Figures]:
    return {r.key: r.figures for r in report.rows}


def test_chain_overview_counts_every_bucket_rate_and_escalation(chain: Chain) -> None:
    r = _report(chain, chain.world.supervisor)
    assert r.query.scope.level == "chain"
    rows = _rows(r)
    assert set(rows) == {"华东", "华北"}
    east, north = rows["华东"], rows["华北"]
    assert east.overdue == [1, 2, 2, 1, 2]
    assert north.overdue == [0, 1, 0, 0, 0]
    assert (east.missed, north.missed) == (2, 0)
    assert (east.due, east.done, east.on_time) == (9, 2, 1)
    assert (north.due, north.done, north.on_time) == (2, 1, 0)
    assert round(east.completion_rate or 0, 4) == round(2 / 9, 4)
    assert north.on_time_rate == 0
    assert (east.escalations, north.escalations) == (1, 1)
    assert r.total.overdue_total == 9
    assert r.escalation_ages == [1, 0, 0, 1, 0]
    assert [row.key for row in r.rows] == ["华东", "华北"]  # worst first


def test_by_protocol_and_step(chain: Chain) -> None:
    r = _report(chain, chain.world.supervisor)
    steps = {(s.protocol_id, s.key): s.overdue for s in r.by_step}
    assert steps == {
        ("osteoporosis", "medication_guidance"): [1, 0, 0, 0, 0],
        ("osteoporosis", "take_on_time"): [0, 3, 1, 0, 0],
        ("osteoporosis", "diet_guidance"): [0, 0, 1, 0, 0],
        ("osteoporosis", "fall_prevention"): [0, 0, 0, 1, 2],
    }
    week1 = next(s for s in r.by_step if s.key == "medication_guidance")
    assert week1.step_title is not None and week1.protocol_title is not None


def test_drill_down_region_store_staff_and_the_steps(chain: Chain) -> None:
    w = chain.world
    region = _report(chain, w.supervisor, region="华东")
    by_store = _rows(region)
    assert by_store[w.store_a.id].overdue == [1, 2, 2, 1, 1]
    assert by_store[w.store_b.id].overdue == [0, 0, 0, 0, 1]
    assert (by_store[w.store_b.id].missed, by_store[w.store_b.id].due) == (1, 0)
    store = _rows(_report(chain, w.supervisor, store_id=w.store_a.id))
    assert store[chain.a1.id].overdue == [1, 1, 1, 1, 1]
    assert store[chain.a2.id].overdue == [0, 1, 1, 0, 0]
    assert store[w.pharmacist_a.id].overdue_total == 0  # listed with nothing overdue
    actor = w.actor(w.supervisor)
    sc = audit.resolve_scope(w.session, actor, staff_id=chain.a1.id)
    q = audit.make_query(sc, today=D)
    steps = audit.list_steps(w.session, actor, q, audit.StepFilter(), limit=3, offset=0)
    assert [s.days_overdue for s in steps] == [40, 20, 14]  # oldest first
    assert steps[0].checkpoint_id == chain.ids["a1-40"]
    more = audit.list_steps(w.session, actor, q, audit.StepFilter(), limit=3, offset=3)
    assert [s.checkpoint_id for s in more] == [chain.ids["a1-5"], chain.ids["a1-3"]]
    assert audit.count_steps(w.session, actor, q, audit.StepFilter()) == 5
    bucket = audit.StepFilter(bucket="8-14")
    assert [s.days_overdue for s in audit.iter_steps(w.session, actor, q, bucket)] == [14]
    missed = list(audit.iter_steps(w.session, actor, q, audit.StepFilter(status="missed")))
    assert [(s.checkpoint_id, s.outcome) for s in missed] == [(chain.ids["a1-15"], "missed")]
    due = audit.iter_steps(w.session, actor, q, audit.StepFilter(status="due"))
    assert sorted(s.outcome for s in due) == ["done"] + ["not_done"] * 5


def test_as_of_an_earlier_day_counts_later_work_as_open_then(chain: Chain) -> None:
    north = _rows(_report(chain, chain.world.supervisor, as_of=ago(3)))["华北"]
    # c1's step done yesterday was 6 days overdue on D-3; the D-4 step was in its grace.
    assert north.overdue == [0, 1, 0, 0, 0]
    assert north.due == 1 and north.done == 0
    w = chain.world
    actor = w.actor(w.supervisor)
    q = audit.make_query(audit.resolve_scope(w.session, actor, staff_id=chain.c1.id), today=D)
    earlier = audit.make_query(q.scope, today=D, as_of=ago(3))
    steps = audit.list_steps(w.session, actor, earlier, audit.StepFilter(), limit=10, offset=0)
    assert [(s.checkpoint_id, s.days_overdue) for s in steps] == [(chain.ids["c1-done"], 6)]


def test_a_store_manager_sees_their_store_only(chain: Chain) -> None:
    w = chain.world
    mine = _report(chain, w.manager_a)
    assert mine.query.scope.level == "store" and mine.query.scope.store_id == w.store_a.id
    assert mine.total.overdue_total == 7
    with pytest.raises(NotFound):
        _report(chain, chain.manager_b, store_id=w.store_a.id)
    with pytest.raises(NotFound):
        _report(chain, chain.manager_b, staff_id=chain.a1.id)
    with pytest.raises(Forbidden):
        _report(chain, w.manager_a, region="华东")
    with pytest.raises(Forbidden):
        _report(chain, w.clerk_a)


def test_bad_queries_name_the_field(chain: Chain, session: Session) -> None:
    w = chain.world
    actor = w.actor(w.supervisor)
    sc = audit.resolve_scope(session, actor)
    with pytest.raises(InvalidInput) as e:
        audit.make_query(sc, today=D, as_of=D + timedelta(days=1))
    assert e.value.field == "as_of"
    with pytest.raises(InvalidInput) as e:
        audit.make_query(sc, today=D, period_from=D, period_to=ago(1))
    assert e.value.field == "period_from"
    with pytest.raises(InvalidInput) as e:
        audit.bucket_of("2-5")
    assert e.value.field == "bucket"
    with pytest.raises(NotFound) as nf:
        audit.resolve_scope(session, actor, region="火星")
    assert nf.value.field == "region"


def test_csv_lines_stream_every_row_with_a_bom() -> None:
    rows = [[i, f"王{i}", None] for i in range(5000)]
    chunks = list(audit.csv_lines(["id", "name", "x"], rows))
    assert len(chunks) > 1  # streamed in pieces, not built whole
    text = "".join(chunks)
    assert text.startswith("\ufeffid,name,x\r\n")
    assert text.count("\r\n") == 5001 and "4999,王4999,\r\n" in text
