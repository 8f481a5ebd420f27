"""Risk first: the overdue list calls the riskiest members first, with their reasons."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from careplan.adherence import risk
from careplan.members.health_records import HealthCheckIn, record_health_check
from careplan.models import Member, Purchase
from careplan.plans import worklist
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.vocab import RiskReason
from tests.careplan.test_plans import START, enroll, steps
from tests.factories import NOW, World, make_member

TODAY = START + timedelta(days=10)  # medication_guidance overdue since START+9
R = RiskReason


def reading(world: World, member: Member, kind: str, days_ago: int, **values: float) -> None:
    at = datetime.combine(TODAY, datetime.min.time(), NOW.tzinfo) - timedelta(days=days_ago)
    data = HealthCheckIn(kind=kind, values=values, measured_at=at)
    now = datetime.combine(TODAY, datetime.min.time(), NOW.tzinfo)
    record_health_check(world.session, world.actor(world.clerk_a), member.id, data, now=now)


def overdue_member(world: World, name: str, start_days_earlier: int = 0) -> Member:
    member = make_member(world, name=name)
    enroll(world, member.id, start=START - timedelta(days=start_days_earlier))
    return member


def test_the_overdue_list_puts_more_reasons_first_then_more_days(world: World):
    overdue_member(world, "甲无风险", start_days_earlier=3)  # 3 more days overdue
    pressure = overdue_member(world, "乙血压")
    reading(world, pressure, "blood_pressure", 30, systolic=150, diastolic=90)
    reading(world, pressure, "blood_pressure", 2, systolic=182, diastolic=95)  # the last one
    calmed = overdue_member(world, "丙血压已降")
    reading(world, calmed, "blood_pressure", 30, systolic=185, diastolic=112)
    reading(world, calmed, "blood_pressure", 1, systolic=130, diastolic=80)
    sugar = overdue_member(world, "丁血糖")
    reading(world, sugar, "fasting_glucose", 5, value=14.2)
    diastolic = overdue_member(world, "戊舒张压")
    reading(world, diastolic, "blood_pressure", 3, systolic=150, diastolic=110)
    low = overdue_member(world, "己覆盖低")
    world.session.add(
        Purchase(
            member_id=low.id,
            store_id=low.home_store_id,
            product_code="A70",
            product_name="阿仑膦酸钠片",
            drug_class="bisphosphonates",
            quantity=1,
            days_supply=28,
            purchased_on=TODAY - timedelta(days=100),
            amount=Decimal("58.00"),
            recorded_by_id=world.clerk_a.id,
            recorded_at=NOW,
        )
    )
    reading(world, low, "fasting_glucose", 1, value=15.0)
    stopped = make_member(world, name="庚停服")
    plan = enroll(world, stopped.id)
    later = steps(world, plan)["take_on_time"]
    record_result(
        world.session, world.actor(world.clerk_a), later.id,
        ResultIn(version=later.version, channel="phone", adherence="stopped",
                 stop_reason="side_effects", contacted_on=START + timedelta(days=8)),
        today=TODAY, now=NOW,
    )  # fmt: skip

    q = worklist.WorklistQuery(staff_id=world.clerk_a.id, tab="overdue")
    wl = worklist.build(world.session, world.actor(world.clerk_a), q, today=TODAY)
    ranked = risk.risk_first(world.session, wl.items, TODAY)
    got = [(i.member.name, i.risks) for i in ranked]
    assert got[0] == ("己覆盖低", (R.glucose, R.low_pdc))
    singles = {name: reasons for name, reasons in got[1:5]}
    assert singles == {
        "乙血压": (R.blood_pressure,),
        "丁血糖": (R.glucose,),
        "戊舒张压": (R.blood_pressure,),
        "庚停服": (R.stopped_medication,),
    }
    # Without a reason, more days overdue first; a reading back in range is no reason.
    assert got[5:] == [("甲无风险", ()), ("丙血压已降", ())]
    assert ranked[5].days_overdue > ranked[6].days_overdue


def test_members_without_consent_have_no_readings_read(world: World):
    member = overdue_member(world, "辛")
    reading(world, member, "blood_pressure", 1, systolic=200, diastolic=120)
    assert risk.member_risks(world.session, [member], TODAY) == {member.id: (R.blood_pressure,)}
    member.health_consent = False
    assert risk.member_risks(world.session, [member], TODAY) == {}


def test_the_risk_takes_a_few_queries_whatever_the_rows(world: World):
    members = [overdue_member(world, f"会员{n}") for n in range(12)]
    for m in members:
        reading(world, m, "blood_pressure", 1, systolic=181, diastolic=80)
    world.session.flush()
    statements: list[str] = []
    from sqlalchemy import event

    engine = world.session.get_bind()

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        found = risk.member_risks(world.session, members, TODAY)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(found) == 12
    assert len(statements) <= 6, statements
