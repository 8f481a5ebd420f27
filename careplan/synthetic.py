"""A synthetic chain for benchmarks and rehearsals: `careplan demo generate`.

Stores in regions, a manager, a pharmacist and clerks per store, members each owned by a
clerk, plans of every protocol at every stage, and their history: steps done on time,
done late, missed, skipped, still open; results, health checks and escalations.
Deterministic for a seed and a 'today'.

Rows go in by the database's bulk path (COPY on PostgreSQL, executemany on SQLite) in
one transaction: millions of steps through the ORM would take hours. The dates follow
the protocols' own rules (schedule.plan_schedule), so the audit sees a real chain.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from threading import Thread
from typing import Any

from sqlalchemy import Connection, ForeignKeyConstraint, Index, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from careplan.config import get_settings
from careplan.demo import DEMO_PASSWORD, GIVEN, SURNAMES
from careplan.errors import InvalidInput
from careplan.models import ProtocolVersion, Store
from careplan.models.base import Base
from careplan.pinyin import name_initials
from careplan.protocols import definition_of
from careplan.schedule import PlannedStep, plan_schedule
from careplan.staff import hash_password

REGIONS = ("华东", "华北", "华南", "华中", "西南", "西北", "东北")
DISTRICTS = ("人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "胜利路", "长江路")
HISTORY_DAYS = 3 * 365
MEMBERS_PER_CLERK = 250
# How many plans a member has had over the years (weights for 0..4).
PLAN_COUNTS = (0, 1, 2, 3, 4)
PLAN_WEIGHTS = (20, 50, 20, 7, 3)
MEASURES = {
    "hypertension": ("blood_pressure", "mmHg", lambda r: {"systolic": r.randint(115, 165),
                                                           "diastolic": r.randint(70, 100)}),
    "diabetes_t2": ("blood_glucose", "mmol/L", lambda r: {"value": round(r.uniform(5, 11), 1)}),
    "osteoporosis": ("bone_density", "T", lambda r: {"t_score": round(r.uniform(-3.5, -1), 1)}),
}  # fmt: skip
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ChainSpec:
    stores: int
    members: int
    seed: int
    today: date

    def check(self) -> None:
        if not 1 <= self.stores <= 100_000:
            raise InvalidInput("stores must be 1 to 100000", field="stores")
        if not self.stores <= self.members <= 100_000_000:
            raise InvalidInput("members must be at least one per store", field="members")
        if not 0 <= self.seed <= 999:
            raise InvalidInput("seed must be 0 to 999", field="seed")


@dataclass
class Counts:
    stores: int = 0
    staff: int = 0
    members: int = 0
    plans: int = 0
    checkpoints: int = 0
    results: int = 0
    health_checks: int = 0
    escalations: int = 0


@dataclass
class _Template:
    """A protocol's steps for a start date, computed once per (protocol, start)."""

    version_id: int
    steps: list[PlannedStep]
    measure: tuple[str, str, Callable[[random.Random], dict[str, Any]]] | None
    # Each step's dates as stored (open, due, overdue, missed), formatted once.
    stored: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stored = [
            (
                s.dates.open_on.isoformat(),
                s.dates.due_on.isoformat(),
                s.dates.overdue_on.isoformat(),
                s.dates.missed_on.isoformat() if s.dates.missed_on else None,
            )
            for s in self.steps
        ]


@dataclass
class _Batch:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


