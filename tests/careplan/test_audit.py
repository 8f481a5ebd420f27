"""The audit's figures against a hand-built chain where every number is known.

Chain (as of D = 2024-03-20, period D-29..D):
  华东 · A001: clerk a1, clerk a2      华东 · B001: clerk b1      华北 · C001: clerk c1
Osteoporosis dates: overdue from due + 3 (grace 2), missed from due + 15 (expiry 14).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy.orm import Session

from careplan import csv_export
from careplan.audit import audit
from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.models import Checkpoint, Staff
from tests.audit_chain import Chain, D, ago


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
    # In the protocol's order of steps, as a supervisor reads the protocol (not by count).
    assert [s.key for s in r.by_step] == [
        "medication_guidance", "take_on_time", "diet_guidance", "fall_prevention"
    ]  # fmt: skip
    first = r.by_step[0]
    assert first.step_title is not None and first.protocol_title is not None


def test_a_routine_contact_is_named_with_its_month_and_number(chain: Chain) -> None:
    """Two routine contacts never read as one step in the audit (issue 21)."""
    titles = audit.names(chain.world.session)
    one, two = (
        titles.step("post_purchase", "routine_01_1"),
        titles.step("post_purchase", "routine_02_1"),
    )
    assert one is not None and two is not None and one != two
    assert (one.month, one.number, two.month) == (1, 1, 2) and one.title == two.title


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
    let_go = w.session.get(Checkpoint, chain.ids["a1-15"])
    assert let_go is not None and missed[0].days_overdue == (D - let_go.due_on).days > 14
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
    with pytest.raises(InvalidInput) as e:  # a period running past the as-of day
        audit.make_query(sc, today=D, as_of=ago(7), period_to=ago(1))
    assert e.value.field == "period_to"
    with pytest.raises(InvalidInput) as e:
        audit.bucket_of("2-5")
    assert e.value.field == "bucket"
    with pytest.raises(NotFound) as nf:
        audit.resolve_scope(session, actor, region="火星")
    assert nf.value.field == "region"


def test_csv_lines_stream_every_row_with_a_bom() -> None:
    rows = [[i, f"王{i}", None] for i in range(5000)]
    chunks = list(csv_export.csv_lines(["id", "name", "x"], rows))
    assert len(chunks) > 1  # streamed in pieces, not built whole
    text = "".join(chunks)
    assert text.startswith("\ufeffid,name,x\r\n")
    assert text.count("\r\n") == 5001 and "4999,王4999,\r\n" in text
