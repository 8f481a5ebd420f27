"""Spend tiers (A/B/C by spend rank) and the frequency × spend quadrants of a scope — one
store, a region or the chain — over one period of the newest value snapshot.

Everything is read from the snapshot (careplan/value/snapshot.py), never from purchases:
the cuts are a few index lookups (the k-th spend, the median visits), and the counts and
sums ranges of indexes that carry the spend (the rows above a cut), so the chain's 200,000
members answer in tens of milliseconds; only the chart's grid scans the scope's rows (an
index, read alone). Ties (docs/member-value.md, "消费分层与四象限"): a member whose spend
equals the spend at a tier's cut is in the higher tier, so a tier may hold a few more
than its share; a member exactly at a median is "low" (high means above the median);
set thresholds are "at least" (visits ≥ N, spend ≥ ¥X).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from careplan.access import Actor, ScopeKind, may_see_phones_in_member_lists, member_value_scope
from careplan.errors import N_, InvalidInput, NotFound
from careplan.models import Member, MemberValue, Staff, Store, ValueChartCell, ValueSnapshot
from careplan.value.snapshot import current, period_bounds
from careplan.vocab import ValuePeriod

TIER_A_PERCENT, TIER_B_PERCENT = 5, 20  # A: the top 5 %; B: down to the top 20 %
TIERS = ("A", "B", "C")
# Frequency first: 高频高额, 高频低额, 低频高额, 低频低额.
QUADRANTS = ("hh", "hl", "lh", "ll")
SCOPE_KINDS = ("store", "region", "chain")
DOTS_MAX = 3_000  # up to this many members the chart draws a dot each; beyond, cells
X_CELLS, Y_CELLS = 30, 24  # the density chart's grid
PAGE_SIZE = 50
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    store_id: int | None = None
    region: str | None = None
    name: str = ""  # the store's name or the region (the chain's is the page's)

    def query(self) -> dict[str, str]:
        """The scope as the page's query string names it."""
        if self.kind == "store":
            return {"scope": "store", "store": str(self.store_id)}
        if self.kind == "region":
            return {"scope": "region", "region": self.region or ""}
        return {"scope": "chain"}

    @property
    def key(self) -> str:
        """The scope as value_chart_cells names it."""
        if self.kind == "store":
            return f"store:{self.store_id}"
        return f"region:{self.region}" if self.kind == "region" else "chain"


@dataclass(frozen=True)
class Cut:
    """Where "high" starts: above a median (strict) or at least a set threshold."""

    value: Decimal
    strict: bool

    def high(self, column: Any) -> ColumnElement[bool]:
        high: ColumnElement[bool] = column > self.value if self.strict else column >= self.value
        return high

    def is_high(self, value: Decimal | int) -> bool:
        return value > self.value if self.strict else value >= self.value


@dataclass(frozen=True)
class Cuts:
    """A scope's cuts: the spend at the tiers' cuts, and the quadrants' lines."""

    buyers: int
    tier_a: Decimal | None  # the lowest spend in A (None: nobody bought)
    tier_b: Decimal | None
    median_visits: int
    median_spend: Decimal
    visits: Cut
    spend: Cut

    def tier_of(self, spend: Decimal) -> str:
        if self.tier_a is not None and spend >= self.tier_a:
            return "A"
        if self.tier_b is not None and spend >= self.tier_b:
            return "B"
        return "C"


@dataclass(frozen=True)
class Group:
    key: str  # a tier or a quadrant
    members: int
    spend: Decimal
    member_share: float  # of the members who bought
    spend_share: float  # of what they spent
    threshold: Decimal | None = None  # a tier's: the spend at its cut


@dataclass(frozen=True)
class Chart:
    """The scatter's data: a dot per member, or a count per cell for a large scope."""

    x_max: int  # visits
    y_max: Decimal  # spend
    dots: list[tuple[int, Decimal]] = field(default_factory=list)
    cells: dict[tuple[int, int], int] = field(default_factory=dict)  # (x, y) → members


