"""The supervisor audit: overdue steps by region, store and staff, aging buckets, missed
steps, completion and on-time rates over a period, and open escalations by age.

One module behind the audit pages, /api/v1/audit and `careplan audit`.

Attribution: a step counts for the person it is assigned to, and for that person's store
and region (staff are measured on their members' care). "As of" a day applies the date
rules of schedule.py to that day; for an earlier day, a step done after it counts as
open on it, so last month's figures do not improve as late work comes in.

Work is proportional to what is shown, not to the history: open steps are read from
partial indexes (see models/checkpoint.py), and an expiring step can only be overdue in
a window of bounded length (the longest expiry minus grace of any protocol version).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from functools import cache
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Date,
    FunctionElement,
    Integer,
    String,
    Subquery,
    and_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from careplan.access import Actor, require_manager
from careplan.config import get_settings
from careplan.csv_export import CSV_CHUNK
from careplan.errors import N_, Forbidden, InvalidInput, NotFound
from careplan.models import CarePlan, Checkpoint, Escalation, Member, ProtocolVersion, Staff, Store
from careplan.models.base import AnySelect, IdType, UTCDateTime
from careplan.periods import checked_day, period
from careplan.plans.lifecycle import StepTitle, step_of, step_title
from careplan.plans.protocol_schema import Protocol, Text
from careplan.plans.protocols import (
    all_steps,
    definition_of,
    newest_definitions,
    published_hashes,
)
from careplan.plans.schedule import expiry_of, grace_of

Level = Literal["chain", "region", "store", "staff"]
ListStatus = Literal["overdue", "missed", "due"]
CHILD: dict[str, Level] = {"chain": "region", "region": "store", "store": "staff"}
DEFAULT_PERIOD_DAYS = 30
MAX_PAGE_SIZE = 500

# Literal SQL, not bound parameters: SQLite (and a generic PostgreSQL plan) can use a
# partial index only when the query's WHERE repeats the index's predicate word for word.
PENDING = text("checkpoints.state = 'pending'")
DONE = text("checkpoints.state = 'done'")
WORKABLE = text("checkpoints.state IN ('pending', 'done')")
ESC_OPEN = text("escalations.status = 'open'")


@dataclass(frozen=True)
class Bucket:
    label: str
    low: int
    high: int | None  # inclusive; None: no upper bound


# Days overdue (as of the day, counted from the due date, as the worklist shows them).
BUCKETS = (
    Bucket("1-3", 1, 3),
    Bucket("4-7", 4, 7),
    Bucket("8-14", 8, 14),
    Bucket("15-30", 15, 30),
    Bucket(">30", 31, None),
)
# Open escalations by age in days since they were raised.
AGE_BUCKETS = (
    Bucket("0-3", 0, 3),
    Bucket("4-7", 4, 7),
    Bucket("8-14", 8, 14),
    Bucket("15-30", 15, 30),
    Bucket(">30", 31, None),
)


def bucket_of(label: str) -> Bucket:
    for b in BUCKETS:
        if b.label == label:
            return b
    raise InvalidInput(
        N_("unknown bucket (one of %(buckets)s)"),
        field="bucket",
        buckets=[b.label for b in BUCKETS],
    )


# --- What is asked ----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    level: Level
    region: str | None = None
    store_id: int | None = None
    staff_id: int | None = None
    store_code: str = ""
    store_name: str = ""
    staff_name: str = ""


@dataclass(frozen=True)
class AuditQuery:
    scope: Scope
    as_of: date
    period_from: date
    period_to: date  # clipped to as_of where it matters
    protocol_id: str | None = None
    # An earlier day than today: steps done since then were still open on it.
    past: bool = False

    @property
    def until(self) -> date:
        return min(self.period_to, self.as_of)


def make_query(
    scope: Scope,
    *,
    today: date,
    as_of: date | None = None,
    period_from: date | None = None,
    period_to: date | None = None,
    protocol_id: str | None = None,
) -> AuditQuery:
    as_of = checked_day(as_of or today, "as_of")
    if as_of > today:
        raise InvalidInput(N_("cannot be after today"), field="as_of")
    period_from, period_to = period(
        period_from, period_to, default_end=as_of, days=DEFAULT_PERIOD_DAYS,
        fields=("period_from", "period_to"),
    )  # fmt: skip
    if period_to > as_of:  # the figures are as they stood on as_of: no later day is known
        raise InvalidInput(N_("cannot be after the as-of date"), field="period_to")
    return AuditQuery(scope, as_of, period_from, period_to, protocol_id or None, past=as_of < today)


def resolve_scope(
    session: Session,
    actor: Actor,
    *,
    region: str | None = None,
    store_id: int | None = None,
    staff_id: int | None = None,
) -> Scope:
    """Supervisors audit the chain, a region, a store or a person; a store manager their
    own store and its people. Anyone else's store is 'not found'."""
    require_manager(actor)
    if staff_id is not None:
        staff = session.get(Staff, staff_id)
        if staff is None or staff.store_id is None or not actor.may_see_store(staff.store_id):
            raise NotFound(N_("staff %(id)s not found"), field="staff_id", id=staff_id)
        return _store_scope(session, staff.store_id, "staff", staff_id, staff.name)
    if store_id is None and not actor.chain_wide:
        if region:
            raise Forbidden(N_("only a supervisor audits a region"), field="region")
        store_id = actor.store_id
    if store_id is not None:
        if not actor.may_see_store(store_id):
            raise NotFound(N_("store %(id)s not found"), field="store_id", id=store_id)
        return _store_scope(session, store_id, "store", None, "")
    if region:
        if session.scalar(select(Store.id).where(Store.region == region).limit(1)) is None:
            raise NotFound(N_("no store in that region"), field="region")
        return Scope("region", region=region)
    return Scope("chain")


