"""A synthetic chain for benchmarks and rehearsals: `careplan demo generate`.

Stores in regions, a manager, a pharmacist and clerks per store, members each owned by a
clerk, plans of every protocol at every stage, and their history: steps done on time,
done late, missed, skipped, still open; results, health checks and escalations.
Deterministic for a seed and a 'today'.

Stores, staff, members and plans are made here and go in by the database's bulk path
(COPY on PostgreSQL, executemany on SQLite); the steps, results, health checks and
escalations that follow from the plans are made by the database itself
(careplan.demo.synthetic_steps), all in one transaction. The dates follow the protocols' own
rules (schedule.plan_schedule), so the audit sees a real chain.
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

from sqlalchemy import (
    Connection,
    ForeignKeyConstraint,
    Index,
    UniqueConstraint,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session
from sqlalchemy.schema import AddConstraint, DropConstraint

from careplan.config import get_settings
from careplan.demo.chain import DEMO_PASSWORD, GIVEN, SURNAMES
from careplan.demo.synthetic_steps import History
from careplan.errors import N_, InvalidInput
from careplan.members import last_seen
from careplan.members.pinyin import name_initials
from careplan.models import ProtocolVersion, Store
from careplan.models.base import Base
from careplan.plans.protocols import definition_of
from careplan.plans.schedule import PlannedStep, plan_schedule
from careplan.sign_in import hash_password
from careplan.value.complaints import FOLLOW_UP_PROTOCOL
from careplan.value.outlook import CONTACT_PROTOCOLS

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
    "diabetes_t2": ("fasting_glucose", "mmol/L", lambda r: {"value": round(r.uniform(5, 11), 1)}),
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
            raise InvalidInput(N_("stores must be 1 to 100000"), field="stores")
        if not self.stores <= self.members <= 100_000_000:
            raise InvalidInput(N_("members must be at least one per store"), field="members")
        if not 0 <= self.seed <= 999:
            raise InvalidInput(N_("seed must be 0 to 999"), field="seed")


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


@dataclass
class _Batch:
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)

    def add(self, table: str, row: tuple[Any, ...]) -> None:
        self.rows.setdefault(table, []).append(row)


COLUMNS = {
    "stores": ("id", "code", "name", "region", "address", "phone", "created_at"),
    "staff": ("id", "username", "name", "phone", "role", "store_id", "active", "language",
              "password_hash", "created_at"),
    "members": ("id", "card_number", "home_store_id", "owner_id", "language", "name",
                "name_initials", "sex", "birthday", "mobile", "medical_history",
                "drug_allergies", "regular_medicines", "chronic_conditions", "hobbies",
                "special_dates", "health_consent", "health_consent_at", "created_at"),
    "ownerships": ("id", "member_id", "staff_id", "started_at", "reason", "note"),
    "care_plans": ("id", "member_id", "protocol_id", "protocol_version_id", "start_date",
                   "end_date", "status", "shift_days", "stopped_on", "stop_reason",
                   "completed_on", "enrolled_by_id", "enrolled_at", "created_at"),
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
        self.write_error: Exception | None = None
        self.initials = {s + g: name_initials(s + g) for s in SURNAMES for g in GIVEN}
        self.created_at = datetime.combine(spec.today, time(9), self.zone)
        self.created = writer.moment(self.created_at)
        self.prefix = f"{spec.seed:03d}"
        self.written = {"checkpoints": 0, "results": 0, "health_checks": 0, "escalations": 0}

    @staticmethod
    def _versions(session: Session) -> dict[str, ProtocolVersion]:
        latest: dict[str, ProtocolVersion] = {}
        for row in session.scalars(select(ProtocolVersion).order_by(ProtocolVersion.version)):
            # A contact plan follows an outlook someone set (careplan/value/outlook.py),
            # never a random draw.
            # A complaint's follow-up visit comes with a complaint, never as a random plan.
            if row.protocol_id not in CONTACT_PROTOCOLS and row.protocol_id != FOLLOW_UP_PROTOCOL:
                latest[row.protocol_id] = row
        if not latest:
            raise InvalidInput(N_("run `careplan protocols load` first"), field="protocols")
        return latest

    def template(self, protocol_id: str, start: date) -> _Template:
        found = self.templates.get((protocol_id, start))
        if found is None:
            row = self.versions[protocol_id]
            found = _Template(row.id, plan_schedule(definition_of(row), start))
            self.templates[(protocol_id, start)] = found
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
                                    password, self.created))  # fmt: skip
                if role == "clerk":
                    clerks.append(pid)
            out.append((sid, region, clerks))
        for region in REGIONS[: min(spec.stores, len(REGIONS))]:
            username = f"g{self.prefix}.supervisor.{REGIONS.index(region) + 1}"
            batch.add("staff", (self.w.ids("staff"), username, self.person(), "", "supervisor",
                                None, 1, "zh", password, self.created))  # fmt: skip
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
            if pending >= BATCH_STEPS:
                writing = self._hand_over(writing, batch)
                progress(pending)
                batch, pending = _Batch(), 0
        writing = self._hand_over(writing, batch)
        self._hand_over(writing, None)
        progress(pending)

    def history(self, first_plan: int, progress: Progress) -> None:
        """Everything that followed from the plans, written by the database itself. Tried
        batch by batch beside the Python work: slower, as each small statement is planned
        blind to the new rows."""
        last_plan = self.w.next_id["care_plans"] - 1
        history = History(self.w.conn, self.spec.seed, self.spec.today, self.zone, self.created_at)
        history.prepare({k: t.steps for k, t in self.templates.items()}, MEASURES)
        self.written = history.write(first_plan, last_plan)
        history.finish()
        progress(self.written["checkpoints"])

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
            steps += self.plan(batch, mid, owner, protocol_id, start)
        return steps

    def plan(self, batch: _Batch, mid: int, owner: int, protocol_id: str, start: date) -> int:
        """The plan row; its steps are written later, all at once
        (careplan.demo.synthetic_steps)."""
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
        return len(t.steps)


def estimate_checkpoints(session: Session, spec: ChainSpec) -> int:
    """Roughly how many steps `generate` will write (for the progress bar's length)."""
    versions = _Chain._versions(session)
    steps = [len(plan_schedule(definition_of(v), spec.today)) for v in versions.values()]
    per_member = sum(c * w for c, w in zip(PLAN_COUNTS, PLAN_WEIGHTS, strict=True))
    mean_plans = min(per_member / sum(PLAN_WEIGHTS), len(steps))
    return int(spec.members * mean_plans * sum(steps) / len(steps))


BULKY = ("members", "ownerships", "care_plans", "checkpoints", "checkpoint_results",
         "health_checks", "escalations")  # fmt: skip
BATCH_STEPS = 20_000  # steps' worth of members and plans per bulk write
DEFER_FROM = 100_000  # steps: below this, keeping the indexes up as rows go in is cheaper


def _secondary_indexes(with_unique: bool) -> list[Index]:
    """The bulky tables' indexes (unique ones too if asked: building one after the load
    checks every row, so uniqueness is still enforced)."""
    return [
        ix
        for name in BULKY
        for ix in sorted(Base.metadata.tables[name].indexes, key=lambda i: str(i.name))
        if with_unique or not ix.unique
    ]


def _unique_constraints() -> list[UniqueConstraint]:
    return [
        c
        for name in BULKY
        for c in sorted(Base.metadata.tables[name].constraints, key=lambda c: str(c.name))
        if isinstance(c, UniqueConstraint)
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
    else:  # for this transaction only: sorts for the joins and index builds stay in memory
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '1GB'")
        conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
    pg = defer_indexes and conn.dialect.name == "postgresql"
    # SQLite cannot drop a table's own unique constraints; PostgreSQL can, and a unique
    # index on text built in one sort is several times cheaper than one kept row by row.
    indexes = _secondary_indexes(with_unique=pg) if defer_indexes else []
    uniques = _unique_constraints() if pg else []
    # PostgreSQL checks a foreign key by a trigger per row; adding the constraint after
    # the load checks every row in one join instead (it is checked either way).
    fks = _foreign_keys() if pg else []
    for fk in fks:
        conn.execute(DropConstraint(fk))
    for ix in indexes:
        ix.drop(conn)
    for unique in uniques:
        conn.execute(DropConstraint(unique))
    yield
    for unique in uniques:
        conn.execute(AddConstraint(unique))
    for ix in indexes:
        ix.create(conn)
    for fk in fks:
        conn.execute(AddConstraint(fk))
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -2000")


def generate(session: Session, spec: ChainSpec, progress: Progress = lambda n: None) -> Counts:
    """Write a whole chain inside the session's transaction (the caller commits).

    `progress` is told of steps as their plans are made, then again as they are written:
    twice `estimate_checkpoints` in all."""
    spec.check()
    taken = select(Store.id).where(Store.code.like(f"G{spec.seed:03d}%")).limit(1)
    if session.scalar(taken) is not None:
        raise InvalidInput(N_("a chain with seed %(seed)s is already here"), field="seed",
                           seed=spec.seed)  # fmt: skip
    conn = session.connection()
    writer = _Writer(conn)
    chain = _Chain(session, spec, writer)
    first_plan = writer.next_id["care_plans"]
    with _bulk_mode(conn, estimate_checkpoints(session, spec) >= DEFER_FROM):
        stores = chain.stores()
        chain.members(stores, progress)
        chain.history(first_plan, progress)
    writer.finish()
    last_seen.recount(session, [store_id for store_id, _, _ in stores])  # past its writers
    counts, written = chain.counts, chain.written
    counts.checkpoints = written["checkpoints"]
    counts.results, counts.health_checks = written["results"], written["health_checks"]
    counts.escalations = written["escalations"]
    return counts