@dataclass(frozen=True)
class SpendView:
    snapshot: ValueSnapshot
    period: ValuePeriod
    start: date
    end: date
    scope: Scope
    cuts: Cuts
    no_purchase: int  # members of the scope who bought nothing in the period
    spend: Decimal
    tiers: list[Group]
    quadrants: list[Group]
    chart: Chart


@dataclass(frozen=True)
class ListedMember:
    member_id: int
    name: str
    owner: str
    phone: str | None  # None: not for this reader
    spend: Decimal
    visits: int
    last_on: date
    tier: str


# --- The scope ----------------------------------------------------------------------------


def resolve_scope(
    session: Session, actor: Actor, kind: str | None, store_id: int | None, region: str | None
) -> Scope:
    """The scope a person asked for, or their default (a manager's store, head office's
    chain); refused when it is not theirs to open (access.member_value_scope)."""
    if kind is not None and kind not in SCOPE_KINDS:
        raise InvalidInput(N_("choose a store, a region or the chain"), field="scope")
    asked = cast(ScopeKind | None, kind)
    chosen, region, store_id = member_value_scope(actor, asked, region=region, store_id=store_id)
    if chosen == "store":
        store = session.get(Store, store_id) if store_id is not None else None
        if store is None:
            raise NotFound(N_("store not found"), field="store")
        return Scope("store", store_id=store.id, name=store.name)
    if chosen == "region":
        known = session.scalar(select(Store.id).where(Store.region == (region or "")).limit(1))
        if known is None:
            raise InvalidInput(N_("no store is in this region"), field="region")
        return Scope("region", region=region, name=region or "")
    return Scope("chain")


def _allowed(actor: Actor, scope: Scope) -> None:
    """A scope made earlier, checked again where its figures are read."""
    member_value_scope(actor, scope.kind, region=scope.region, store_id=scope.store_id)


def _store_ids(session: Session, scope: Scope) -> list[int] | None:
    """The stores of a scope; None: every store (no filter at all)."""
    if scope.kind == "store":
        return [scope.store_id or 0]
    if scope.kind == "region":
        return list(session.scalars(select(Store.id).where(Store.region == scope.region)))
    return None


def _rows(snapshot_id: int, period: ValuePeriod, stores: list[int] | None) -> ColumnElement[bool]:
    """The snapshot's rows of a period and scope (the (snapshot, period[, store], …)
    indexes lead with these)."""
    where = and_(MemberValue.snapshot_id == snapshot_id, MemberValue.period == period)
    if stores is None:
        return where
    if len(stores) == 1:
        return and_(where, MemberValue.store_id == stores[0])
    return and_(where, MemberValue.store_id.in_(stores))


# --- Cuts ---------------------------------------------------------------------------------


def _several(stores: list[int] | None) -> bool:
    return stores is not None and len(stores) > 1


def _nth(
    session: Session, where: ColumnElement[bool], column: Any, k: int, *, desc: bool,
    several: bool = False,
) -> Any:  # fmt: skip
    """The k-th value (from 1) of a column in order: one walk along an index. Over several
    stores (a region) the rows are sorted instead: read in index order, SQLite walks the
    chain's (snapshot, period, column) index through every store's rows to skip k of the
    region's (~170 ms for a median at 200,000 members; sorting the region's, ~10 ms)."""
    key = column + 0 if several else column  # an expression: no index gives its order
    order = key.desc() if desc else key.asc()
    stmt = select(column).where(where).order_by(order).offset(max(k, 1) - 1).limit(1)
    return session.scalar(stmt)


def _rank_cut(n: int, percent: int) -> int:
    """How many members a top share holds: at least one once anybody bought."""
    return math.ceil(n * percent / 100) if n else 0


def threshold_of(visits: int | None, spend: Decimal | None) -> tuple[int | None, Decimal | None]:
    """Set thresholds, checked (a page's or the CLI's input)."""
    if visits is not None and not 1 <= visits <= 10_000:
        raise InvalidInput(N_("visits must be 1 to 10000"), field="visits")
    if spend is not None and not Decimal(0) <= spend <= Decimal(100_000_000):
        raise InvalidInput(N_("spend must be 0 to 100000000"), field="spend")
    return visits, spend