def _store_scope(
    session: Session, store_id: int, level: Level, staff_id: int | None, staff_name: str
) -> Scope:
    store = session.get(Store, store_id)
    if store is None:
        raise NotFound(N_("store %(id)s not found"), field="store_id", id=store_id)
    return Scope(level, store.region, store.id, staff_id, store.code, store.name, staff_name)


# --- Sources: the steps each figure counts ------------------------------------------------

_WINDOWS: dict[str, int] = {}


def _window_of(protocol: Protocol) -> int:
    longest = 0
    for _, step in all_steps(protocol):
        expiry = expiry_of(protocol, step)
        if expiry is not None:
            grace = grace_of(protocol, step)
            longest = max(longest, max(expiry, grace) - grace)
    return longest


def open_window_days(session: Session) -> int:
    """How many days at most an expiring step stays overdue before it is missed.

    Dates shift together (pauses, re-anchoring), so the window is the protocol's own:
    (expiry - grace) of the longest step of any published version. Versions are few and
    immutable; each is parsed once per process.
    """
    rows = [(version_id, content) for _, version_id, content in published_hashes(session)]
    for version_id, content in rows:
        if content not in _WINDOWS:
            row = session.get(ProtocolVersion, version_id)
            assert row is not None
            _WINDOWS[content] = _window_of(definition_of(row))
    return max((_WINDOWS[c] for _, c in rows), default=0)


# Statements are built once per shape (which scope, whether a protocol is chosen, whether
# the day is past) with every value a bound parameter, and reused: building and keying
# SQLAlchemy statements cost more than a store's queries themselves.
ShapeScope = Literal["chain", "region", "store", "staff"]


@dataclass(frozen=True)
class Shape:
    scope: ShapeScope
    protocol: bool
    past: bool


def shape_of(q: AuditQuery) -> Shape:
    s = q.scope
    by: ShapeScope = "chain"
    if s.staff_id is not None:
        by = "staff"
    elif s.store_id is not None:
        by = "store"
    elif s.region is not None:
        by = "region"
    return Shape(by, q.protocol_id is not None, q.past)


def _p(name: str, type_: Any = None) -> Any:
    return bindparam(name, type_=type_ if type_ is not None else Date())


