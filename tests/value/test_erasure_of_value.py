"""An erasure blanks the words staff wrote about the member in member value too (the
reasons of their grade changes, their complaints' texts, in the records and in the change
log) and keeps the facts: dates, grades, causes, the complaint's state and satisfaction."""

from __future__ import annotations

import json

from sqlalchemy import select

from careplan.members import erasure
from careplan.models import ChangeLog, Complaint, GradeChange
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.trust.ledger import ERASED, verify_all
from careplan.value import complaints, grades
from careplan.value.complaints import ComplaintIn
from careplan.vocab import ComplaintState, GradeCause
from tests.factories import NOW, TODAY, World, make_member

WORDS = ("介绍了三位邻居入会", "收银员对王阿姨态度差", "在收银台", "店长当场向王阿姨致歉",
         "王阿姨说孙子在药店工作", "回访后王阿姨满意")  # fmt: skip


def _logged(world: World) -> str:
    rows = world.session.scalars(select(ChangeLog.changes)).all()
    return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)


def test_erasure_blanks_grade_reasons_and_complaint_texts_and_keeps_the_facts(world: World):
    member = make_member(world, name="王秀英")
    manager = world.actor(world.manager_a)
    grades.set_grade(world.session, manager, member.id, 80, WORDS[0], now=NOW)
    complaint = complaints.record(world.session, manager, ComplaintIn(
        what=WORDS[1], cause="service", severity="high", channel="in_person",
        member_id=member.id, place=WORDS[2], on_the_spot=WORDS[3]), now=NOW)  # fmt: skip
    step = complaints.path_of(world.session, manager, complaint.id).step
    assert step is not None
    record_result(world.session, world.actor(world.clerk_a), step.id, ResultIn(
        version=step.version, channel="phone", notes=WORDS[4]), today=TODAY, now=NOW)  # fmt: skip
    complaints.close(world.session, manager, complaint.id, satisfaction="satisfied",
                     note=WORDS[5], now=NOW)  # fmt: skip
    world.session.flush()
    assert all(w in _logged(world) for w in (WORDS[0], WORDS[1]))

    erasure.erase_member(world.session, manager, member.id, "request", now=NOW)
    world.session.expire_all()

    (change,) = world.session.scalars(select(GradeChange).where(GradeChange.member_id == member.id))
    assert change.reason == ""
    assert (change.from_grade, change.to_grade, change.cause) == (0, 80, GradeCause.staff)
    assert change.at is not None and change.by_id == world.manager_a.id
    c = world.session.get(Complaint, complaint.id)
    assert c is not None
    assert (c.what, c.place, c.on_the_spot, c.closing_note) == ("", "", "", "")
    assert c.member_id == member.id and c.received_on == TODAY and c.cause == "service"
    assert c.state is ComplaintState.closed and c.satisfaction == "satisfied"
    # The visit's words went with the member's step results (as for every step).
    assert complaints.visit_of(world.session, c).notes == ""  # type: ignore[union-attr]

    logged = _logged(world)
    for words in WORDS:
        assert words not in logged, words
    grade_entries = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == grades.ENTITY, ChangeLog.entity_id == member.id)
    ).all()
    assert grade_entries and all(ERASED in e.changes for e in grade_entries)
    assert any(e.changes.get("relationship_grade") == [0, 80] for e in grade_entries)  # a fact
    assert all(e.changes.get("reason") == [None, None] for e in grade_entries)
    assert all(v.broken is None for v in verify_all(world.session))
