"""Spend tiers and quadrants on hand-built purchases where every figure is known."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from careplan.errors import Forbidden, NotFound
from careplan.models import Member, Purchase
from careplan.value import snapshot, tiers
from careplan.vocab import ValuePeriod
from tests.factories import NOW, World, make_member

AS_OF = date(2024, 6, 30)
Y = ValuePeriod.last_12_months
# Store A's 20 buyers, by spend (the 4th and 5th tie at B's cut) and visits.
SPENDS = [1000, 500, 300, 200, 200, 90, 80, 70, 60, 50, 40, 30, 20, *[10] * 7]
VISITS = [3, 3, 3, 3, 3, 2, 2, 2, *[1] * 12]


def buy(world: World, member: Member, total: int, visits: int) -> None:
    """`total` spent over `visits` days (the first day carries the rest)."""
    for n in range(visits):
        amount = Decimal(total - (visits - 1)) if n == 0 else Decimal(1)
        world.session.add(
            Purchase(
                member_id=member.id, store_id=member.home_store_id, product_code="P1",
                product_name="钙片", quantity=1, purchased_on=date(2024, 5, 1) + timedelta(n),
                amount=amount, recorded_by_id=world.clerk_a.id, recorded_at=NOW,
            )
        )  # fmt: skip


@pytest.fixture
def chain(world: World, session: Session, session_factory: sessionmaker[Session]) -> list[Member]:
    buyers = [make_member(world, mobile=f"1380000{n:04d}") for n in range(len(SPENDS))]
    for member, spend, visits in zip(buyers, SPENDS, VISITS, strict=True):
        buy(world, member, spend, visits)
    make_member(world), make_member(world)  # bought nothing
    big = make_member(world, owner=world.clerk_b)  # store B's
    buy(world, big, 5000, 1)
    session.commit()
    snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    return buyers


def store_a(world: World) -> tiers.Scope:
    return tiers.resolve_scope(
        world.session, world.actor(world.manager_a), "store", world.store_a.id, None
    )


def test_tiers_rank_by_spend_and_a_tie_at_the_cut_goes_up(world: World, chain: list[Member]):
    view = tiers.spend_view(world.session, world.actor(world.manager_a), store_a(world), Y)
    assert view is not None
    a, b, c = view.tiers
    assert view.cuts.buyers == 20 and view.no_purchase == 2
    assert (a.members, a.spend, a.threshold) == (1, Decimal("1000.00"), Decimal(1000))
    # The top 20 % is 4 members; the 5th spent as much as the 4th, so B holds 4, not 3.
    assert (b.members, b.spend, b.threshold) == (4, Decimal("1200.00"), Decimal(200))
    assert (c.members, c.spend) == (15, Decimal("510.00"))
    assert view.spend == Decimal("2710.00")
    assert round(a.spend_share, 4) == round(1000 / 2710, 4)


def test_quadrants_split_at_the_medians_a_member_at_the_median_is_low(
    world: World, chain: list[Member]
):
    view = tiers.spend_view(world.session, world.actor(world.manager_a), store_a(world), Y)
    assert view is not None
    assert (view.cuts.median_visits, view.cuts.median_spend) == (1, Decimal(40))
    counts = {q.key: q.members for q in view.quadrants}
    assert counts == {"hh": 8, "hl": 0, "lh": 2, "ll": 10}
    assert {q.key: q.spend for q in view.quadrants}["lh"] == Decimal("110.00")
    assert len(view.chart.dots) == 20 and not view.chart.cells


def test_set_thresholds_are_at_least(world: World, chain: list[Member]):
    actor = world.actor(world.manager_a)
    view = tiers.spend_view(world.session, actor, store_a(world), Y, visits=2, spend=Decimal(100))
    assert view is not None
    assert {q.key: q.members for q in view.quadrants} == {"hh": 5, "hl": 3, "lh": 0, "ll": 12}


def test_the_chain_counts_every_store_and_a_region_its_stores(world: World, chain: list[Member]):
    actor = world.actor(world.supervisor)
    whole = tiers.spend_view(world.session, actor, tiers.resolve_scope(
        world.session, actor, "chain", None, None), Y)  # fmt: skip
    assert whole is not None
    assert (whole.cuts.buyers, whole.tiers[0].threshold, whole.tiers[0].members) == (
        21,
        Decimal(1000),
        2,
    )  # fmt: skip  (ceil(21 × 5 %) = 2: 5000 and 1000)
    region = tiers.resolve_scope(world.session, actor, "region", None, "华东")
    view = tiers.spend_view(world.session, actor, region, Y)
    assert view is not None and view.cuts.buyers == 21
    assert view.cuts == whole.cuts  # the region's two stores, sorted, are the chain


def test_a_quadrant_lists_its_members_by_spend_phones_only_for_the_manager(
    world: World, chain: list[Member]
):
    page = tiers.quadrant_page(world.session, world.actor(world.manager_a), store_a(world), Y, "lh")
    assert page is not None and page.total == 2
    assert [(m.spend, m.tier, m.phone) for m in page.members] == [
        (Decimal(60), "C", "13800000008"), (Decimal(50), "C", "13800000009")]  # fmt: skip
    actor = world.actor(world.supervisor)
    scope = tiers.resolve_scope(world.session, actor, "store", world.store_a.id, None)
    top = tiers.quadrant_page(world.session, actor, scope, Y, "hh")
    assert top is not None and top.members[0].tier == "A" and top.members[0].phone is None
    assert [m.spend for m in tiers.quadrant_rows(world.session, actor, scope, Y, "hh")][:2] == [
        Decimal(1000), Decimal(500)]  # fmt: skip


def test_scopes_a_person_may_open(world: World, chain: list[Member]):
    s = world.session
    with pytest.raises(NotFound):
        tiers.resolve_scope(s, world.actor(world.manager_a), "store", world.store_b.id, None)
    with pytest.raises(NotFound):
        tiers.resolve_scope(s, world.actor(world.manager_a), "chain", None, None)
    with pytest.raises(Forbidden):
        tiers.resolve_scope(s, world.actor(world.clerk_a), "store", world.store_a.id, None)
    assert tiers.resolve_scope(s, world.actor(world.manager_a), None, None, None).store_id == (
        world.store_a.id)  # fmt: skip


def test_nothing_before_the_first_snapshot(world: World):
    actor = world.actor(world.manager_a)
    assert tiers.spend_view(world.session, actor, store_a(world), Y) is None


# --- The same figures as the grouped scans they replace -----------------------------------


def _grouped(session: Session, view: tiers.SpendView) -> tuple[dict, dict, dict]:
    """Tiers, quadrants and the chart's cells as one grouped scan each counted them before
    the index ranges (the reference the ranges must match to the cent)."""
    from sqlalchemy import and_, case, func, select

    from careplan.models import MemberValue, Store

    cuts, mv = view.cuts, MemberValue
    where = and_(mv.snapshot_id == view.snapshot.id, mv.period == view.period)
    if view.scope.kind == "store":
        where = and_(where, mv.store_id == view.scope.store_id)
    elif view.scope.kind == "region":
        stores = select(Store.id).where(Store.region == view.scope.region)
        where = and_(where, mv.store_id.in_(stores))
    tier = case((mv.spend >= (cuts.tier_a or 0), "A"), (mv.spend >= (cuts.tier_b or 0), "B"),
                else_="C")  # fmt: skip
    high_f, high_s = cuts.visits.high(mv.visits), cuts.spend.high(mv.spend)
    quadrant = case((and_(high_f, high_s), "hh"), (high_f, "hl"), (high_s, "lh"), else_="ll")
    by_tier: dict[str, tuple[int, Decimal]] = {}
    by_quadrant: dict[str, tuple[int, Decimal]] = {}
    rows = session.execute(select(tier, quadrant, func.count(), func.sum(mv.spend))
                           .where(where).group_by(tier, quadrant))  # fmt: skip
    for t, q, n, total in rows:
        for found, key in ((by_tier, t), (by_quadrant, q)):
            n0, s0 = found.get(key, (0, Decimal(0)))
            found[key] = (n0 + n, s0 + Decimal(str(total)).quantize(Decimal("0.01")))
    chart = view.chart
    x_width = max(1, -(-chart.x_max // tiers.X_CELLS))
    x_cell = func.floor((mv.visits - 1) / x_width)
    y_cell = func.floor(mv.spend * tiers.Y_CELLS / chart.y_max)
    cells: dict[tuple[int, int], int] = {}
    last_x = -(-chart.x_max // x_width) - 1
    grid = select(x_cell, y_cell, func.count()).where(where).group_by(x_cell, y_cell)
    for x, y, count in session.execute(grid):
        key = (min(int(x), last_x), min(int(y), tiers.Y_CELLS - 1))
        cells[key] = cells.get(key, 0) + count
    return by_tier, by_quadrant, cells


def _sixty(world: World, session: Session) -> None:
    import random

    draw = random.Random(7)
    for n in range(60):
        member = make_member(world, owner=world.clerk_b if n % 3 else world.clerk_a)
        if n % 10:  # a few buy nothing
            buy(world, member, draw.choice([5, 40, 40, 120, 333, 800, 2500]) + n % 4,
                draw.choice([1, 1, 2, 3, 5, 8]))  # fmt: skip
    session.commit()


@pytest.mark.parametrize("stored", [False, True], ids=["counted", "stored"])
@pytest.mark.parametrize("thresholds", [(None, None), (2, Decimal(100)), (1, Decimal("37.5")),
                                        (4, Decimal(0)), (9, Decimal(99999))])  # fmt: skip
def test_the_ranges_count_and_sum_what_a_grouped_scan_does(
    world: World, session: Session, session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch, thresholds: tuple[int | None, Decimal | None],
    stored: bool,
):  # fmt: skip
    """Against the grouped scans; "stored": the refresh counted the medians' grids (a set
    threshold past the 99th percentile moves the axes, and the page counts afresh)."""
    _sixty(world, session)
    if stored:
        monkeypatch.setattr("careplan.value.tiers.DOTS_MAX", 5)  # every scope draws cells
    snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    monkeypatch.setattr("careplan.value.tiers.DOTS_MAX", 5)
    actor = world.actor(world.supervisor)
    visits, spend = thresholds
    for kind, store_id, region in (("chain", None, None), ("region", None, "华东"),
                                   ("store", world.store_a.id, None)):  # fmt: skip
        scope = tiers.resolve_scope(session, actor, kind, store_id, region)
        view = tiers.spend_view(session, actor, scope, Y, visits=visits, spend=spend)
        assert view is not None and view.cuts.buyers > 5
        by_tier, by_quadrant, cells = _grouped(session, view)
        assert {g.key: (g.members, g.spend) for g in view.tiers} == {
            k: by_tier.get(k, (0, Decimal(0))) for k in tiers.TIERS
        }
        assert {g.key: (g.members, g.spend) for g in view.quadrants} == {
            k: by_quadrant.get(k, (0, Decimal(0))) for k in tiers.QUADRANTS
        }
        assert view.spend == sum((s for _, s in by_tier.values()), Decimal(0))
        assert view.chart.cells == cells and sum(cells.values()) == view.cuts.buyers
        # An empty group has no spend, as before (not ¥0.00).
        assert all(str(g.spend) == "0" for g in view.quadrants + view.tiers if not g.members)


def test_the_refresh_counts_the_large_scopes_grids_and_drops_them_with_their_snapshot(
    world: World, session: Session, session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
):  # fmt: skip
    from sqlalchemy import func, select, update

    from careplan.models import ValueChartCell

    _sixty(world, session)
    monkeypatch.setattr("careplan.value.tiers.DOTS_MAX", 15)  # store A's 18 are cells too
    first = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    cell = ValueChartCell
    scopes = session.execute(select(cell.scope, cell.period, func.sum(cell.members))
                             .where(cell.snapshot_id == first)
                             .group_by(cell.scope, cell.period)).all()  # fmt: skip
    buyers = {"chain": 54, "region:华东": 54, f"store:{world.store_b.id}": 36,
              f"store:{world.store_a.id}": 18}  # fmt: skip
    assert {(k, p, n) for k, p, n in scopes} == {(k, p.value, n) for k, n in buyers.items()
                                                 for p in ValuePeriod if p.value in ("12m",
                                                 "6m", "3m", "ytd")}  # fmt: skip
    # The stored grid is the page's.
    actor = world.actor(world.supervisor)
    scope = tiers.resolve_scope(session, actor, "chain", None, None)
    view = tiers.spend_view(session, actor, scope, Y)
    assert view is not None and view.chart.cells == _grouped(session, view)[2]
    # … and the page reads it: marked, the page shows the mark; a threshold past the
    # 99th percentile moves the axes, and the page counts afresh.
    session.execute(update(cell).where(cell.scope == "chain").values(members=cell.members + 1000))
    marked = tiers.spend_view(session, actor, scope, Y)
    assert marked is not None and set(marked.chart.cells) == set(view.chart.cells)
    assert sum(marked.chart.cells.values()) == sum(view.chart.cells.values()) + 1000 * len(
        view.chart.cells
    )
    beyond = tiers.spend_view(session, actor, scope, Y, spend=Decimal(5000))
    assert beyond is not None and sum(beyond.chart.cells.values()) == 54
    session.rollback()
    second = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    third = snapshot.refresh(session_factory, as_of=AS_OF, now=NOW)
    left = set(session.scalars(select(ValueChartCell.snapshot_id).distinct()))
    assert left == {second, third}  # the previous snapshot's stay while it may be read