def params_of(session: Session, q: AuditQuery) -> dict[str, Any]:
    """Every value the statements of `q` bind (each statement takes the ones it names)."""
    s, d, end = q.scope, q.as_of, _end_of(q.as_of)
    found: dict[str, Any] = {
        "as_of": d,
        "window_end": d + timedelta(days=open_window_days(session)),
        "period_from": q.period_from,
        "until": q.until,
        "scope_staff": s.staff_id,
        "scope_store": s.store_id,
        "scope_region": s.region,
        "scope_protocol": q.protocol_id,
        "esc_end": end,
    }
    for b in BUCKETS:
        found[f"b{b.low}_newest"] = d - timedelta(days=b.low)
        if b.high is not None:
            found[f"b{b.low}_oldest"] = d - timedelta(days=b.high)
    for b in AGE_BUCKETS:
        found[f"age{b.low}_before"] = end - timedelta(days=b.low)
        if b.high is not None:
            found[f"age{b.low}_from"] = end - timedelta(days=b.high + 1)
    return found


def _scope_terms(shape: Shape) -> list[ColumnElement[bool]]:
    who = Checkpoint.assignee_id
    terms: list[ColumnElement[bool]] = []
    if shape.scope == "staff":
        terms.append(who == _p("scope_staff", IdType))
    elif shape.scope == "store":
        terms.append(who.in_(select(Staff.id).where(Staff.store_id == _p("scope_store", IdType))))
    elif shape.scope == "region":
        in_region = select(Staff.id).join(Store, Staff.store_id == Store.id)
        terms.append(who.in_(in_region.where(Store.region == _p("scope_region", String()))))
    if shape.protocol:
        terms.append(Checkpoint.protocol_id == _p("scope_protocol", String()))
    return terms


_STEP_COLUMNS = (
    Checkpoint.id,
    Checkpoint.assignee_id,
    Checkpoint.due_on,
    Checkpoint.protocol_id,
    Checkpoint.key,
)


def _columns(with_plan: bool) -> tuple[Any, ...]:
    """What a source yields. The counts read only what the partial indexes cover; an
    export of every step also takes the plan, from the row it reads anyway."""
    return (*_STEP_COLUMNS, Checkpoint.plan_id) if with_plan else _STEP_COLUMNS


@cache
def overdue_source(shape: Shape, with_plan: bool = False) -> Subquery:
    """Steps overdue on the as-of day: past their grace, not yet missed, not yet done, and
    not held by a visit the member agreed to. (On an earlier as-of day a step done since
    counts as it stood; an agreement made since is not known then, and does not count.)"""
    d, scope, columns = _p("as_of"), _scope_terms(shape), _columns(with_plan)
    # A member who agreed on a call to come on a day: not overdue until then (+ grace),
    # as the worklist says (plans.checkpoints.status_clause).
    not_held = or_(Checkpoint.held_until.is_(None), Checkpoint.held_until <= d)
    parts = [
        select(*columns).where(
            PENDING,
            Checkpoint.missed_on.is_not(None),
            Checkpoint.missed_on > d,
            Checkpoint.missed_on <= _p("window_end"),
            Checkpoint.overdue_on <= d,
            not_held,
            *scope,
        ),
        select(*columns).where(
            PENDING, Checkpoint.missed_on.is_(None), Checkpoint.overdue_on <= d, not_held, *scope
        ),
    ]
    if shape.past:
        not_missed = or_(Checkpoint.missed_on.is_(None), Checkpoint.missed_on > d)
        done_after = and_(DONE, Checkpoint.completed_on > d)
        parts.append(
            select(*columns).where(done_after, Checkpoint.overdue_on <= d, not_missed, *scope)
        )
    return union_all(*parts).subquery("overdue")


@cache
def missed_source(shape: Shape, with_plan: bool = False) -> Subquery:
    """Steps that expired unworked during the period (up to the as-of day).

    Steps still unworked now: a step worked late after it expired is not counted as
    missed for an earlier day (its lateness shows in the on-time rate)."""
    in_period = and_(
        Checkpoint.missed_on.is_not(None),
        Checkpoint.missed_on >= _p("period_from"),
        Checkpoint.missed_on <= _p("until"),
    )
    steps = select(*_columns(with_plan)).where(PENDING, in_period, *_scope_terms(shape))
    return steps.subquery("missed")