COLUMNS = {
    "stores": ("id", "code", "name", "region", "address", "phone", "created_at"),
    "staff": ("id", "username", "name", "phone", "role", "store_id", "active", "language",
              "password_hash", "failed_sign_ins", "created_at"),
    "members": ("id", "card_number", "home_store_id", "owner_id", "language", "name",
                "name_initials", "sex", "birthday", "mobile", "medical_history",
                "drug_allergies", "regular_medicines", "chronic_conditions", "hobbies",
                "special_dates", "health_consent", "health_consent_at", "created_at"),
    "ownerships": ("id", "member_id", "staff_id", "started_at", "reason", "note"),
    "care_plans": ("id", "member_id", "protocol_id", "protocol_version_id", "start_date",
                   "end_date", "status", "shift_days", "stopped_on", "stop_reason",
                   "completed_on", "enrolled_by_id", "enrolled_at", "created_at"),
    "checkpoints": ("id", "plan_id", "key", "protocol_id", "seq", "open_on", "due_on",
                    "overdue_on", "missed_on", "state", "assignee_id", "completed_on", "late",
                    "skip_reason", "version", "created_at"),
    "checkpoint_results": ("id", "checkpoint_id", "recorded_by_id", "recorded_at",
                           "contacted_on", "channel", "checklist", "adherence", "stop_reason",
                           "notes", "late"),
    "health_checks": ("id", "member_id", "checkpoint_id", "kind", "values", "unit",
                      "measured_at", "source", "recorded_by_id", "recorded_at", "note"),
    "escalations": ("id", "member_id", "store_id", "plan_id", "checkpoint_id", "reason", "role",
                    "assignee_id", "action_zh", "action_en", "due_on", "status", "raised_by_id",
                    "raised_at", "resolved_by_id", "resolved_at", "resolution"),
}  # fmt: skip
ORDER = tuple(COLUMNS)


