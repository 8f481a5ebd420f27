"""The generated chain's history, written by the database itself (careplan.demo.synthetic).

Steps outnumber members ten to one, and results nearly as much: made row by row in
Python they took most of a chain's build. Here each kind is one INSERT … SELECT that
joins the new plans to a small table of their protocols' steps per start date, so the
database makes millions of rows at its own speed.

What becomes of a step (done on time, late, missed, skipped, open) depends on where
today falls in its window, with the same odds as before. The dice are a hash of the
row's key and the seed (`_dice`), so the chain is the same for a seed on both databases.
Dates are day numbers, turned back into dates by joining a small calendar table.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Date,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    literal,
    literal_column,
    select,
    update,
)

from careplan.models.base import Base, UTCDateTime
from careplan.plans.schedule import PlannedStep

M = 2_147_483_647  # a prime: the dice are numbers below it
# Per die: a multiplier, an offset, and an offset for the square.
DICE = {
    "state": (1_103_515_245, 12_345, 1_013_904_223),
    "day": (1_140_671_485, 12_820_163, 22_695_477),
    "channel": (214_013, 2_531_011, 1_597_334_677),
    "stopped": (69_069, 1_234_567, 433_494_437),
    "adherence": (1_566_083_941, 7_654_321, 69_069),
    "measured": (16_807, 48_271, 1_103_515_245),
    "reading": (48_271, 16_807, 1_140_671_485),
    "still_open": (1_597_334_677, 22_695_477, 134_775_813),
    "resolved": (747_796_405, 433_494_437, 1_234_567),
}
RESOLUTION = "调整服药时间后好转"  # what the pharmacist wrote on a resolved case
READINGS = 100  # pre-drawn readings per protocol, picked by a die
MeasureFn = Callable[[random.Random], dict[str, Any]]


@dataclass(frozen=True)
class Odds:
    """Cumulative shares of a step's outcomes, in the order on time, late, still open (or
    missed, once its window has closed), skipped: a die below on_time × M is on time."""

    on_time: float
    late: float
    pending: float


# Where today falls in a step's window → what may have become of it (see _phase).
FUTURE = Odds(0.0, 0.0, 1.0)
HISTORY = Odds(0.78, 0.90, 0.96)  # window closed: 6% missed, 4% skipped
OVERDUE = Odds(0.40, 0.65, 1.0)  # 35% still open
OPEN = Odds(0.45, 0.45, 1.0)  # 55% not yet worked


def _n(value: int) -> ColumnElement[int]:
    return literal_column(str(value), BigInteger)


def _dice(key: ColumnElement[Any], die: str, seed: int) -> ColumnElement[int]:
    """A number in [0, M) from the key: linear, then squared, so that neighbouring keys
    do not get neighbouring numbers. Every product stays below 2**62: 64-bit integer
    arithmetic is exact on both databases."""
    a, b, c = DICE[die]
    x = (cast(key, BigInteger) % _n(M) * _n(a) + _n(b + seed)) % _n(M)
    return (x * x + _n(c)) % _n(M)


def _below(die: ColumnElement[int], share: float) -> ColumnElement[bool]:
    return die < _n(int(share * M))


class _Scratch:
    """Temporary tables, gone when the connection is returned."""

    def __init__(self) -> None:
        md = MetaData()
        self.steps = Table(
            "gen_steps", md,
            Column("protocol_id", String(64)), Column("start_date", Date),
            Column("key", String(64)), Column("seq", Integer),
            Column("open_on", Date), Column("due_on", Date), Column("overdue_on", Date),
            Column("missed_on", Date),
            Column("t_on_time", BigInteger), Column("t_late", BigInteger),
            Column("t_pending", BigInteger),
            Column("on_lo", Integer), Column("on_span", Integer),
            Column("late_lo", Integer), Column("late_span", Integer),
            Index("gen_steps_plan", "protocol_id", "start_date"),
            prefixes=["TEMPORARY"],
        )  # fmt: skip
        self.days = Table(
            "gen_days", md,
            Column("n", Integer, primary_key=True), Column("d", Date, unique=True),
            Column("at10", UTCDateTime()), Column("at11", UTCDateTime()),
            prefixes=["TEMPORARY"],
        )  # fmt: skip
        values_type = Base.metadata.tables["health_checks"].c["values"].type
        self.readings = Table(
            "gen_readings", md,
            Column("protocol_id", String(64)), Column("k", Integer),
            Column("kind", String(32)), Column("unit", String(16)), Column("vals", values_type),
            prefixes=["TEMPORARY"],
        )  # fmt: skip
        self.md = md

    def create(self, conn: Connection) -> None:
        self.md.drop_all(conn)
        self.md.create_all(conn)

    def drop(self, conn: Connection) -> None:
        self.md.drop_all(conn)


@dataclass
class History:
    """The steps of the new plans and all that follows from them, written in SQL."""

    conn: Connection
    seed: int
    today: date
    zone: ZoneInfo
    created: datetime
    scratch: _Scratch = field(default_factory=_Scratch)

    def prepare(
        self,
        templates: dict[tuple[str, date], list[PlannedStep]],
        measures: dict[str, tuple[str, str, MeasureFn]],
    ) -> None:
        """The steps of every (protocol, start day) the plans may have, and the calendar."""
        self.scratch.create(self.conn)
        self._fill(self.scratch, templates, measures)

    def write(self, first_plan: int, last_plan: int) -> dict[str, int]:
        """The history of the plans with ids first_plan..last_plan (just written)."""
        s = self.scratch
        first = {t: self._next_id(t) for t in ("checkpoints", "checkpoint_results")}
        counts = {
            "checkpoints": self._steps(s, first_plan, last_plan),
            "results": self._results(s, first["checkpoints"]),
        }
        counts["health_checks"] = self._health_checks(s, first["checkpoint_results"])
        counts["escalations"] = self._escalations(s, first["checkpoint_results"])
        return counts

    def finish(self) -> None:
        self.scratch.drop(self.conn)

    def _next_id(self, table: str) -> int:
        t = _table(table)
        return int(self.conn.scalar(select(func.coalesce(func.max(t.c.id), 0))) or 0) + 1

    # -- the small tables the big inserts join --

    def _fill(
        self,
        s: _Scratch,
        templates: dict[tuple[str, date], list[PlannedStep]],
        measures: dict[str, tuple[str, str, MeasureFn]],
    ) -> None:
        rows = [
            self._step_row(protocol_id, start, step)
            for (protocol_id, start), steps in sorted(templates.items())
            for step in steps
        ]
        if rows:
            self.conn.execute(insert(s.steps), rows)
        first = min((r["open_on"] for r in rows), default=self.today)
        self.conn.execute(insert(s.days), list(self._calendar(first, self.today + timedelta(8))))
        rng = random.Random(self.seed)
        readings = [
            {"protocol_id": p, "k": k, "kind": kind, "unit": unit, "vals": values(rng)}
            for p, (kind, unit, values) in sorted(measures.items())
            for k in range(READINGS)
        ]
        if readings:
            self.conn.execute(insert(s.readings), readings)

    def _step_row(self, protocol_id: str, start: date, step: PlannedStep) -> dict[str, Any]:
        d = step.dates
        odds, on, late = _phase(d.open_on, d.overdue_on, d.missed_on, self.today)
        return {
            "protocol_id": protocol_id, "start_date": start, "key": step.key, "seq": step.seq,
            "open_on": d.open_on, "due_on": d.due_on, "overdue_on": d.overdue_on,
            "missed_on": d.missed_on,
            "t_on_time": int(odds.on_time * M), "t_late": int(odds.late * M),
            "t_pending": int(odds.pending * M),
            "on_lo": on[0].toordinal(), "on_span": max(0, (on[1] - on[0]).days),
            "late_lo": late[0].toordinal(), "late_span": max(0, (late[1] - late[0]).days),
        }  # fmt: skip

    def _calendar(self, first: date, last: date) -> Iterable[dict[str, Any]]:
        for i in range((last - first).days + 1):
            day = first + timedelta(i)
            yield {
                "n": day.toordinal(), "d": day,
                "at10": datetime.combine(day, time(10), self.zone),
                "at11": datetime.combine(day, time(11), self.zone),
            }  # fmt: skip

    # -- the big inserts: each a mapping of target column to expression --

    def _steps(self, s: _Scratch, first_plan: int, last_plan: int) -> int:
        p, t = _table("care_plans"), s.steps
        key = _step_key(p.c.id, t.c.seq)
        plan_steps = and_(t.c.protocol_id == p.c.protocol_id, t.c.start_date == p.c.start_date)
        # Each die is cast once per row here; OFFSET 0 keeps both databases from folding
        # this into the outer query, which would cast it again at every use.
        rolled = (
            select(
                p.c.id,
                p.c.protocol_id,
                p.c.enrolled_by_id,
                *(c for c in t.c if c.name not in ("protocol_id", "start_date")),
                and_(p.c.stopped_on.is_not(None), t.c.open_on >= p.c.stopped_on).label("cancelled"),
                _dice(key, "state", self.seed).label("roll"),
                _dice(key, "day", self.seed).label("day"),
            )
            .select_from(p.join(t, plan_steps))
            .where(p.c.id.between(first_plan, last_plan))
            .offset(0)
            .subquery("rolled")
        )
        r, g = rolled.c, s.days
        on_time, late = r.roll < r.t_on_time, r.roll < r.t_late
        cancelled = r.cancelled == literal(True)
        done_n = case(
            (cancelled, None),
            (on_time, r.on_lo + r.day % (r.on_span + 1)),
            (late, r.late_lo + r.day % (r.late_span + 1)),
        )
        skipped = and_(~cancelled, r.roll >= r.t_pending)
        values = {
            "plan_id": r.id, "key": r.key, "protocol_id": r.protocol_id, "seq": r.seq,
            "open_on": r.open_on, "due_on": r.due_on, "overdue_on": r.overdue_on,
            "missed_on": r.missed_on,
            "state": case(
                (cancelled, literal("cancelled")),
                (late, literal("done")),
                (skipped, literal("skipped")),
                else_=literal("pending"),
            ),
            "assignee_id": r.enrolled_by_id, "completed_on": g.c.d,
            "late": and_(~cancelled, ~on_time, late),
            "skip_reason": case((skipped, literal("member in hospital"))),
            "version": literal(1), "created_at": literal(self.created, UTCDateTime()),
        }  # fmt: skip
        joined = rolled.outerjoin(g, g.c.n == done_n)
        return self._insert("checkpoints", values, joined)

    def _results(self, s: _Scratch, first_step: int) -> int:
        c, days = _table("checkpoints"), s.days
        key = _step_key(c.c.plan_id, c.c.seq)
        stopped = _below(_dice(key, "stopped", self.seed), 0.03)
        by_phone = _below(_dice(key, "channel", self.seed), 0.8)
        as_directed = _below(_dice(key, "adherence", self.seed), 0.88)
        values = {
            "checkpoint_id": c.c.id, "recorded_by_id": c.c.assignee_id,
            "recorded_at": days.c.at11, "contacted_on": c.c.completed_on,
            "channel": case((by_phone, literal("phone")), else_=literal("in_store")),
            "checklist": literal({}, _table("checkpoint_results").c.checklist.type),
            "adherence": case(
                (stopped, literal("stopped")),
                (as_directed, literal("as_directed")),
                else_=literal("missed_doses"),
            ),
            "stop_reason": case((stopped, literal("side_effects"))),
            "notes": literal(""), "late": c.c.late,
        }  # fmt: skip
        joined = c.join(days, days.c.d == c.c.completed_on)
        done = and_(c.c.id >= first_step, c.c.state == literal("done"))
        return self._insert("checkpoint_results", values, joined, done)

    def _health_checks(self, s: _Scratch, first_result: int) -> int:
        r, c, p, v = (
            _table("checkpoint_results"),
            _table("checkpoints"),
            _table("care_plans"),
            s.readings,
        )
        key = _step_key(c.c.plan_id, c.c.seq)
        measured = _below(_dice(key, "measured", self.seed), 0.3)
        pick = _dice(key, "reading", self.seed) % _n(READINGS)
        values = {
            "member_id": p.c.member_id, "checkpoint_id": c.c.id, "kind": v.c.kind,
            "values": v.c.vals, "unit": v.c.unit, "measured_at": r.c.recorded_at,
            "source": literal("in_store"), "recorded_by_id": r.c.recorded_by_id,
            "recorded_at": r.c.recorded_at, "note": literal(""),
        }  # fmt: skip
        joined = (
            r.join(c, c.c.id == r.c.checkpoint_id)
            .join(p, p.c.id == c.c.plan_id)
            .join(v, and_(v.c.protocol_id == c.c.protocol_id, v.c.k == pick))
        )
        return self._insert("health_checks", values, joined, and_(r.c.id >= first_result, measured))

    def _escalations(self, s: _Scratch, first_result: int) -> int:
        r, c, p, m = (
            _table(n) for n in ("checkpoint_results", "checkpoints", "care_plans", "members")
        )
        raised, due, done = s.days.alias("raised"), s.days.alias("due"), s.days.alias("done")
        recent = raised.c.n > _n(self.today.toordinal() - 45)
        key = _step_key(c.c.plan_id, c.c.seq)
        still_open = and_(recent, _below(_dice(key, "still_open", self.seed), 0.6))
        after = _n(1) + _dice(key, "resolved", self.seed) % _n(6)
        values = {
            "member_id": p.c.member_id, "store_id": m.c.home_store_id, "plan_id": p.c.id,
            "checkpoint_id": c.c.id, "reason": literal("side_effects"),
            "role": literal("pharmacist"), "assignee_id": c.c.assignee_id,
            "action_zh": literal("药师48小时内回访，评估副作用"),
            "action_en": literal("Pharmacist to call back within 48 h"), "due_on": due.c.d,
            # All written resolved, the ones meant to stay open marked by an empty
            # resolution; _reopen_latest then opens one per member and reason, as the
            # partial unique index allows.
            "status": literal("resolved"),
            "raised_by_id": c.c.assignee_id, "raised_at": raised.c.at11,
            "resolved_by_id": c.c.assignee_id, "resolved_at": done.c.at10,
            "resolution": case((still_open, literal("")), else_=literal(RESOLUTION)),
        }  # fmt: skip
        joined = (
            r.join(c, c.c.id == r.c.checkpoint_id)
            .join(p, p.c.id == c.c.plan_id)
            .join(m, m.c.id == p.c.member_id)
            .join(raised, raised.c.d == r.c.contacted_on)
            .join(due, due.c.n == raised.c.n + _n(2))
            .join(done, done.c.n == raised.c.n + after)
        )
        stopped = and_(r.c.id >= first_result, r.c.adherence == literal("stopped"))
        first = self._next_id("escalations")
        count = self._insert("escalations", values, joined, stopped)
        self._reopen_latest(first)
        return count

    def _reopen_latest(self, first: int) -> None:
        """Of the new escalations meant to stay open, the latest of each member and
        reason is open (unless an older one already is); the others were resolved."""
        e = _table("escalations")
        older = e.alias("older")
        already_open = (
            select(older.c.id)
            .where(
                older.c.member_id == e.c.member_id,
                older.c.reason == e.c.reason,
                older.c.status == literal("open"),
                older.c.id < first,
            )
            .exists()
        )
        latest = (
            select(func.max(e.c.id))
            .where(e.c.id >= first, e.c.resolution == literal(""), ~already_open)
            .group_by(e.c.member_id, e.c.reason)
        )
        self.conn.execute(
            update(e)
            .where(e.c.id.in_(latest))
            .values(status=literal("open"), resolved_by_id=None, resolved_at=None)
        )
        self.conn.execute(
            update(e)
            .where(e.c.id >= first, e.c.status == "resolved", e.c.resolution == "")
            .values(resolution=literal(RESOLUTION))
        )

    def _insert(
        self,
        table: str,
        values: dict[str, Any],
        joined: Any,
        where: ColumnElement[bool] | None = None,
    ) -> int:
        """One INSERT … SELECT. Its dice are keyed by plan and step, not by the new rows'
        ids, so what a seed makes does not hang on the order the database writes in."""
        query = select(*values.values()).select_from(joined)
        if where is not None:
            query = query.where(where)
        target = _table(table)
        first = self._next_id(table)
        self.conn.execute(insert(target).from_select(list(values), query))
        # Counted, not the driver's rowcount: psycopg's is -1 for INSERT … SELECT here.
        return int(self.conn.scalar(select(func.count()).where(target.c.id >= first)) or 0)


def _step_key(plan_id: ColumnElement[int], seq: ColumnElement[int]) -> ColumnElement[int]:
    return plan_id * _n(1024) + seq


def _table(name: str) -> Table:
    return Base.metadata.tables[name]


def _phase(
    open_on: date, overdue_on: date, missed_on: date | None, today: date
) -> tuple[Odds, tuple[date, date], tuple[date, date]]:
    """The odds for a step and the windows its on-time and late completion fall in."""
    if today < open_on:
        return FUTURE, (open_on, open_on), (open_on, open_on)
    end = missed_on or overdue_on + timedelta(days=30)
    on_time = (open_on, overdue_on - timedelta(days=1))
    if today >= end:  # its window has closed: history
        return HISTORY, on_time, (overdue_on, end - timedelta(days=1))
    if today >= overdue_on:  # overdue now, or worked late already
        return OVERDUE, on_time, (overdue_on, today)
    return OPEN, (open_on, today), (open_on, today)
