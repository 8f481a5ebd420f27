"""The clerk's month: every figure on hand-built data whose answer is known, and who
sees whose row. April 2024, looked at on 15 May 2024 (Shanghai, UTC+8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from careplan.config import get_settings
from careplan.errors import InvalidInput, NotFound
from careplan.members import archive
from careplan.members.archive import MemberCreate
from careplan.models import (
    Complaint,
    Lecture,
    LectureSeat,
    Member,
    Purchase,
    PurchaseImport,
    Staff,
)
from careplan.value import staff_month
from careplan.value.staff_month import Figures, month_table, parse_month, split, trend
from careplan.vocab import (
    CheckpointState,
    ComplaintCause,
    ComplaintChannel,
    ComplaintSeverity,
    SeatStatus,
)
from tests.factories import NOW, World, enrolled_steps, make_staff

TODAY = date(2024, 5, 15)
APRIL = parse_month("2024-04", today=TODAY)
_cards = iter(range(500000, 599999))


def at(day: date, hour: int = 10) -> datetime:
    """`hour` o'clock in Shanghai on `day`, as UTC."""
    return datetime(day.year, day.month, day.day, hour - 8, tzinfo=UTC)


def register(world: World, owner: Staff, when: datetime, *, by: Staff | None = None) -> Member:
    member = archive.create_member(
        world.session,
        world.actor(by or owner),
        MemberCreate(
            card_number=f"S{next(_cards)}", name="王秀英", owner_id=owner.id, health_consent=True
        ),
        now=when,
    )
    member.created_at = when
    world.session.flush()
    return member


def buy(world: World, member: Member, day: date, amount: str, seller: Staff | None) -> None:
    imported = None
    if seller is None:
        till = PurchaseImport(
            file_name="till.csv", sha256="0" * 64, encoding="utf-8", lines=1, added=1,
            already_there=0, imported_by_id=world.manager_a.id, imported_at=NOW,
        )  # fmt: skip
        world.session.add(till)
        world.session.flush()
        imported = till.id
    world.session.add(
        Purchase(
            member_id=member.id, store_id=world.store_a.id, product_code="P1",
            product_name="钙片", quantity=1, purchased_on=day, amount=Decimal(amount),
            recorded_by_id=seller.id if seller else None, import_id=imported, recorded_at=NOW,
        )
    )  # fmt: skip
    world.session.flush()


def rows(world: World, viewer: Staff, **kw) -> dict[int, Figures]:
    table = month_table(world.session, world.actor(viewer), APRIL, today=TODAY, **kw)
    return {r.staff_id: r.figures for r in table.rows}


