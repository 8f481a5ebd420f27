"""Relationship grades (关系等级): each level from its fact, moving when the fact arrives
(a second purchase day at the counter or in a till import, a lecture check-in, a
referral), staff setting 80/100 and clearing with a reason, the history and the change
log; referrals refused (self, unknown card, a circle); the points balance from the till."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.adherence.till_import import ImportRefused, import_csv
from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.lectures import lectures
from careplan.members import archive
from careplan.models import ChangeLog, GradeChange, Member
from careplan.value import grades
from careplan.vocab import GradeCause
from tests.careplan.test_lectures import START, new_lecture
from tests.factories import NOW, World, make_member

TODAY = NOW.date()  # 2024-03-01
HEADER = "card_number,product_code,product_name,quantity,purchased_on,store_code,amount"


def buy(world: World, member: Member, day: date) -> None:
    data = PurchaseIn(product_code="A70", product_name="阿仑膦酸钠片", quantity=1,
                      purchased_on=day, amount=Decimal("58.00"))  # fmt: skip
    record_purchase(world.session, world.actor(world.clerk_a), member.id, data, today=TODAY,
                    now=NOW)  # fmt: skip


def attend(world: World, member: Member) -> None:
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    seat = lectures.register(world.session, actor, lecture.id, member.id, now=NOW)
    lectures.check_in(world.session, actor, lecture.id, seat.id, now=START)


def refer(world: World, member: Member, referrer: Member) -> None:
    data = archive.MemberFields(referred_by_card=referrer.card_number)
    archive.update_member(world.session, world.actor(world.clerk_a), member.id, data, now=NOW)


def grade(world: World, member: Member) -> int:
    world.session.refresh(member)
    return member.relationship_grade


def history(world: World, member: Member) -> list[tuple[int, int, GradeCause]]:
    stmt = select(GradeChange).where(GradeChange.member_id == member.id).order_by(GradeChange.id)
    return [(c.from_grade, c.to_grade, c.cause) for c in world.session.scalars(stmt)]


def test_a_new_member_is_0_and_one_day_of_purchases_is_not_a_repurchase(world: World) -> None:
    member = make_member(world)
    buy(world, member, date(2024, 1, 10))
    buy(world, member, date(2024, 1, 10))
    assert grade(world, member) == 0 and history(world, member) == []


def test_a_second_purchase_day_at_the_counter_makes_20(world: World) -> None:
    member = make_member(world)
    buy(world, member, date(2024, 1, 10))
    buy(world, member, date(2024, 3, 1))
    assert grade(world, member) == 20
    assert history(world, member) == [(0, 20, GradeCause.repurchase)]
    facts = grades.grade_facts(world.session, world.actor(world.clerk_a), member.id)
    assert facts.purchase_days == (date(2024, 1, 10), date(2024, 3, 1))
    entry = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "relationship_grade")
    ).one()
    assert entry.entity_id == member.id and entry.actor_id == world.clerk_a.id
    assert entry.changes["relationship_grade"] == [0, 20]


def test_a_lecture_check_in_makes_40_and_a_referral_60(world: World) -> None:
    member, friend = make_member(world), make_member(world, name="李华")
    attend(world, member)
    assert grade(world, member) == 40
    refer(world, friend, member)
    assert grade(world, member) == 60
    assert grade(world, friend) == 0  # being referred is not bringing a friend
    assert history(world, member) == [(0, 40, GradeCause.lecture), (40, 60, GradeCause.referral)]
    facts = grades.grade_facts(world.session, world.actor(world.clerk_a), member.id)
    assert facts.referrals == 1 and facts.lecture is not None
    assert [m.id for m in archive.referred_by(world.session, member.id)] == [friend.id]


def test_the_grade_is_the_highest_level_whose_fact_holds(world: World) -> None:
    member, friend = make_member(world), make_member(world, name="李华")
    refer(world, friend, member)  # 60 without a repurchase or a lecture
    buy(world, member, date(2024, 1, 10))
    buy(world, member, date(2024, 2, 10))
    assert grade(world, member) == 60
    # The referral moved to another member: the grade falls to the next fact that holds.
    other = make_member(world, name="张三")
    refer(world, friend, other)
    assert (grade(world, member), grade(world, other)) == (20, 60)


def test_staff_set_80_or_100_with_a_reason_above_the_facts_and_clear_it(world: World) -> None:
    member = make_member(world)
    buy(world, member, date(2024, 1, 10))
    buy(world, member, date(2024, 2, 10))
    owner = world.actor(world.clerk_a)
    for reason in ("", "   "):
        with pytest.raises(InvalidInput) as refused:
            grades.set_grade(world.session, owner, member.id, 100, reason, now=NOW)
        assert refused.value.field == "reason"
    with pytest.raises(InvalidInput) as refused:
        grades.set_grade(world.session, owner, member.id, 60, "带朋友来", now=NOW)
    assert refused.value.field == "grade"
    assert grade(world, member) == 20
    grades.set_grade(world.session, owner, member.id, 100, "员工家属，常介绍朋友", now=NOW)
    assert grade(world, member) == 100
    facts = grades.grade_facts(world.session, owner, member.id)
    assert (facts.set_level, facts.set_reason, facts.set_by) == (
        100,
        "员工家属，常介绍朋友",
        "测试员工",
    )
    with pytest.raises(InvalidInput):
        grades.clear_grade(world.session, owner, member.id, " ", now=NOW)
    grades.clear_grade(world.session, owner, member.id, "已搬走", now=NOW)
    assert grade(world, member) == 20
    with pytest.raises(InvalidInput):
        grades.clear_grade(world.session, owner, member.id, "再清一次", now=NOW)
    changes = world.session.scalars(
        select(GradeChange).where(GradeChange.member_id == member.id).order_by(GradeChange.id)
    ).all()
    assert [(c.to_grade, c.cause, c.reason, c.by_id) for c in changes[1:]] == [
        (100, GradeCause.staff, "员工家属，常介绍朋友", world.clerk_a.id),
        (20, GradeCause.cleared, "已搬走", world.clerk_a.id),
    ]


def test_only_the_owner_a_manager_or_a_supervisor_sets_a_grade(world: World) -> None:
    member = make_member(world)  # owned by clerk_a
    with pytest.raises(Forbidden):
        grades.set_grade(world.session, world.actor(world.clerk_a2), member.id, 80, "成交", now=NOW)
    with pytest.raises(NotFound):  # another store's clerk does not even see the member
        grades.set_grade(world.session, world.actor(world.clerk_b), member.id, 80, "成交", now=NOW)
    assert grade(world, member) == 0
    grades.set_grade(world.session, world.actor(world.manager_a), member.id, 80, "成交", now=NOW)
    grades.set_grade(world.session, world.actor(world.supervisor), member.id, 100, "铁杆", now=NOW)
    assert grade(world, member) == 100


def test_a_referral_is_refused_for_self_an_unknown_card_or_a_circle(world: World) -> None:
    a, b, c = (make_member(world, name=n) for n in ("甲", "乙", "丙"))
    actor = world.actor(world.clerk_a)
    refer(world, b, a)  # a referred b
    refer(world, c, b)  # b referred c
    for member, card in ((a, a.card_number), (a, "NOPE-1"), (a, c.card_number)):
        with pytest.raises(InvalidInput) as refused:
            data = archive.MemberFields(referred_by_card=card)
            archive.update_member(world.session, actor, member.id, data, now=NOW)
        assert refused.value.field == "referred_by_card"
    world.session.refresh(a)
    assert a.referred_by_id is None


def test_a_referral_given_at_registration_moves_the_referrers_grade(world: World) -> None:
    referrer = make_member(world)
    data = archive.MemberCreate(card_number="R2024001", name="新会员",
                                referred_by_card=referrer.card_number)  # fmt: skip
    member = archive.create_member(world.session, world.actor(world.clerk_a), data, now=NOW)
    assert member.referred_by_id == referrer.id and grade(world, referrer) == 60


def run_import(world: World, text: str):  # type: ignore[no-untyped-def]
    return import_csv(
        world.session, world.actor(world.manager_a), text.encode(),
        file_name="till.csv", today=TODAY, now=NOW,
    )  # fmt: skip


def till_line(member: Member, day: date, *extra: str) -> str:
    return ",".join((member.card_number, "A70", "阿仑膦酸钠片", "1", str(day), "A001", "58.00",
                     *extra))  # fmt: skip


def test_a_till_import_moves_the_grades_of_the_members_it_touched(world: World) -> None:
    twice, once, counter = (make_member(world, name=n) for n in ("甲", "乙", "丙"))
    buy(world, counter, date(2024, 1, 5))  # bought at the counter; the file adds a 2nd day
    days = (date(2024, 1, 10), date(2024, 2, 10))
    lines = [till_line(twice, d) for d in days] + [till_line(once, days[0])]
    lines.append(till_line(counter, days[1]))
    run_import(world, "\n".join([HEADER, *lines]))
    assert [grade(world, m) for m in (twice, once, counter)] == [20, 0, 20]
    changes = world.session.scalars(select(GradeChange).order_by(GradeChange.member_id)).all()
    assert [(c.member_id, c.by_id) for c in changes] == [
        (twice.id, world.manager_a.id), (counter.id, world.manager_a.id)
    ]  # fmt: skip


def test_the_points_balance_comes_from_the_newest_till_line_that_carries_it(world: World) -> None:
    member, other = make_member(world), make_member(world, name="李华")
    header = HEADER + ",积分余额"
    lines = [
        till_line(member, date(2024, 3, 1), '"1,240"'),
        till_line(member, date(2024, 1, 10), "300"),  # older: not the balance
        till_line(other, date(2024, 1, 10), ""),  # no balance on this line
    ]
    run_import(world, "\n".join([header, *lines]))
    world.session.refresh(member)
    world.session.refresh(other)
    assert (member.points_balance, member.points_as_of) == (1240, date(2024, 3, 1))
    assert (other.points_balance, other.points_as_of) == (None, None)
    # An older file imported later does not overwrite a newer balance.
    run_import(world, "\n".join([header, till_line(member, date(2024, 2, 1), "500")]))
    world.session.refresh(member)
    assert member.points_balance == 1240


def test_a_bad_points_balance_refuses_the_file_and_no_column_changes_nothing(world: World) -> None:
    member = make_member(world)
    with pytest.raises(ImportRefused) as refused:
        run_import(world, "\n".join([HEADER + ",points", till_line(member, TODAY, "many")]))
    assert [p.field for p in refused.value.problems] == ["points_balance"]
    run_import(world, "\n".join([HEADER, till_line(member, TODAY - timedelta(days=3))]))
    world.session.refresh(member)
    assert member.points_balance is None


def test_search_filters_by_one_or_more_grades(world: World) -> None:
    a, b, c = (make_member(world, name=n) for n in ("王一", "王二", "王三"))
    refer(world, b, a)
    actor = world.actor(world.clerk_a)
    grades.set_grade(world.session, actor, c.id, 80, "成交", now=NOW)
    found = archive.search_members(world.session, actor, q="王", grades=[60, 80])
    assert {m.id for m in found} == {a.id, c.id}
    found = archive.search_members(world.session, actor, q="", grades=[0])
    assert {m.id for m in found} == {b.id}