@cache
def due_source(shape: Shape, with_plan: bool = False) -> Subquery:
    """Steps that fell due in the period and whose grace had ended by the as-of day,
    with whether each was done by then and on time: the rates' denominator."""
    done = and_(DONE, Checkpoint.completed_on <= _p("as_of"))
    return (
        select(
            *_columns(with_plan),
            case((done, 1), else_=0).label("done"),
            case((and_(done, Checkpoint.late.is_(False)), 1), else_=0).label("on_time"),
        )
        .where(
            WORKABLE,
            Checkpoint.due_on >= _p("period_from"),
            Checkpoint.due_on <= _p("until"),
            Checkpoint.overdue_on <= _p("as_of"),
            *_scope_terms(shape),
        )
        .subquery("due")
    )


def _bucket_sums(due_on: Any) -> list[Any]:
    """One SUM per bucket, by comparing dates (portable: no date arithmetic in SQL)."""
    sums = []
    for b in BUCKETS:
        term = due_on <= _p(f"b{b.low}_newest")
        if b.high is not None:
            term = and_(term, due_on >= _p(f"b{b.low}_oldest"))
        sums.append(func.sum(case((term, 1), else_=0)).label(f"b{b.low}"))
    return sums


# --- Figures -------------------------------------------------------------------------------


@dataclass
class Figures:
    overdue: list[int] = field(default_factory=lambda: [0] * len(BUCKETS))
    missed: int = 0
    due: int = 0
    done: int = 0
    on_time: int = 0
    escalations: int = 0

    @property
    def overdue_total(self) -> int:
        return sum(self.overdue)

    @property
    def completion_rate(self) -> float | None:
        return self.done / self.due if self.due else None

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    def add(self, other: Figures) -> None:
        self.overdue = [a + b for a, b in zip(self.overdue, other.overdue, strict=True)]
        self.missed += other.missed
        self.due += other.due
        self.done += other.done
        self.on_time += other.on_time
        self.escalations += other.escalations


@dataclass
class Row:
    """One child of the scope: a region, a store or a person."""

    level: Level
    key: str | int | None
    label: str
    code: str = ""
    figures: Figures = field(default_factory=Figures)


@dataclass
class StepRow:
    protocol_id: str
    key: str
    protocol_title: Text | None
    step_title: StepTitle | None
    overdue: list[int]

    @property
    def total(self) -> int:
        return sum(self.overdue)


@dataclass
class Report:
    query: AuditQuery
    rows: list[Row]
    total: Figures
    by_step: list[StepRow]
    escalation_ages: list[int]


def _child_key(level: Level, assignee: Any) -> Any:
    """The child a per-person aggregate rolls up to."""
    return {"region": Store.region, "store": Staff.store_id}.get(level, assignee)


def _rollup(per_person: AnySelect, level: Level) -> AnySelect:
    """Aggregate per person first (index-only), then roll the few rows up to the level."""
    sub = per_person.subquery("per_person")
    metrics = [c for c in sub.c if c.name != "assignee_id"]
    key = _child_key(level, sub.c.assignee_id)
    return (
        select(key.label("key"), *[func.sum(c).label(c.name) for c in metrics])
        .select_from(sub)
        .join(Staff, Staff.id == sub.c.assignee_id)
        .outerjoin(Store, Store.id == Staff.store_id)
        .group_by(key)
    )


def _child_level(q: AuditQuery) -> Level:
    return CHILD.get(q.scope.level, "staff")


@cache
def _figure_statements(shape: Shape, level: Level) -> tuple[AnySelect, ...]:
    """Per child of the scope: overdue by bucket, missed, due/done/on time, escalations."""
    od = overdue_source(shape)
    overdue = select(od.c.assignee_id, *_bucket_sums(od.c.due_on)).group_by(od.c.assignee_id)
    ms = missed_source(shape)
    missed = select(ms.c.assignee_id, func.count().label("missed")).group_by(ms.c.assignee_id)
    du = due_source(shape)
    due = select(
        du.c.assignee_id,
        func.count().label("due"),
        func.sum(du.c.done).label("done"),
        func.sum(du.c.on_time).label("on_time"),
    ).group_by(du.c.assignee_id)
    return (
        _rollup(overdue, level),
        _rollup(missed, level),
        _rollup(due, level),
        _escalations_per_child(shape, level),
    )


