"""The member analysis on hand-built members: counts and shares by each dimension (consent
respected, empty values, top N + other), the overview from the snapshot, new members per
month, the long-inactive list, and who sees which scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor, may_see_phones_in_member_lists
from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.errors import Forbidden, NotFound
from careplan.models import Member, ValueSnapshot
from careplan.plans.outcomes import AttemptIn, record_attempt
from careplan.value import analysis, snapshot
from careplan.value.analysis import Dimension, Scope
from careplan.vocab import Sex, ValuePeriod
from tests.factories import NOW, World, enrolled_steps, make_member

AS_OF = date(2024, 6, 30)
CHAIN = Scope()


def member(world: World, *, store_b: bool = False, consent: bool = True, **archive) -> Member:
    m = make_member(world, owner=world.clerk_b if store_b else world.clerk_a, consent=consent,
                    allergies=())  # fmt: skip
    for key, value in archive.items():
        setattr(m, key, value)
    world.session.flush()
    return m


def buy(world: World, m: Member, day: date, amount: str = "10.00") -> None:
    """A purchase as the member page records one (it keeps the last sign of life)."""
    line = PurchaseIn(product_code="P1", product_name="钙片", quantity=1, purchased_on=day,
                      amount=Decimal(amount))  # fmt: skip
    record_purchase(world.session, world.actor(world.supervisor), m.id, line, today=AS_OF, now=NOW)
    world.session.flush()


def counted(session: Session, factory: sessionmaker[Session]) -> None:
    """What the nightly job does: the value snapshot, then the counts per store."""
    session.commit()
    snapshot.refresh(factory, as_of=AS_OF, now=NOW)
    analysis.refresh_tallies(factory, now=NOW)


def breakdown(session: Session, scope: Scope, dimension: Dimension, **kw) -> analysis.Breakdown:
    b = analysis.breakdown(session, scope, dimension, **kw)
    assert b is not None and b.as_of == AS_OF
    return b


def rows(b: analysis.Breakdown) -> list[tuple[str, str, int]]:
    return [(r.kind, r.value, r.members) for r in b.rows]


def test_sex_and_empty_values_with_shares(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    member(world, sex=Sex.female)
    member(world, sex=Sex.female)
    member(world, sex=Sex.male)
    member(world)  # not filled in
    member(world, sex=Sex.male, store_b=True)
    gone = member(world, sex=Sex.male)
    gone.died_on = date(2024, 1, 1)  # the deceased are no longer counted
    counted(session, session_factory)
    b = breakdown(session, Scope(store_id=world.store_a.id), Dimension.sex)
    assert b.total == 4
    assert rows(b) == [("value", "female", 2), ("value", "male", 1), ("empty", "", 1)]
    assert [r.share for r in b.rows] == [0.5, 0.25, 0.25]
    chain = breakdown(session, CHAIN, Dimension.sex)
    assert chain.total == 5 and rows(chain)[1] == ("value", "male", 2)


def test_age_bands_in_order_from_the_birthday(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    for born in [date(1994, 7, 1), date(1994, 6, 30), date(1980, 1, 1), date(1979, 6, 30),
                 date(1949, 6, 30), None]:  # fmt: skip
        member(world, birthday=born)
    counted(session, session_factory)
    b = breakdown(session, CHAIN, Dimension.age)
    # 29 the day before their 30th birthday; 30 on it; 44; 45; 75 on the day.
    assert rows(b) == [("value", "<30", 1), ("value", "30-44", 2), ("value", "45-59", 1),
                       ("value", ">=75", 1), ("empty", "", 1)]  # fmt: skip


def test_top_values_then_other(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    for i, n in enumerate([5, 4, 3, 1, 1]):
        for _ in range(n):
            member(world, residential_area=f"小区{i}")
    member(world, residential_area="")
    counted(session, session_factory)
    b = breakdown(session, CHAIN, Dimension.area, top=3)
    assert rows(b) == [("value", "小区0", 5), ("value", "小区1", 4), ("value", "小区2", 3),
                       ("other", "", 2), ("empty", "", 1)]  # fmt: skip
    assert b.total == 15


def test_health_lists_count_consented_members_once_per_value(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    member(world, chronic_conditions=["高血压", "糖尿病", "高血压"])
    member(world, chronic_conditions=["高血压"])
    member(world, chronic_conditions=[])
    # Recorded before consent was withdrawn: stored, but no longer processed.
    member(world, consent=False, chronic_conditions=["高血压", "痛风"])
    counted(session, session_factory)
    b = breakdown(session, CHAIN, Dimension.conditions)
    assert b.total == 3
    assert rows(b) == [("value", "高血压", 2), ("value", "糖尿病", 1), ("empty", "", 1)]
    assert b.rows[0].share == pytest.approx(2 / 3)


def test_medicines_by_name_and_allergies(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    med = {"dose": "", "schedule": ""}
    member(world, regular_medicines=[{"name": "阿托伐他汀", **med}, {"name": "二甲双胍", **med}],
           drug_allergies=["青霉素"])  # fmt: skip
    member(world, regular_medicines=[{"name": "二甲双胍", **med}])
    counted(session, session_factory)
    medicines = breakdown(session, CHAIN, Dimension.medicines)
    assert rows(medicines) == [("value", "二甲双胍", 2), ("value", "阿托伐他汀", 1)]
    allergies = breakdown(session, CHAIN, Dimension.allergies)
    assert rows(allergies) == [("value", "青霉素", 1), ("empty", "", 1)]


def test_overview_reads_the_snapshot(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    a1, a2, a3 = member(world), member(world), member(world)
    b1 = member(world, store_b=True)
    buy(world, a1, date(2024, 5, 1), "30.00")
    buy(world, a1, date(2024, 5, 1), "10.00")  # the same day: one ticket of 40
    buy(world, a1, date(2024, 6, 10), "20.00")  # back within 90 days
    buy(world, a2, date(2024, 6, 1), "60.00")
    buy(world, b1, date(2024, 6, 1), "999.00")
    scope = Scope(store_id=world.store_a.id)
    before = analysis.overview(session, scope, ValuePeriod.last_3_months)
    assert (before.members, before.snapshot_as_of, before.buyers) == (None, None, None)
    assert analysis.breakdown(session, scope, Dimension.sex) is None
    assert analysis.refresh_tallies(session_factory, now=NOW) is None  # no snapshot yet
    session.commit()
    snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    assert analysis.overview(session, scope, ValuePeriod.last_3_months).members is None
    first = analysis.refresh_tallies(session_factory, now=NOW)
    counted(session, session_factory)  # a second run replaces the first (kept until the next)
    run = analysis.current_run(session)
    assert run is not None and run.id != first
    o = analysis.overview(session, scope, ValuePeriod.last_3_months)
    assert (o.members, o.snapshot_as_of, o.buyers) == (3, AS_OF, 2)
    assert o.average_ticket == Decimal("40.00")  # 120 over 3 tickets
    assert o.return_rate == 0.5
    assert a3.id  # a member who bought nothing counts as a member, not a buyer


def test_counts_outlive_a_refresh_stopped_before_them(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    """A refresh killed after its snapshot and before its counts, then another: the
    analysis still reads the last complete counts (and their snapshot) until new ones
    are whole, never 'not computed'; then the old ones go."""
    member(world)
    counted(session, session_factory)
    kept = analysis.current_run(session)
    assert kept is not None
    kept_id, kept_snapshot = kept.id, kept.snapshot_id
    for _ in range(2):  # two snapshots with no counts after them
        snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
        session.expire_all()
        run = analysis.current_run(session)
        assert run is not None and run.id == kept_id
        assert session.get(ValueSnapshot, kept_snapshot) is not None
        assert analysis.overview(session, CHAIN, ValuePeriod.last_12_months).members == 1
    newer = analysis.refresh_tallies(session_factory, now=NOW)
    snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    session.expire_all()
    assert analysis.current_run(session).id == newer  # type: ignore[union-attr]
    assert session.get(ValueSnapshot, kept_snapshot) is None  # gone once replaced


def test_new_members_per_month(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    for y, m, d, h in [(2024, 6, 30, 15), (2024, 6, 1, 0), (2023, 7, 31, 23), (2023, 6, 30, 0)]:
        member(world, created_at=datetime(y, m, d, h, tzinfo=UTC))
    counted(session, session_factory)
    months = analysis.overview(session, CHAIN, ValuePeriod.last_12_months)
    per = dict(months.new_per_month)
    assert len(per) == 12 and min(per) == date(2023, 7, 1) and max(per) == date(2024, 6, 1)
    assert (per[date(2024, 6, 1)], per[date(2023, 7, 1)], sum(per.values())) == (2, 1, 3)


def test_inactive_longest_first_and_a_contact_resets_it(world: World, session: Session):
    old = datetime(2023, 1, 1, tzinfo=UTC)
    never = member(world, created_at=old, mobile="13800000001")
    bought_long_ago = member(world, created_at=old)
    buy(world, bought_long_ago, date(2023, 3, 1))
    bought_later = member(world, created_at=old)
    buy(world, bought_later, date(2023, 5, 1))
    recent_buyer = member(world, created_at=old)
    buy(world, recent_buyer, date(2024, 6, 1))
    member(world, created_at=datetime(2024, 5, 1, tzinfo=UTC))  # too new to be inactive
    called = member(world, created_at=old)
    step = next(iter(enrolled_steps(world, called, start=date(2023, 2, 1)).values()))
    found = analysis.inactive_members(session, CHAIN, as_of=AS_OF, days=180)
    ids = [r.member_id for r in found.rows]
    assert ids == [never.id, called.id, bought_long_ago.id, bought_later.id]
    assert found.rows[0].mobile is None and found.rows[2].last_seen_on == date(2023, 3, 1)
    called_at = datetime(2024, 6, 20, 3, tzinfo=UTC)  # an unanswered call counts too
    record_attempt(session, world.actor(world.clerk_a), step.id, AttemptIn(),
                   today=called_at.date(), now=called_at)  # fmt: skip
    session.flush()
    after = analysis.inactive_members(session, CHAIN, as_of=AS_OF, days=180, phones=True)
    assert [r.member_id for r in after.rows] == [never.id, bought_long_ago.id, bought_later.id]
    assert after.rows[0].mobile == "13800000001"
    paged = analysis.inactive_members(session, CHAIN, as_of=AS_OF, page=2, page_size=2)
    assert (paged.total, paged.pages, [r.member_id for r in paged.rows]) == (
        3, 2, [bought_later.id])  # fmt: skip


def test_who_sees_which_scope(world: World, session: Session):
    manager, supervisor = world.actor(world.manager_a), world.actor(world.supervisor)
    own = analysis.resolve_scope(session, manager)
    assert own == Scope(store_id=world.store_a.id)
    with pytest.raises(NotFound):  # a region is head office's, as on the spend pages
        analysis.resolve_scope(session, manager, region="华东")
    with pytest.raises(NotFound):
        analysis.resolve_scope(session, manager, store_id=world.store_b.id)
    with pytest.raises(Forbidden):
        analysis.resolve_scope(session, world.actor(world.clerk_a))
    assert analysis.resolve_scope(session, supervisor) == CHAIN
    assert analysis.resolve_scope(session, supervisor, region="华东") == Scope(region="华东")
    assert analysis.resolve_scope(session, supervisor, store_id=world.store_b.id).store_id
    with pytest.raises(NotFound):
        analysis.resolve_scope(session, supervisor, region="西北")
    assert may_see_phones_in_member_lists(manager)
    assert not may_see_phones_in_member_lists(supervisor)
    assert not may_see_phones_in_member_lists(Actor.of(world.clerk_a, "test"))


def test_region_scope_counts_its_stores(
    world: World, session: Session, session_factory: sessionmaker[Session]
):
    member(world, sex=Sex.female)
    member(world, sex=Sex.female, store_b=True)
    counted(session, session_factory)
    b = breakdown(session, Scope(region="华东"), Dimension.sex)
    assert b.total == 2