def _cuts(
    session: Session,
    where: ColumnElement[bool],
    visits: int | None,
    spend: Decimal | None,
    *,
    buyers: int | None = None,  # already counted
    several: bool = False,  # stores (see _nth)
) -> Cuts:
    n = buyers
    if n is None:
        n = session.scalar(select(func.count()).select_from(MemberValue).where(where)) or 0
    if n == 0:
        zero = Decimal(0)
        return Cuts(0, None, None, 0, zero, Cut(Decimal(visits or 1), visits is None),
                    Cut(spend if spend is not None else zero, spend is None))  # fmt: skip

    def nth(column: Any, k: int, desc: bool) -> Any:
        return _nth(session, where, column, k, desc=desc, several=several)

    tier_a = nth(MemberValue.spend, _rank_cut(n, TIER_A_PERCENT), desc=True)
    tier_b = nth(MemberValue.spend, _rank_cut(n, TIER_B_PERCENT), desc=True)
    middle = math.ceil(n / 2)  # the lower median: an even count takes the lower middle one
    median_visits = int(nth(MemberValue.visits, middle, desc=False))
    median_spend = Decimal(nth(MemberValue.spend, middle, desc=False))
    return Cuts(
        buyers=n,
        tier_a=Decimal(tier_a),
        tier_b=Decimal(tier_b),
        median_visits=median_visits,
        median_spend=median_spend,
        visits=Cut(Decimal(median_visits), True) if visits is None else Cut(Decimal(visits), False),
        spend=Cut(median_spend, True) if spend is None else Cut(spend, False),
    )


def quadrant_condition(cuts: Cuts, quadrant: str) -> ColumnElement[bool]:
    high_f, high_s = cuts.visits.high(MemberValue.visits), cuts.spend.high(MemberValue.spend)
    return {
        "hh": and_(high_f, high_s),
        "hl": and_(high_f, ~high_s),
        "lh": and_(~high_f, high_s),
        "ll": and_(~high_f, ~high_s),
    }[quadrant]


# --- The page's figures -------------------------------------------------------------------


def _share(part: float, whole: float) -> float:
    return part / whole if whole else 0.0


def _groups(
    found: dict[str, tuple[int, Decimal]], keys: Sequence[str], n: int, total: Decimal,
    thresholds: dict[str, Decimal | None] | None = None,
) -> list[Group]:  # fmt: skip
    out = []
    for key in keys:
        members, spend = found.get(key, (0, Decimal(0)))
        spend_share = _share(float(spend), float(total))
        threshold = (thresholds or {}).get(key)
        out.append(Group(key, members, spend, _share(members, n), spend_share, threshold))
    return out


def _sum(value: Any) -> Decimal:
    # SQLite sums NUMERIC as a float: back to cents.
    return Decimal(str(value or 0)).quantize(CENT)


def _count_sum(session: Session, where: ColumnElement[bool]) -> tuple[int, Decimal]:
    """How many rows, and their spend: one range of an index that carries the spend."""
    n, total = session.execute(select(func.count(), func.sum(MemberValue.spend)).where(where)).one()
    return n or 0, _sum(total)


def _found(**groups: tuple[int, Decimal]) -> dict[str, tuple[int, Decimal]]:
    # A group nobody is in shows no spend at all, not ¥0.00.
    return {k: (n, spend if n else Decimal(0)) for k, (n, spend) in groups.items()}


def _minus(a: tuple[int, Decimal], *b: tuple[int, Decimal]) -> tuple[int, Decimal]:
    return a[0] - sum(n for n, _ in b), a[1] - sum((s for _, s in b), Decimal(0))