def _figures(session: Session, q: AuditQuery, params: dict[str, Any]) -> dict[Any, Figures]:
    found: dict[Any, Figures] = {}

    def at(key: Any) -> Figures:
        return found.setdefault(key, Figures())

    overdue, missed, due, escalations = _figure_statements(shape_of(q), _child_level(q))
    for r in session.execute(overdue, params):
        at(r.key).overdue = [int(r._mapping[f"b{b.low}"] or 0) for b in BUCKETS]
    for r in session.execute(missed, params):
        at(r.key).missed = int(r.missed or 0)
    for r in session.execute(due, params):
        f = at(r.key)
        f.due, f.done, f.on_time = int(r.due or 0), int(r.done or 0), int(r.on_time or 0)
    for key, count in session.execute(escalations, params):
        at(key).escalations = int(count)
    return found


# --- Escalations -------------------------------------------------------------------------


def _end_of(day: date) -> datetime:
    """The first moment after `day` in the chain's time zone."""
    return datetime.combine(day + timedelta(days=1), time(), get_settings().zone)


def _open_escalations(shape: Shape) -> AnySelect:
    """Escalations open at the end of the as-of day (raised by then, not resolved by then)."""
    end = _p("esc_end", UTCDateTime())
    still_open = or_(ESC_OPEN, Escalation.resolved_at >= end) if shape.past else ESC_OPEN
    stmt = select(Escalation).where(still_open, Escalation.raised_at < end)
    if shape.scope == "staff":
        stmt = stmt.where(Escalation.assignee_id == _p("scope_staff", IdType))
    elif shape.scope == "store":
        stmt = stmt.where(Escalation.store_id == _p("scope_store", IdType))
    elif shape.scope == "region":
        in_region = select(Store.id).where(Store.region == _p("scope_region", String()))
        stmt = stmt.where(Escalation.store_id.in_(in_region))
    if shape.protocol:
        of_protocol = select(CarePlan.id).where(
            CarePlan.protocol_id == _p("scope_protocol", String())
        )
        stmt = stmt.where(Escalation.plan_id.in_(of_protocol))
    return stmt


def _escalations_per_child(shape: Shape, level: Level) -> AnySelect:
    esc = _open_escalations(shape).subquery("esc")
    key = {"region": Store.region, "store": esc.c.store_id}.get(level, esc.c.assignee_id)
    return (
        select(key, func.count())
        .select_from(esc)
        .join(Store, Store.id == esc.c.store_id)
        .group_by(key)
    )


@cache
def _escalation_ages_statement(shape: Shape) -> AnySelect:
    esc = _open_escalations(shape).subquery("esc")
    sums = []
    for b in AGE_BUCKETS:
        term = esc.c.raised_at < _p(f"age{b.low}_before", UTCDateTime())
        if b.high is not None:
            term = and_(term, esc.c.raised_at >= _p(f"age{b.low}_from", UTCDateTime()))
        sums.append(func.sum(case((term, 1), else_=0)))
    return select(*sums).select_from(esc)


def _escalation_ages(session: Session, q: AuditQuery, params: dict[str, Any]) -> list[int]:
    row = session.execute(_escalation_ages_statement(shape_of(q)), params).one()
    return [int(v or 0) for v in row]


# --- The report ---------------------------------------------------------------------------


@cache
def _children_statement(level: Level, one_person: bool) -> AnySelect:
    if level == "region":
        return select(Store.region).distinct().order_by(Store.region)
    if level == "store":
        stores = select(Store.id, Store.code, Store.name)
        return stores.where(Store.region == _p("scope_region", String())).order_by(Store.code)
    people = select(Staff.id, Staff.name, Staff.username)
    people = people.where(Staff.store_id == _p("scope_store", IdType))
    return people.where(Staff.id == _p("scope_staff", IdType)) if one_person else people


def _children(session: Session, q: AuditQuery) -> list[Row]:
    """Every child of the scope, including those with nothing overdue."""
    s, level = q.scope, _child_level(q)
    stmt = _children_statement(level, s.staff_id is not None)
    found = session.execute(
        stmt, {"scope_region": s.region, "scope_store": s.store_id, "scope_staff": s.staff_id}
    )
    if level == "region":
        return [Row("region", r, r) for (r,) in found]
    if level == "store":
        return [Row("store", i, name, code) for i, code, name in found]
    return [Row("staff", i, name, user) for i, name, user in found]