class _Writer:
    """Bulk rows into one connection's transaction, by the database's fastest path."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.next_id = {t: self._max_id(t) + 1 for t in ORDER}

    def _max_id(self, table: str) -> int:
        return int(self.conn.scalar(select(func.max(Base.metadata.tables[table].c.id))) or 0)

    def ids(self, table: str, n: int = 1) -> int:
        first = self.next_id[table]
        self.next_id[table] += n
        return first

    def moment(self, value: datetime) -> str:
        utc = value.astimezone(UTC)
        return utc.strftime("%Y-%m-%d %H:%M:%S+00" if self.pg else "%Y-%m-%d %H:%M:%S.000000")

    def write(self, batch: _Batch) -> None:
        for table in ORDER:
            rows = batch.rows.get(table)
            if rows:
                self._copy(table, rows) if self.pg else self._insert(table, rows)

    def _insert(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        cols = COLUMNS[table]
        names = ", ".join(f'"{c}"' for c in cols)
        sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(cols))})"
        self.conn.exec_driver_sql(sql, rows)

    def _copy(self, table: str, rows: list[tuple[Any, ...]]) -> None:
        cols = ", ".join(f'"{c}"' for c in COLUMNS[table])
        raw = self.conn.connection.driver_connection
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # type: ignore[union-attr]
            copy.write("".join(_tsv(r) for r in rows))

    def finish(self) -> None:
        if self.pg:  # identity sequences continue after the ids given here
            for table in ORDER:
                self.conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"GREATEST((SELECT max(id) FROM {table}), 1))"
                    )
                )


def _tsv(row: Iterable[Any]) -> str:
    return "\t".join("\\N" if v is None else str(v) for v in row) + "\n"


class _Chain:
    def __init__(self, session: Session, spec: ChainSpec, writer: _Writer) -> None:
        self.spec, self.w = spec, writer
        self.rng = random.Random(spec.seed)
        self.zone = get_settings().zone
        self.counts = Counts()
        self.versions = self._versions(session)
        self.templates: dict[tuple[str, date], _Template] = {}
        self.moments: dict[tuple[date, int], str] = {}
        self.days: dict[date, str] = {}
        self.write_error: Exception | None = None
        self.initials = {s + g: name_initials(s + g) for s in SURNAMES for g in GIVEN}
        self.created = writer.moment(datetime.combine(spec.today, time(9), self.zone))
        self.prefix = f"{spec.seed:03d}"

    @staticmethod
    def _versions(session: Session) -> dict[str, ProtocolVersion]:
        latest: dict[str, ProtocolVersion] = {}
        for row in session.scalars(select(ProtocolVersion).order_by(ProtocolVersion.version)):
            latest[row.protocol_id] = row
        if not latest:
            raise InvalidInput("run `careplan protocols load` first", field="protocols")
        return latest

    def template(self, protocol_id: str, start: date) -> _Template:
        found = self.templates.get((protocol_id, start))
        if found is None:
            row = self.versions[protocol_id]
            found = _Template(
                row.id, plan_schedule(definition_of(row), start), MEASURES.get(protocol_id)
            )
            self.templates[(protocol_id, start)] = found
        return found

    def day(self, day: date) -> str:
        found = self.days.get(day)
        if found is None:
            found = self.days[day] = day.isoformat()
        return found

    def at(self, day: date, hour: int = 10) -> str:
        key = (day, hour)
        found = self.moments.get(key)
        if found is None:
            found = self.moments[key] = self.w.moment(datetime.combine(day, time(hour), self.zone))
        return found

    # -- stores and staff --

    def stores(self) -> list[tuple[int, str, list[int]]]:
        """(store id, region, clerk ids) for each new store."""
        spec, batch, out = self.spec, _Batch(), []
        clerks_each = max(2, round(spec.members / spec.stores / MEMBERS_PER_CLERK))
        password = hash_password(DEMO_PASSWORD)
        for n in range(1, spec.stores + 1):
            sid, region = self.w.ids("stores"), REGIONS[(n - 1) % len(REGIONS)]
            code = f"G{self.prefix}{n:05d}"
            name = f"益康大药房·{DISTRICTS[n % len(DISTRICTS)]}{n}号店"
            phone = f"0{n % 900 + 100}-{n:08d}"
            batch.add("stores", (sid, code, name, region, f"{region}{name}", phone, self.created))
            staff = [("manager", "store_manager"), ("pharmacist", "pharmacist")]
            staff += [(f"clerk{k}", "clerk") for k in range(1, clerks_each + 1)]
            clerks = []
            for suffix, role in staff:
                pid = self.w.ids("staff")
                name = self.person()
                batch.add("staff", (pid, f"{code.lower()}.{suffix}", name, "", role, sid, 1, "zh",
                                    password, 0, self.created))  # fmt: skip
                if role == "clerk":
                    clerks.append(pid)
            out.append((sid, region, clerks))
        for region in REGIONS[: min(spec.stores, len(REGIONS))]:
            username = f"g{self.prefix}.supervisor.{REGIONS.index(region) + 1}"
            batch.add("staff", (self.w.ids("staff"), username, self.person(), "", "supervisor",
                                None, 1, "zh", password, 0, self.created))  # fmt: skip
        self.counts.stores = spec.stores
        self.counts.staff = len(batch.rows["staff"])
        self.w.write(batch)
        return out

    def person(self) -> str:
        return self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)

    # -- members and their history --

    def members(self, stores: Sequence[tuple[int, str, list[int]]], progress: Progress) -> None:
        spec, rng = self.spec, self.rng
        batch, pending = _Batch(), 0
        # The database takes one batch while the next is made (the driver releases
        # the GIL while it waits), so generating and loading overlap on two cores.
        writing: Thread | None = None
        for n in range(spec.members):
            store_id, _, clerks = stores[n % len(stores)]
            owner = clerks[rng.randrange(len(clerks))]
            pending += self.member(batch, n, store_id, owner)
            if pending >= 20_000:
                writing = self._hand_over(writing, batch)
                progress(pending)
                batch, pending = _Batch(), 0
        writing = self._hand_over(writing, batch)
        self._hand_over(writing, None)
        progress(pending)

    def _hand_over(self, writing: Thread | None, batch: _Batch | None) -> Thread | None:
        """Wait for the previous batch to be written (re-raising its error), start this one."""
        if writing is not None:
            writing.join()
            if self.write_error is not None:
                raise self.write_error
        if batch is None:
            return None
        thread = Thread(target=self._write, args=(batch,), name="bulk-writer")
        thread.start()
        return thread

    def _write(self, batch: _Batch) -> None:
        try:
            self.w.write(batch)
        except Exception as exc:  # handed to the generating thread by _hand_over
            self.write_error = exc

    def member(self, batch: _Batch, n: int, store_id: int, owner: int) -> int:
        rng, today = self.rng, self.spec.today
        mid = self.w.ids("members")
        name = self.person()
        joined = today - timedelta(days=rng.randrange(30, HISTORY_DAYS + 200))
        count = rng.choices(PLAN_COUNTS, PLAN_WEIGHTS)[0]
        chosen = rng.sample(sorted(self.versions), min(count, len(self.versions)))
        consent = self.at(joined)
        batch.add("members", (
            mid, f"9{self.prefix}{n:010d}", store_id, owner, "zh", name, self.initials[name],
            rng.choice(("female", "male")), date(rng.randint(1940, 1975), rng.randint(1, 12),
                                                  rng.randint(1, 28)).isoformat(),
            f"13{rng.randrange(10**9):09d}", "[]", "[]", "[]",
            json.dumps(chosen, ensure_ascii=False), "[]", "[]", 1, consent, consent,
        ))  # fmt: skip
        batch.add("ownerships", (self.w.ids("ownerships"), mid, owner, consent, "registered", ""))
        self.counts.members += 1
        steps = 0
        for protocol_id in chosen:
            start = today - timedelta(days=rng.randrange(0, HISTORY_DAYS))
            steps += self.plan(batch, mid, store_id, owner, protocol_id, start)
        return steps

    def plan(
        self, batch: _Batch, mid: int, store_id: int, owner: int, protocol_id: str, start: date
    ) -> int:
        rng, today = self.rng, self.spec.today
        t = self.template(protocol_id, start)
        pid = self.w.ids("care_plans")
        stopped = rng.random() < 0.05 and t.steps[-1].dates.due_on < today
        stop_at = rng.randrange(1, len(t.steps)) if stopped else len(t.steps)
        last = t.steps[-1].dates
        over = last.missed_on or last.overdue_on
        status, stopped_on, completed_on = "active", None, None
        if stopped:
            status, stopped_on = "stopped", t.steps[stop_at].dates.open_on
        elif over <= today:
            status, completed_on = "completed", over.isoformat()
        enrolled = self.at(start, 9)
        batch.add("care_plans", (
            pid, mid, protocol_id, t.version_id, start.isoformat(), None, status, 0,
            stopped_on.isoformat() if stopped_on else None,
            "member moved away" if stopped else None, completed_on, owner, enrolled, enrolled,
        ))  # fmt: skip
        self.counts.plans += 1
        for i in range(len(t.steps)):
            self.step(batch, mid, store_id, owner, pid, protocol_id, i, t, i >= stop_at)
        return len(t.steps)

    def step(
        self,
        batch: _Batch,
        mid: int,
        store_id: int,
        owner: int,
        pid: int,
        protocol_id: str,
        index: int,
        t: _Template,
        cancelled: bool,
    ) -> None:
        step, today, rng = t.steps[index], self.spec.today, self.rng
        state, done_on, late = self.outcome(step.dates, today, cancelled)
        cid = self.w.ids("checkpoints")
        done_text = self.day(done_on) if done_on else None
        batch.add("checkpoints", (
            cid, pid, step.key, protocol_id, step.seq, *t.stored[index], state,
            owner, done_text, int(late),
            "member in hospital" if state == "skipped" else None, 1, self.created,
        ))  # fmt: skip
        self.counts.checkpoints += 1
        if done_on is None:
            return
        stopped = rng.random() < 0.03
        recorded = self.at(done_on, 11)
        batch.add("checkpoint_results", (
            self.w.ids("checkpoint_results"), cid, owner, recorded, done_text,
            "phone" if rng.random() < 0.8 else "in_store", "{}",
            "stopped" if stopped else ("as_directed" if rng.random() < 0.88 else "missed_doses"),
            "side_effects" if stopped else None, "", int(late),
        ))  # fmt: skip
        self.counts.results += 1
        if t.measure is not None and rng.random() < 0.3:
            kind, unit, values = t.measure
            batch.add("health_checks", (
                self.w.ids("health_checks"), mid, cid, kind,
                json.dumps(values(rng)), unit, recorded, "in_store", owner, recorded, "",
            ))  # fmt: skip
            self.counts.health_checks += 1
        if stopped:
            self.escalation(batch, mid, store_id, owner, pid, cid, done_on)

    def outcome(self, d: Any, today: date, cancelled: bool) -> tuple[str, date | None, bool]:
        """What became of a step, given where today falls in its window."""
        rng = self.rng
        if cancelled:
            return "cancelled", None, False
        if today < d.open_on:
            return "pending", None, False
        end = d.missed_on or d.overdue_on + timedelta(days=30)
        r = rng.random()
        if today >= end:  # its window has closed: history
            if r < 0.78:
                return "done", _between(rng, d.open_on, d.overdue_on - timedelta(days=1)), False
            if r < 0.90:
                return "done", _between(rng, d.overdue_on, end - timedelta(days=1)), True
            if r < 0.96:
                return "pending", None, False  # missed
            return "skipped", None, False
        if today >= d.overdue_on:  # overdue now, or worked late already
            if r < 0.35:
                return "pending", None, False
            if r < 0.60:
                return "done", _between(rng, d.overdue_on, today), True
            return "done", _between(rng, d.open_on, d.overdue_on - timedelta(days=1)), False
        if r < 0.55:
            return "pending", None, False
        return "done", _between(rng, d.open_on, today), False

    def escalation(
        self, batch: _Batch, mid: int, store_id: int, owner: int, pid: int, cid: int, day: date
    ) -> None:
        still_open = (self.spec.today - day).days < 45 and self.rng.random() < 0.6
        raised = self.at(day, 11)
        resolved = None if still_open else self.at(day + timedelta(days=self.rng.randint(1, 6)))
        batch.add("escalations", (
            self.w.ids("escalations"), mid, store_id, pid, cid, "side_effects", "pharmacist",
            owner, "药师48小时内回访，评估副作用", "Pharmacist to call back within 48 h",
            (day + timedelta(days=2)).isoformat(), "open" if still_open else "resolved",
            owner, raised, None if still_open else owner, resolved,
            "" if still_open else "调整服药时间后好转",
        ))  # fmt: skip
        self.counts.escalations += 1


def _between(rng: random.Random, first: date, last: date) -> date:
    span = (last - first).days
    return first if span <= 0 else first + timedelta(days=int(rng.random() * (span + 1)))


def estimate_checkpoints(session: Session, spec: ChainSpec) -> int:
    """Roughly how many steps `generate` will write (for the progress bar's length)."""
    versions = _Chain._versions(session)
    steps = [len(plan_schedule(definition_of(v), spec.today)) for v in versions.values()]
    per_member = sum(c * w for c, w in zip(PLAN_COUNTS, PLAN_WEIGHTS, strict=True))
    mean_plans = min(per_member / sum(PLAN_WEIGHTS), len(steps))
    return int(spec.members * mean_plans * sum(steps) / len(steps))


BULKY = ("members", "ownerships", "care_plans", "checkpoints", "checkpoint_results",
         "health_checks", "escalations")  # fmt: skip
DEFER_FROM = 100_000  # steps: below this, keeping the indexes up as rows go in is cheaper


def _secondary_indexes() -> list[Index]:
    """Plain (non-unique) indexes of the bulky tables: uniqueness stays enforced."""
    return [
        ix
        for name in BULKY
        for ix in sorted(Base.metadata.tables[name].indexes, key=lambda i: str(i.name))
        if not ix.unique
    ]


def _foreign_keys() -> list[ForeignKeyConstraint]:
    return [
        fk
        for name in BULKY
        for fk in sorted(
            Base.metadata.tables[name].foreign_key_constraints, key=lambda c: str(c.name)
        )
    ]


@contextmanager
def _bulk_mode(conn: Connection, defer_indexes: bool) -> Iterator[None]:
    """Build the plain indexes once after the load rather than row by row during it
    (as pg_restore does): many times faster for millions of rows. Same transaction, so
    a failure leaves the indexes (and the data) as they were."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -524288")  # 512 MiB while loading
    indexes = _secondary_indexes() if defer_indexes else []
    # PostgreSQL checks a foreign key by a trigger per row; adding the constraint after
    # the load checks every row in one join instead (it is checked either way).
    fks = _foreign_keys() if defer_indexes and conn.dialect.name == "postgresql" else []
    for fk in fks:
        conn.execute(DropConstraint(fk))
    for ix in indexes:
        ix.drop(conn)
    yield
    for ix in indexes:
        ix.create(conn)
    for fk in fks:
        conn.execute(AddConstraint(fk))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -2000")


def generate(session: Session, spec: ChainSpec, progress: Progress = lambda n: None) -> Counts:
    """Write a whole chain inside the session's transaction (the caller commits)."""
    spec.check()
    taken = select(Store.id).where(Store.code.like(f"G{spec.seed:03d}%")).limit(1)
    if session.scalar(taken) is not None:
        raise InvalidInput(f"a chain with seed {spec.seed} is already here", field="seed")
    conn = session.connection()
    writer = _Writer(conn)
    chain = _Chain(session, spec, writer)
    with _bulk_mode(conn, estimate_checkpoints(session, spec) >= DEFER_FROM):
        chain.members(chain.stores(), progress)
    writer.finish()
    return chain.counts
