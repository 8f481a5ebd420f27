"""Erasure: a member's personal data is anonymised irreversibly (on request or when
retention ends) while the audit's figures and lecture attendance stay as they were."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from careplan.audit import audit
from careplan.errors import Conflict, Forbidden
from careplan.lectures import lectures
from careplan.members import erasure
from careplan.members.consent import withdraw_health_consent
from careplan.members.health_records import HealthCheckIn, record_health_check
from careplan.models import CarePlan, ChangeLog, Checkpoint, Erasure, HealthCheck, Member
from careplan.trust.ledger import ERASED, verify_all
from careplan.vocab import PlanStatus
from tests.audit_chain import Chain, D, ago
from tests.careplan.test_lectures import START, new_lecture
from tests.factories import NOW, World, enrolled_steps, make_member, record_bone_density

NAME, MOBILE, ALLERGY, NOTE = "欧阳淑芬", "13912345678", "磺胺类过敏", "淑芬说膝盖疼得厉害"


def _figures(chain: Chain) -> list[object]:
    """Every audit figure the supervisor sees: chain, each store, several days."""
    w = chain.world
    actor = w.actor(w.supervisor)
    seen: list[object] = []
    for as_of in (D, ago(10), ago(20)):
        for scope in ({}, {"store_id": w.store_a.id}):
            sc = audit.resolve_scope(w.session, actor, **scope)  # type: ignore[arg-type]
            r = audit.report(w.session, actor, audit.make_query(sc, today=D, as_of=as_of))
            seen.append([(row.key, row.figures) for row in r.rows] + [r.total])
    return seen


def _a_member_with_a_history(world: World) -> Member:
    member = make_member(world, name=NAME, mobile=MOBILE, allergies=(ALLERGY,))
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))
    record_bone_density(world, steps["medication_guidance"], world.pharmacist_a, now=NOW,
                        t_score=-2.7)  # fmt: skip
    reading = HealthCheckIn(kind="bone_density", values={"t_score": -2.5}, note=NOTE)
    record_health_check(world.session, world.actor(world.pharmacist_a), member.id, reading, now=NOW)
    return member


def _all_text(world: World) -> str:
    """Every value of every row of every table, as text."""
    s = world.session
    s.flush()
    names = [t.name for t in Member.metadata.sorted_tables]
    return "\n".join(
        "\t".join(map(str, row))
        for name in names
        for row in s.execute(text(f"SELECT * FROM {name}"))
    )


def test_erasure_leaves_no_personal_field_and_no_audit_figure_moves(chain: Chain):
    w = chain.world
    member = _a_member_with_a_history(w)
    withdraw_health_consent(w.session, w.actor(w.pharmacist_a), member.id, now=NOW)
    # A member of the audit chain with overdue, then missed steps: their plan is over.
    step = w.session.get(Checkpoint, chain.ids["a1-15"])
    assert step is not None
    w.session.get(CarePlan, step.plan_id).status = PlanStatus.completed  # type: ignore[union-attr]
    chained = w.session.get(CarePlan, step.plan_id).member_id  # type: ignore[union-attr]
    lecture = new_lecture(w, capacity=5)
    seat = lectures.register(w.session, w.actor(w.clerk_a), lecture.id, chained, now=NOW)
    lectures.check_in(w.session, w.actor(w.clerk_a), lecture.id, seat.id, now=START)
    attended = lectures.attendance(w.session, w.actor(w.supervisor), until=START + timedelta(1))
    w.session.flush()
    before = _figures(chain)
    everything = _all_text(w)
    assert all(p in everything for p in (NAME, MOBILE, NOTE))
    assert ALLERGY in everything or json.dumps(ALLERGY)[1:-1] in everything

    manager = w.actor(w.manager_a)
    for who in (member.id, chained):
        erasure.erase_member(w.session, manager, who, "request", now=NOW)

    assert _figures(chain) == before
    assert (
        lectures.attendance(w.session, w.actor(w.supervisor), until=START + timedelta(1))
        == attended
    )
    everything = _all_text(w)
    for personal in (NAME, MOBILE, ALLERGY, NOTE):
        # JSON columns may keep text escaped (\\uXXXX): look for both spellings.
        assert personal not in everything, personal
        assert json.dumps(personal)[1:-1] not in everything, personal
    w.session.refresh(member)
    for column in Member.__table__.columns:
        if column.key not in erasure.KEPT | {"name", "card_number", "erased_at"}:
            assert getattr(member, column.key) in (None, [], "", False), column.key
    assert (member.name, member.card_number) == (erasure.ERASED_NAME, f"erased-{member.id}")
    # The reading's number stays (anonymous): counts of readings do not change.
    kept = w.session.scalars(select(HealthCheck).where(HealthCheck.member_id == member.id)).all()
    assert len(kept) == 2 and {h.note for h in kept} == {""}
    # The logs keep every entry; the erased ones still verify, counted as erased.
    blanked = w.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "member", ChangeLog.entity_id == member.id)
    ).all()
    assert all(ERASED in e.changes or e.action == "erase" for e in blanked)
    checked = verify_all(w.session)
    assert all(v.broken is None for v in checked) and checked[0].erased > 0
    record = w.session.scalars(select(Erasure).where(Erasure.member_id == member.id)).one()
    assert (record.by_id, record.reason) == (w.manager_a.id, "request")
    assert record.log_entries == checked[0].erased - w.session.scalars(
        select(Erasure.log_entries).where(Erasure.member_id == chained)).one()  # fmt: skip


def test_a_member_with_a_live_plan_or_already_erased_is_refused(world: World):
    member = make_member(world)
    enrolled_steps(world, member, start=date(2024, 2, 20))
    manager = world.actor(world.manager_a)
    with pytest.raises(Conflict, match="live plan") as refused:
        erasure.erase_member(world.session, manager, member.id, "request", now=NOW)
    assert refused.value.field == "plans"
    assert world.session.scalar(select(Erasure.id)) is None
    withdraw_health_consent(world.session, manager, member.id, now=NOW)
    with pytest.raises(Forbidden):
        erasure.erase_member(
            world.session, world.actor(world.clerk_a), member.id, "request", now=NOW
        )
    erasure.erase_member(world.session, manager, member.id, "request", now=NOW)
    with pytest.raises(Conflict, match="already erased"):
        erasure.erase_member(world.session, manager, member.id, "request", now=NOW)
    # Nothing new is recorded for an erased member.
    reading = HealthCheckIn(kind="bone_density", values={"t_score": -2.0})
    with pytest.raises(Conflict, match="erased") as refused:
        record_health_check(world.session, manager, member.id, reading, now=NOW)
    assert refused.value.field == "member"


def test_the_database_lets_a_log_entry_be_blanked_only_for_a_recorded_erasure(world: World):
    member = make_member(world)
    entry = world.session.scalars(select(ChangeLog).where(ChangeLog.entity_id == member.id)).first()
    assert entry is not None
    s = world.session
    forged = '{"name": [null, null], "erased": 999}'
    for statement in (
        "UPDATE change_log SET changes = :c WHERE id = :id",  # no such erasure
        "UPDATE change_log SET actor_id = NULL WHERE id = :id",  # a sealed column
    ):
        nested = s.begin_nested()
        with pytest.raises(Exception, match="append-only"):
            s.execute(text(statement), {"c": forged, "id": entry.id})
        nested.rollback()


def test_retention_erases_members_untouched_for_three_years(world: World):
    old = make_member(world, name="旧会员")
    recent = make_member(world, name="新会员")
    s = world.session
    long_ago = datetime(2020, 1, 5, tzinfo=NOW.tzinfo)
    s.execute(
        text("UPDATE members SET updated_at = :t WHERE id = :id"), {"t": long_ago, "id": old.id}
    )
    today = date(2024, 3, 1)
    assert erasure.due_for_erasure(s, today=today) == [old.id]
    done = erasure.erase_due(s, world.actor(world.supervisor), now=NOW, today=today)
    assert [e.member_id for e in done] == [old.id]
    s.refresh(old)
    s.refresh(recent)
    assert old.erased_at is not None and recent.name == "新会员"
    assert erasure.due_for_erasure(s, today=today) == []