def _worst_first(row: Row) -> tuple[int, int, str]:
    return (-row.figures.overdue_total, -row.figures.missed, str(row.label))


def report(session: Session, actor: Actor, q: AuditQuery) -> Report:
    """The figures of one scope, broken down one level (chain → regions → stores → staff)."""
    require_manager(actor)
    params = params_of(session, q)
    figures = _figures(session, q, params)
    rows = _children(session, q)
    known = {r.key for r in rows}
    for key in figures:
        if key not in known:  # e.g. a step still assigned to someone who left the store
            rows.append(Row(_child_level(q), key, "—" if key is None else str(key)))
    total = Figures()
    for r in rows:
        r.figures = figures.get(r.key, r.figures)
        total.add(r.figures)
    rows.sort(key=_worst_first)
    by_steps = by_step(session, q, params)
    return Report(q, rows, total, by_steps, _escalation_ages(session, q, params))


def _step_title(protocol: Protocol | None, key: str) -> StepTitle | None:
    """A step's title in the newest version (a routine contact with its month and number);
    None for a step that version dropped."""
    try:
        return step_title(protocol, key) if protocol is not None else None
    except KeyError:
        return None


def _step_order(protocol: Protocol | None, key: str) -> tuple[int, str]:
    """Where a step stands in its protocol: fixed steps as written, then the routine
    contacts (their keys sort by month and number), then steps a newer version dropped."""
    if protocol is None:
        return (0, key)
    fixed = len(protocol.checkpoints)
    try:
        step = step_of(protocol, key)
    except KeyError:
        return (fixed + 1, key)
    return (fixed, key) if step in protocol.tails else (protocol.checkpoints.index(step), "")


@cache
def _by_step_statement(shape: Shape) -> AnySelect:
    od = overdue_source(shape)
    stmt = select(od.c.protocol_id, od.c.key, *_bucket_sums(od.c.due_on))
    return stmt.group_by(od.c.protocol_id, od.c.key)


def by_step(session: Session, q: AuditQuery, params: dict[str, Any] | None = None) -> list[StepRow]:
    """Overdue steps by protocol and step, in the protocol's order of steps."""
    params = params if params is not None else params_of(session, q)
    rows = session.execute(_by_step_statement(shape_of(q)), params).all()
    protocols = newest_definitions(session) if rows else {}
    found = [
        StepRow(
            r.protocol_id,
            r.key,
            protocols[r.protocol_id].title if r.protocol_id in protocols else None,
            _step_title(protocols.get(r.protocol_id), r.key),
            [int(r._mapping[f"b{b.low}"] or 0) for b in BUCKETS],
        )
        for r in rows
    ]
    return sorted(
        found, key=lambda s: (s.protocol_id, _step_order(protocols.get(s.protocol_id), s.key))
    )


@dataclass(frozen=True)
class Names:
    """Protocol and step titles (zh and en) of the newest versions, for pages and CSVs
    that list ids: a reader sees names, a spreadsheet keeps the ids beside them."""

    definitions: dict[str, Protocol]

    def protocol(self, protocol_id: str) -> Text | None:
        found = self.definitions.get(protocol_id)
        return found.title if found is not None else None

    def step(self, protocol_id: str, key: str) -> StepTitle | None:
        return _step_title(self.definitions.get(protocol_id), key)


def names(session: Session) -> Names:
    return Names(newest_definitions(session))


# --- The steps themselves -----------------------------------------------------------------


@dataclass(frozen=True)
class StepFilter:
    status: ListStatus = "overdue"
    bucket: str | None = None
    step_key: str | None = None


@dataclass(frozen=True)
class AuditStep:
    checkpoint_id: int
    member_id: int
    member_name: str
    card_number: str
    region: str
    store_code: str
    staff_id: int
    staff_name: str
    protocol_id: str
    step_key: str
    due_on: date
    days_overdue: int
    outcome: str  # overdue | missed | done | done_late | not_done
    # Overdue already when its member was handed over to staff_name: the previous
    # holder, the day of the hand-over, and the days overdue since (the holder's own).
    inherited_from: str
    inherited_on: date | None
    days_overdue_since_hand_over: int | None