def _tiers(
    session: Session, where: ColumnElement[bool], cuts: Cuts, everyone: tuple[int, Decimal]
) -> dict[str, tuple[int, Decimal]]:
    """A is at or above A's cut, B at or above B's (A's cut is the higher): two ranges of
    the spend index (a fifth of the scope) instead of a grouped scan of all of it. Sums
    are exact in cents (each rounded back from SQLite's float), so the differences are."""
    if cuts.tier_a is None or cuts.tier_b is None:
        return {}
    above_a = _count_sum(session, and_(where, MemberValue.spend >= cuts.tier_a))
    above_b = _count_sum(session, and_(where, MemberValue.spend >= cuts.tier_b))
    return _found(A=above_a, B=_minus(above_b, above_a), C=_minus(everyone, above_b))


def _quadrants(
    session: Session, where: ColumnElement[bool], cuts: Cuts, everyone: tuple[int, Decimal]
) -> dict[str, tuple[int, Decimal]]:
    """The quadrants from three counts: high frequency, high spend, and both. Each is a
    range of the (…, visits, spend) or (…, spend) index read alone, for any thresholds."""
    high_f, high_s = cuts.visits.high(MemberValue.visits), cuts.spend.high(MemberValue.spend)
    f = _count_sum(session, and_(where, high_f))
    s = _count_sum(session, and_(where, high_s))
    both = _count_sum(session, and_(where, high_f, high_s))
    low_f_high_s = _minus(s, both)
    return _found(hh=both, hl=_minus(f, both), lh=low_f_high_s,
                  ll=_minus(everyone, f, low_f_high_s))  # fmt: skip


def spend_view(
    session: Session,
    actor: Actor,
    scope: Scope,
    period: ValuePeriod,
    *,
    visits: int | None = None,
    spend: Decimal | None = None,
) -> SpendView | None:
    """Tiers, quadrants and the chart of a scope and period; None before any snapshot."""
    _allowed(actor, scope)
    visits, spend = threshold_of(visits, spend)
    snap = current(session)
    if snap is None:
        return None
    stores = _store_ids(session, scope)
    where = _rows(snap.id, period, stores)
    everyone = _count_sum(session, where)
    several = _several(stores)
    cuts = _cuts(session, where, visits, spend, buyers=everyone[0], several=several)
    by_tier: dict[str, tuple[int, Decimal]] = {}
    by_quadrant: dict[str, tuple[int, Decimal]] = {}
    total_spend = Decimal(0)
    if cuts.buyers:
        total_spend = everyone[1]
        by_tier = _tiers(session, where, cuts, everyone)
        by_quadrant = _quadrants(session, where, cuts, everyone)
    start, end = period_bounds(period, snap.as_of)
    return SpendView(
        snapshot=snap, period=period, start=start, end=end, scope=scope, cuts=cuts,
        no_purchase=max(0, _members_in_scope(session, stores) - cuts.buyers),
        spend=total_spend,
        tiers=_groups(by_tier, TIERS, cuts.buyers, total_spend,
                      {"A": cuts.tier_a, "B": cuts.tier_b}),
        quadrants=_groups(by_quadrant, QUADRANTS, cuts.buyers, total_spend),
        chart=_chart(session, where, cuts, _stored(session, snap.id, period, scope),
                     several=several),
    )  # fmt: skip


def _members_in_scope(session: Session, stores: list[int] | None) -> int:
    """The scope's members today (not erased): those without a row bought nothing."""
    stmt = select(func.count()).select_from(Member).where(Member.erased_at.is_(None))
    if stores is not None:
        stmt = stmt.where(Member.home_store_id.in_(stores))
    return session.scalar(stmt) or 0


Cells = dict[tuple[int, int], int]
Stored = Callable[[int, Decimal], Cells | None]


def _stored(session: Session, snapshot_id: int, period: ValuePeriod, scope: Scope) -> Stored:
    """The scope's grid counted with the snapshot, if it was counted for these axes."""

    def read(x_max: int, y_max: Decimal) -> Cells | None:
        rows = session.execute(
            select(ValueChartCell.x, ValueChartCell.y, ValueChartCell.members,
                   ValueChartCell.x_max, ValueChartCell.y_max)
            .where(ValueChartCell.snapshot_id == snapshot_id,
                   ValueChartCell.period == period.value, ValueChartCell.scope == scope.key)
        ).all()  # fmt: skip
        # Compared here, as Decimals: SQLite keeps y_max as a float.
        if not rows or any((r.x_max, Decimal(r.y_max)) != (x_max, y_max) for r in rows):
            return None
        return {(r.x, r.y): r.members for r in rows}

    return read


