"""The value snapshot: spend, visits and returns per member and period, from purchases."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careplan.models import MemberValue, Purchase, ValueSnapshot
from careplan.value import snapshot
from careplan.vocab import ValuePeriod
from tests.factories import NOW, World, make_member

AS_OF = date(2024, 6, 30)


def buy(world: World, member_id: int, day: date, amount: str) -> None:
    world.session.add(
        Purchase(
            member_id=member_id, store_id=world.store_a.id, product_code="P1",
            product_name="钙片", quantity=1, purchased_on=day, amount=Decimal(amount),
            recorded_by_id=world.clerk_a.id, recorded_at=NOW,
        )
    )  # fmt: skip


def test_periods_end_on_the_snapshot_day():
    assert snapshot.period_bounds(ValuePeriod.last_12_months, AS_OF) == (date(2023, 7, 1), AS_OF)
    assert snapshot.period_bounds(ValuePeriod.last_3_months, AS_OF) == (date(2024, 3, 31), AS_OF)
    assert snapshot.period_bounds(ValuePeriod.last_3_months, date(2024, 5, 31)) == (
        date(2024, 3, 1), date(2024, 5, 31))  # fmt: skip
    assert snapshot.period_bounds(ValuePeriod.year_to_date, AS_OF) == (date(2024, 1, 1), AS_OF)
    assert snapshot.period_bounds(ValuePeriod.last_year, AS_OF) == (
        date(2023, 1, 1), date(2023, 12, 31))  # fmt: skip


def test_a_snapshot_sums_days_and_knows_who_came_back(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    back, once = make_member(world), make_member(world, name="李强")
    for day, amount in [(date(2024, 1, 10), "100.00"), (date(2024, 1, 10), "20.50"),
                        (date(2024, 3, 1), "50.00"), (date(2023, 5, 2), "9.00")]:  # fmt: skip
        buy(world, back.id, day, amount)
    buy(world, once.id, date(2024, 6, 1), "300.00")
    session.commit()
    first = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    second = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    rows = {
        (r.member_id, r.period): r
        for r in session.scalars(select(MemberValue).where(MemberValue.snapshot_id == second))
    }
    ytd = rows[(back.id, ValuePeriod.year_to_date)]
    assert (ytd.spend, ytd.visits, ytd.first_on, ytd.last_on, ytd.returned) == (
        Decimal("170.50"), 2, date(2024, 1, 10), date(2024, 3, 1), True)  # fmt: skip
    assert rows[(once.id, ValuePeriod.year_to_date)].returned is False
    last_year = rows[(back.id, ValuePeriod.last_year)]
    assert (last_year.spend, last_year.visits) == (Decimal("9.00"), 1)
    assert (once.id, ValuePeriod.last_year) not in rows  # no purchase then: no row
    assert snapshot.current(session).id == second  # type: ignore[union-attr]
    # The one before stays (a page may be reading it) until the next one.
    assert session.get(ValueSnapshot, first) is not None
    third = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    session.expire_all()
    assert session.get(ValueSnapshot, first) is None
    assert session.scalar(select(ValueSnapshot.members).where(ValueSnapshot.id == third)) == 2


def test_inactive_members_bought_nothing_and_were_not_reached(world: World, session: Session):
    from careplan.models import Member
    from careplan.value.activity import inactive

    quiet, buyer, new = make_member(world), make_member(world, name="李强"), make_member(world)
    buy(world, buyer.id, date(2024, 5, 1), "10.00")
    new.created_at = NOW.replace(year=2024, month=6)  # joined inside the window
    quiet.created_at = buyer.created_at = NOW.replace(year=2023)
    session.flush()
    found = set(session.scalars(select(Member.id).where(inactive(AS_OF, 180))))
    assert found == {quiet.id}
    assert buyer.id in set(
        session.scalars(select(Member.id).where(inactive(date(2025, 1, 1), 180)))
    )