def _list_source(shape: Shape, f: StepFilter, with_plan: bool = False) -> Subquery:
    if f.status == "overdue":
        return overdue_source(shape, with_plan)
    if f.status == "missed":
        return missed_source(shape, with_plan)
    return due_source(shape, with_plan)


def _list_terms(src: Subquery, f: StepFilter) -> list[ColumnElement[bool]]:
    terms: list[ColumnElement[bool]] = []
    if f.bucket:
        b = bucket_of(f.bucket)
        terms.append(src.c.due_on <= _p(f"b{b.low}_newest"))
        if b.high is not None:
            terms.append(src.c.due_on >= _p(f"b{b.low}_oldest"))
    if f.step_key:
        terms.append(src.c.key == _p("step_key", String()))
    return terms


def _list_params(session: Session, q: AuditQuery, f: StepFilter) -> dict[str, Any]:
    return params_of(session, q) | {"step_key": f.step_key}


def _outcome(src: Subquery, f: StepFilter) -> Any:
    if f.status != "due":
        return literal(f.status)
    return case(
        (src.c.on_time == 1, literal("done")),
        (src.c.done == 1, literal("done_late")),
        else_=literal("not_done"),
    )


class DaysBetween(FunctionElement[int]):
    """Whole days from the first date to the second, in SQL (neither database has a
    portable spelling): a listed step's days overdue come with its row."""

    type = Integer()
    inherit_cache = True


@compiles(DaysBetween, "sqlite")
def _days_sqlite(element: DaysBetween, compiler: Any, **kw: Any) -> str:
    early, late = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({late}) - julianday({early}) AS INTEGER)"


@compiles(DaysBetween, "postgresql")
def _days_postgresql(element: DaysBetween, compiler: Any, **kw: Any) -> str:
    early, late = (compiler.process(c, **kw) for c in element.clauses)
    return f"({late} - {early})"


def _days_overdue(src: Subquery, f: StepFilter) -> Any:
    """Days since the step was due, as of the audit's day: for an open step and for a
    missed one (how long ago it was let go); the "due in the period" list mixes done
    steps in, so it says none."""
    return DaysBetween(src.c.due_on, _p("as_of")) if f.status != "due" else literal(0)


def _detail(ordered: Subquery, f: StepFilter) -> AnySelect:
    """Names for a set of steps: member, store, person; one row per step in the order
    of AuditStep's fields, so rows go to a CSV writer as they come.

    A page (cut from a source without plans, so the cut reads only the index) looks each
    step's plan up by its key, one row at a time, in a scalar subquery: a plain join let
    SQLite start from the checkpoint table instead. An export's source carries the plan."""
    found = [_days_overdue(ordered, f).label("days"), _outcome(ordered, f).label("outcome")]
    if "plan_id" not in ordered.c:
        plan_of = select(Checkpoint.plan_id).where(Checkpoint.id == ordered.c.id)
        found.append(plan_of.scalar_subquery().label("plan_id"))
    steps = select(ordered, *found).subquery("steps")
    # Looked up by the step's key, as the plan is: only a few steps were ever inherited.
    inherited_on = select(Checkpoint.inherited_on).where(Checkpoint.id == steps.c.id)
    previous = (
        select(Staff.name)
        .join(Checkpoint, Checkpoint.inherited_from_id == Staff.id)
        .where(Checkpoint.id == steps.c.id)
    )
    since = (
        select(DaysBetween(Checkpoint.inherited_on, _p("as_of"))).where(
            Checkpoint.id == steps.c.id, Checkpoint.inherited_on.is_not(None)
        )
        if f.status == "overdue"
        else select(literal(None))
    )
    return (
        select(
            steps.c.id,
            Member.id,
            Member.name,
            Member.card_number,
            func.coalesce(Store.region, ""),
            func.coalesce(Store.code, ""),
            steps.c.assignee_id,
            Staff.name,
            steps.c.protocol_id,
            steps.c.key,
            steps.c.due_on,
            steps.c.days,
            steps.c.outcome,
            func.coalesce(previous.scalar_subquery(), ""),
            inherited_on.scalar_subquery(),
            since.scalar_subquery(),
        )
        .select_from(steps)
        .join(CarePlan, CarePlan.id == steps.c.plan_id)
        .join(Member, Member.id == CarePlan.member_id)
        .join(Staff, Staff.id == steps.c.assignee_id)
        .outerjoin(Store, Store.id == Staff.store_id)
        .order_by(steps.c.due_on, steps.c.id)
    )