def _chart(
    session: Session, where: ColumnElement[bool], cuts: Cuts, stored: Stored | None = None,
    *, several: bool = False,
) -> Chart:  # fmt: skip
    """Axes to the 99th percentile (a few big spenders would squeeze everyone into a
    corner; those beyond sit on the edge), and always past the quadrant lines."""
    n = cuts.buyers
    if n == 0:
        return Chart(x_max=1, y_max=Decimal(1))
    top = max(1, n // 100)
    x_max = max(int(_nth(session, where, MemberValue.visits, top, desc=True, several=several)),
                int(cuts.visits.value) + 1, 2)  # fmt: skip
    y_max = max(Decimal(_nth(session, where, MemberValue.spend, top, desc=True, several=several)),
                cuts.spend.value * Decimal("1.1"), Decimal(1))  # fmt: skip
    if n <= DOTS_MAX:
        dots = session.execute(select(MemberValue.visits, MemberValue.spend).where(where))
        return Chart(x_max, y_max, dots=[(v, Decimal(s)) for v, s in dots])
    cells = stored(x_max, y_max) if stored is not None else None
    return Chart(
        x_max, y_max, cells=cells if cells is not None else _grid(session, where, x_max, y_max)
    )


def _grid(session: Session, where: ColumnElement[bool], x_max: int, y_max: Decimal) -> Cells:
    """A cell per visit count up to X_CELLS, spend in Y_CELLS bands; counted by the
    database, so drawing 200,000 members costs a grouped scan and ~700 rectangles. The
    scan groups by the visits themselves (a few dozen values, the index's order) and
    the columns are folded here: integer division is the SQL floor of the same."""
    x_width = max(1, math.ceil(x_max / X_CELLS))
    y_cell = func.floor(MemberValue.spend * Y_CELLS / y_max)
    stmt = select(MemberValue.visits, y_cell, func.count()).where(where)
    cells: Cells = {}
    last_x, last_y = math.ceil(x_max / x_width) - 1, Y_CELLS - 1
    for visits, y, count in session.execute(stmt.group_by(MemberValue.visits, y_cell)):
        key = (min((int(visits) - 1) // x_width, last_x), min(int(y), last_y))
        cells[key] = cells.get(key, 0) + count
    return cells


def default_charts(session: Session, snapshot_id: int) -> Iterator[dict[str, object]]:
    """value_chart_cells rows of a snapshot being made: the medians' grid of each scope
    and period drawn as cells (the chain, a region, a large store). Read only; the
    refresh writes them (careplan/value/snapshot.py)."""
    buyers: dict[tuple[str, int], int] = {}  # (period, store) → buyers
    counted = (
        select(MemberValue.period, MemberValue.store_id, func.count())
        .where(MemberValue.snapshot_id == snapshot_id)
        .group_by(MemberValue.period, MemberValue.store_id)
    )
    for period, store_id, n in session.execute(counted):
        buyers[(ValuePeriod(period).value, store_id)] = n
    regions: dict[str, list[int]] = {}
    for store_id, region in session.execute(select(Store.id, Store.region).order_by(Store.id)):
        regions.setdefault(region, []).append(store_id)
    scopes: list[tuple[Scope, list[int] | None]] = [(Scope("chain"), None)]
    scopes += [(Scope("region", region=r), ids) for r, ids in sorted(regions.items())]
    scopes += [(Scope("store", store_id=i), [i]) for ids in regions.values() for i in ids]
    for period in ValuePeriod:
        for scope, stores in scopes:
            n = sum(count for (p, i), count in buyers.items()
                    if p == period.value and (stores is None or i in stores))  # fmt: skip
            if n <= DOTS_MAX:
                continue
            where = _rows(snapshot_id, period, stores)
            several = _several(stores)
            cuts = _cuts(session, where, None, None, buyers=n, several=several)
            chart = _chart(session, where, cuts, several=several)
            for (x, y), members in chart.cells.items():
                yield {"snapshot_id": snapshot_id, "period": period.value, "scope": scope.key,
                       "x": x, "y": y, "x_max": chart.x_max, "y_max": chart.y_max,
                       "members": members}  # fmt: skip


# --- A quadrant's members -----------------------------------------------------------------


@dataclass(frozen=True)
class QuadrantPage:
    snapshot: ValueSnapshot
    period: ValuePeriod
    scope: Scope
    quadrant: str
    cuts: Cuts
    total: int
    page: int
    pages: int
    members: list[ListedMember]


def _listed(cuts: Cuts, row: Any, phones: bool) -> ListedMember:
    member_id, name, owner, mobile, spend, visits, last_on = row
    spend = Decimal(spend)
    return ListedMember(member_id, name, owner, mobile if phones else None, spend, visits,
                        last_on, cuts.tier_of(spend))  # fmt: skip


def _list_stmt(
    where: ColumnElement[bool],
) -> Select[int, str, str, str | None, Decimal, int, date]:
    # By spend, biggest first; the member id settles ties so pages never overlap.
    return (
        select(MemberValue.member_id, Member.name, Staff.name, Member.mobile, MemberValue.spend,
               MemberValue.visits, MemberValue.last_on)
        .join(Member, Member.id == MemberValue.member_id)
        .join(Staff, Staff.id == Member.owner_id)
        .where(where)
        .order_by(MemberValue.spend.desc(), MemberValue.member_id)
    )  # fmt: skip


def _check_quadrant(quadrant: str) -> None:
    if quadrant not in QUADRANTS:
        raise NotFound(N_("no such quadrant"), field="quadrant")


def quadrant_page(
    session: Session, actor: Actor, scope: Scope, period: ValuePeriod, quadrant: str, *,
    page: int = 1, visits: int | None = None, spend: Decimal | None = None,
) -> QuadrantPage | None:  # fmt: skip
    """One page of a quadrant's members, biggest spenders first; None before any snapshot."""
    _allowed(actor, scope)
    _check_quadrant(quadrant)
    visits, spend = threshold_of(visits, spend)
    snap = current(session)
    if snap is None:
        return None
    stores = _store_ids(session, scope)
    base = _rows(snap.id, period, stores)
    cuts = _cuts(session, base, visits, spend, several=_several(stores))
    where = and_(base, quadrant_condition(cuts, quadrant))
    total = session.scalar(select(func.count()).select_from(MemberValue).where(where)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = session.execute(_list_stmt(where).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    phones = may_see_phones_in_member_lists(actor)
    listed = [_listed(cuts, row, phones) for row in rows]
    return QuadrantPage(snap, period, scope, quadrant, cuts, total, page, pages, listed)


def quadrant_rows(
    session: Session, actor: Actor, scope: Scope, period: ValuePeriod, quadrant: str, *,
    visits: int | None = None, spend: Decimal | None = None,
) -> list[ListedMember]:  # fmt: skip
    """Every member of a quadrant (its CSV), in the list's order."""
    _allowed(actor, scope)
    _check_quadrant(quadrant)
    visits, spend = threshold_of(visits, spend)
    snap = current(session)
    if snap is None:
        return []
    stores = _store_ids(session, scope)
    base = _rows(snap.id, period, stores)
    cuts = _cuts(session, base, visits, spend, several=_several(stores))
    phones = may_see_phones_in_member_lists(actor)
    rows = session.execute(_list_stmt(and_(base, quadrant_condition(cuts, quadrant))))
    return [_listed(cuts, row, phones) for row in rows]


def regions_of(session: Session) -> list[str]:
    return list(session.scalars(select(Store.region).distinct().order_by(Store.region)))