@pytest.fixture
def share_half(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("CAREPLAN_OWNER_SALES_SHARE", "0.5")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_month_is_asked_for_as_year_and_month():
    assert (APRIL.first, APRIL.last, APRIL.key) == (date(2024, 4, 1), date(2024, 4, 30), "2024-04")
    assert parse_month("", today=TODAY).key == "2024-05"
    assert APRIL.back(4).key == "2023-12"
    # The month ends at Shanghai's midnight: 16:00 UTC on 30 April.
    assert APRIL.end_at == datetime(2024, 4, 30, 16, tzinfo=UTC)
    for bad in ("2024-13", "April", "2024-4", "2024-06"):
        with pytest.raises(InvalidInput) as caught:
            parse_month(bad, today=TODAY)
        assert caught.value.field == "month"


def test_owned_at_the_months_end_follows_a_hand_over_and_not_a_cover(world: World):
    a, a2, ph, m = world.clerk_a, world.clerk_a2, world.pharmacist_a, world.actor(world.manager_a)
    kept = register(world, a, at(date(2024, 1, 5)))
    handed = register(world, a, at(date(2024, 1, 5)))
    lent = register(world, ph, at(date(2024, 1, 5)))
    archive.reassign_members(world.session, m, [handed.id], a2.id, now=at(date(2024, 4, 15)))
    # The pharmacist is on holiday from 20 April to 10 May: the clerk covers.
    archive.reassign_all(
        world.session, m, ph.id, a2.id, staff_left=False, now=at(date(2024, 4, 20)),
        until=date(2024, 5, 10),
    )  # fmt: skip
    figures = rows(world, world.manager_a)
    assert (figures[a.id].owned, figures[a2.id].owned, figures[ph.id].owned) == (1, 1, 1)
    march = month_table(world.session, m, APRIL.back(1), today=TODAY)
    assert {r.staff_id: r.figures.owned for r in march.rows}[a.id] == 2
    assert kept.owner_id == a.id and lent.owner_id == a2.id


def test_new_members_belong_to_whoever_they_were_registered_for(world: World):
    a, a2 = world.clerk_a, world.clerk_a2
    register(world, a, at(date(2024, 4, 3)))
    register(
        world,
        a2,
        at(
            date(
                2024,
                4,
                30,
            ),
            23,
        ),
        by=world.manager_a,
    )  # 23:00 local: April
    register(world, a, at(date(2024, 5, 1), 8))  # 08:00 local on 1 May: not April
    register(world, a, at(date(2024, 3, 31), 12))
    figures = rows(world, world.manager_a)
    assert (figures[a.id].registered, figures[a2.id].registered) == (1, 1)
    assert figures[world.manager_a.id].registered == 0  # a manager typing it in is not its owner


def test_steps_on_time_are_the_audits_steps_due_in_the_month(world: World):
    member = register(world, world.clerk_a, at(date(2024, 3, 1)))
    steps = list(enrolled_steps(world, member, start=date(2024, 3, 1)).values())
    plan = [  # (due, state, late): the grace is three days
        (date(2024, 4, 3), CheckpointState.done, False),
        (date(2024, 4, 10), CheckpointState.done, True),  # a late step
        (date(2024, 4, 20), CheckpointState.pending, False),  # overdue, never done
        (date(2024, 3, 30), CheckpointState.done, False),  # due in March
    ]
    for cp, (due, state, late) in zip(steps, plan, strict=False):
        cp.due_on, cp.overdue_on, cp.missed_on, cp.state, cp.late = (
            due, due + timedelta(days=4), None, state, late)  # fmt: skip
        cp.completed_on = due + timedelta(days=6 if late else 1) if state.value == "done" else None
    for cp in steps[len(plan) :]:
        cp.due_on, cp.overdue_on, cp.missed_on = date(2024, 7, 1), date(2024, 7, 5), None
    world.session.flush()
    f = rows(world, world.manager_a)[world.clerk_a.id]
    assert (f.due, f.on_time, f.on_time_rate) == (3, 1, 1 / 3)


def test_sales_are_credited_70_30_between_owner_and_seller(world: World):
    a, a2 = world.clerk_a, world.clerk_a2
    member = register(world, a, at(date(2024, 1, 5)))
    buy(world, member, date(2024, 4, 2), "100.00", a2)  # a2 sold a's member: 70 / 30
    buy(world, member, date(2024, 4, 3), "10.00", None)  # the till's line: all a's
    buy(world, member, date(2024, 4, 4), "20.00", a)  # the owner sold it: all a's
    # Handed over on 15 April at 10:00: that day's sale is the new owner's.
    archive.reassign_members(world.session, world.actor(world.manager_a), [member.id], a2.id,
                             now=at(date(2024, 4, 15)))  # fmt: skip
    buy(world, member, date(2024, 4, 15), "50.00", a)  # a sold a2's member now: 35 / 15
    buy(world, member, date(2024, 5, 1), "999.00", a)  # May
    figures = rows(world, world.manager_a)
    assert figures[a.id].sales == Decimal("115.00")  # 70 + 10 + 20 + 15
    assert figures[a2.id].sales == Decimal("65.00")  # 30 + 35
    assert figures[a.id].store_sales == Decimal("180.00")
    assert figures[a.id].sales_share == pytest.approx(115 / 180)
    table = month_table(world.session, world.actor(world.manager_a), APRIL, today=TODAY)
    assert (table.total.sales, table.total.sales_share) == (Decimal("180.00"), 1.0)
    # A clerk sees their own row only, and their share of the whole store's sales.
    own = rows(world, a2)[a2.id]
    assert (own.sales, own.sales_share) == (Decimal("65.00"), pytest.approx(65 / 180))


def test_the_owners_part_is_a_setting(world: World, share_half: None):
    a, a2 = world.clerk_a, world.clerk_a2
    member = register(world, a, at(date(2024, 1, 5)))
    buy(world, member, date(2024, 4, 2), "100.00", a2)
    figures = rows(world, world.manager_a)
    assert (figures[a.id].sales, figures[a2.id].sales) == (Decimal("50.00"), Decimal("50.00"))
    assert split(Decimal(10), 1, None, Decimal("0.5")) == [(1, Decimal(10))]


def test_a_cover_keeps_the_owners_credit(world: World):
    ph, a2 = world.pharmacist_a, world.clerk_a2
    member = register(world, ph, at(date(2024, 1, 5)))
    archive.reassign_all(
        world.session, world.actor(world.manager_a), ph.id, a2.id, staff_left=False,
        now=at(date(2024, 4, 1)), until=date(2024, 4, 20),
    )  # fmt: skip
    buy(world, member, date(2024, 4, 10), "100.00", a2)  # the coverer sold it
    figures = rows(world, world.manager_a)
    assert (figures[ph.id].sales, figures[a2.id].sales) == (Decimal("70.00"), Decimal("30.00"))


def test_bought_again_within_90_days_of_the_first_purchase_in_the_month(world: World):
    a = world.clerk_a
    back, late, same_day, march_only = (register(world, a, at(date(2024, 1, 5))) for _ in range(4))
    buy(world, back, date(2024, 4, 5), "1.00", a)
    buy(world, back, date(2024, 7, 4), "1.00", a)  # day 90: back
    buy(world, late, date(2024, 4, 5), "1.00", a)
    buy(world, late, date(2024, 7, 5), "1.00", a)  # day 91: too late
    buy(world, same_day, date(2024, 4, 9), "1.00", a)
    buy(world, same_day, date(2024, 4, 9), "2.00", a)  # the same day is one visit
    buy(world, march_only, date(2024, 3, 9), "1.00", a)
    f = rows(world, world.manager_a)[a.id]
    assert (f.buyers, f.returned, f.return_rate) == (3, 1, 1 / 3)


def test_members_lost_are_the_long_inactive_at_the_months_end(world: World):
    a = world.clerk_a
    quiet, buyer = (
        register(world, a, at(date(2023, 1, 5))),
        register(world, a, at(date(2023, 1, 5))),
    )
    register(world, a, at(date(2024, 2, 1)))  # joined inside the 180 days: not lost
    buy(world, buyer, date(2024, 1, 20), "1.00", a)
    assert rows(world, world.manager_a)[a.id].lost == 1
    assert quiet.id != buyer.id


def test_complaints_and_lecture_attendance_of_the_month(world: World):
    a, a2 = world.clerk_a, world.clerk_a2
    member = register(world, a, at(date(2024, 1, 5)))
    for day, about in [(date(2024, 4, 3), a), (date(2024, 3, 31), a), (date(2024, 4, 9), a2)]:
        world.session.add(
            Complaint(
                store_id=world.store_a.id, member_id=member.id, received_on=day, what="态度",
                cause=next(iter(ComplaintCause)), severity=next(iter(ComplaintSeverity)),
                channel=next(iter(ComplaintChannel)), about_staff_id=about.id,
                recorded_by_id=world.manager_a.id, recorded_at=NOW,
            )
        )  # fmt: skip
    for day in (date(2024, 4, 12), date(2024, 5, 2)):
        lecture = Lecture(
            title_zh="骨质疏松讲座", title_en="", topic="other", store_id=world.store_a.id,
            starts_at=at(day, 14), ends_at=at(day, 15), capacity=10, register_by=at(day, 9),
            created_by_id=world.manager_a.id,
        )  # fmt: skip
        world.session.add(lecture)
        world.session.flush()
        world.session.add(
            LectureSeat(
                lecture_id=lecture.id, member_id=member.id, status=SeatStatus.registered,
                registered_by_id=a.id, queued_at=NOW, checked_in_at=at(day, 14),
            )
        )  # fmt: skip
    world.session.flush()
    figures = rows(world, world.manager_a)
    assert (figures[a.id].complaints, figures[a2.id].complaints) == (1, 1)
    assert (figures[a.id].attended, figures[a2.id].attended) == (1, 0)


def test_a_clerk_sees_their_own_row_a_manager_their_store_a_supervisor_any(world: World):
    b_clerk2 = make_staff(world.session, username="clerk.b2", role=world.clerk_b.role,
                          store=world.store_b)  # fmt: skip
    store_a = {world.clerk_a.id, world.clerk_a2.id, world.pharmacist_a.id, world.manager_a.id}
    assert set(rows(world, world.clerk_a)) == {world.clerk_a.id}
    # A clerk asking for another store still sees only themselves.
    assert set(rows(world, world.clerk_b, store_id=world.store_a.id)) == {world.clerk_b.id}
    assert set(rows(world, world.manager_a)) == store_a
    assert set(rows(world, world.manager_a, store_id=world.store_b.id)) == store_a
    assert set(rows(world, world.supervisor, store_id=world.store_b.id)) == {
        world.clerk_b.id, b_clerk2.id}  # fmt: skip
    assert set(rows(world, world.supervisor, region="华东")) == store_a | {
        world.clerk_b.id, b_clerk2.id}  # fmt: skip
    with pytest.raises(NotFound):
        rows(world, world.supervisor, region="西北")
    with pytest.raises(NotFound):
        trend(world.session, world.actor(world.clerk_a), world.clerk_a2.id, APRIL, today=TODAY)
    with pytest.raises(NotFound):
        trend(world.session, world.actor(world.manager_a), world.clerk_b.id, APRIL, today=TODAY)


def test_the_trend_is_twelve_months_up_to_the_one_asked_for(world: World):
    a = world.clerk_a
    member = register(world, a, at(date(2023, 12, 5)))
    buy(world, member, date(2024, 2, 2), "30.00", a)
    months = trend(world.session, world.actor(a), a.id, APRIL, today=TODAY)
    assert [m.key for m, _ in months][::11] == ["2023-05", "2024-04"]
    owned = [f.owned for _, f in months]
    assert owned == [0] * 7 + [1] * 5
    assert [f.sales for m, f in months if m.key == "2024-02"] == [Decimal("30.00")]
    assert len(months) == staff_month.TREND_MONTHS