@cache
def _count_statement(shape: Shape, f: StepFilter) -> AnySelect:
    src = _list_source(shape, f)
    return select(func.count()).select_from(src).where(*_list_terms(src, f))


def count_steps(session: Session, actor: Actor, q: AuditQuery, f: StepFilter) -> int:
    require_manager(actor)
    stmt = _count_statement(shape_of(q), f)
    return int(session.scalar(stmt, _list_params(session, q, f)) or 0)


@cache
def _page_statement(shape: Shape, f: StepFilter) -> AnySelect:
    src = _list_source(shape, f)
    page = (
        select(src)
        .where(*_list_terms(src, f))
        .order_by(src.c.due_on, src.c.id)
        .limit(bindparam("limit", type_=Integer()))
        .offset(bindparam("offset", type_=Integer()))
        .subquery("page")
    )
    return _detail(page, f)


def list_steps(
    session: Session, actor: Actor, q: AuditQuery, f: StepFilter, *, limit: int, offset: int
) -> list[AuditStep]:
    """One page of steps, oldest first. The page is cut before the names are joined, so
    a page costs its own rows, not every row in scope."""
    require_manager(actor)
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(N_("page size must be 1 to %(most)s"), field="limit", most=MAX_PAGE_SIZE)
    params = _list_params(session, q, f) | {"limit": limit, "offset": offset}
    rows = session.execute(_page_statement(shape_of(q), f), params)
    return [AuditStep(*r) for r in rows]


@cache
def _all_statement(shape: Shape, f: StepFilter) -> AnySelect:
    src = _list_source(shape, f, with_plan=True)
    terms = _list_terms(src, f)
    ordered = select(src).where(*terms).subquery("rows") if terms else src
    return _detail(ordered, f).execution_options(yield_per=CSV_CHUNK)


def step_rows(
    session: Session, actor: Actor, q: AuditQuery, f: StepFilter
) -> Iterator[tuple[Any, ...]]:
    """Every step in scope as a tuple in the order of STEP_FIELDS, oldest first, fetched
    in chunks from one query (a server-side cursor on PostgreSQL): the CSV exports stream
    this, without an object per row."""
    require_manager(actor)
    stmt = _all_statement(shape_of(q), f)
    if session.get_bind().dialect.name == "postgresql":
        # Every row will be read: plan the cursor for the whole result, not (PostgreSQL's
        # default for cursors) for its first tenth, which picks a slower plan here.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1"))
    # Core, not the ORM's result: nothing here is an entity, and rows are not touched.
    yield from session.connection().execute(stmt, _list_params(session, q, f))


def iter_steps(session: Session, actor: Actor, q: AuditQuery, f: StepFilter) -> Iterator[AuditStep]:
    """Every step in scope, oldest first."""
    return (AuditStep(*row) for row in step_rows(session, actor, q, f))


# --- CSV ------------------------------------------------------------------------------------


def rate_text(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def row_values(row: Row) -> list[Any]:
    f = row.figures
    return [
        row.code or row.key,
        row.label,
        *f.overdue,
        f.overdue_total,
        f.missed,
        f.due,
        f.done,
        f.on_time,
        rate_text(f.completion_rate),
        rate_text(f.on_time_rate),
        f.escalations,
    ]


ROW_FIELDS = [
    "key",
    "name",
    *[f"overdue_{b.label}" for b in BUCKETS],
    "overdue",
    "missed",
    "due",
    "done",
    "on_time",
    "completion_rate_pct",
    "on_time_rate_pct",
    "open_escalations",
]
BY_STEP_FIELDS = [
    "protocol_id",
    "step_key",
    *[f"overdue_{b.label}" for b in BUCKETS],
    "overdue",
]
STEP_FIELDS = [f.name for f in fields(AuditStep)]  # one column per field, in order


def by_step_values(s: StepRow) -> list[Any]:
    return [s.protocol_id, s.key, *s.overdue, s.total]
