"""Member value at 200,000 members: the spend, quadrant, analysis and long-inactive pages'
server time against their floor, and the nightly refresh (value snapshot + analysis counts).

    .venv/bin/python benchmarks/member_value.py [--db sqlite|postgres] [--members 200000]
                                                [--stores 100] [--requests 40] [--smoke]

- A synthetic chain: --stores stores in seven regions, a manager and a clerk per store, a
  supervisor; --members members (archives filled as stores fill them: sex, age, 小区,
  education…, 70 % with health consent and its lists; joined over five years), 85 % of
  whom bought on 1 to 60 days of the last year
  (about a million till lines at 200,000). Built once and reused, named by a fingerprint of
  its size, seed, this builder's version and the schema's head: SQLite in
  var/bench-value-<fingerprint>.db, PostgreSQL in careplan_bench_value_<fingerprint> on
  CAREPLAN_BENCH_PG. Members and staff go in by SQLAlchemy's bulk insert, the till lines by
  the driver's own (executemany on SQLite, COPY on PostgreSQL).
- The snapshot and the analysis counts are refreshed once, timed (snapshot_seconds).
- PAGES, each requested --requests times, interleaved, through the ASGI app in this
  process (as benchmarks/pages.py): server time from the request to the last byte.
  The floor of a page: the SQL it ran, replayed bare on a raw DB-API connection, every row
  fetched (benchmarks/_measure.py). ratio = page p50 / floor p50.
- Targets (the issue's): every page's p95 ≤ 200 ms on SQLite and ratio ≤ 1.5.

The last line printed is a JSON object (JSON_KEYS); `targets_missed` names the figures over
target. --smoke: 300 members, 3 stores, in a throw-away database, 2 requests a page.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from _measure import Capture, analyze, freeze_clock, pct, replay, sign_in, throwaway_database
from sqlalchemy import create_engine, event, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from careplan import migrate
from careplan.config import ROOT
from careplan.db import make_engine, make_session_factory
from careplan.members import last_seen
from careplan.models import Member, Staff, Store
from careplan.value import analysis, snapshot
from careplan.vocab import Role
from web.app import create_app
from web.session import SESSION_COOKIE

PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
BUILDER_VERSION = 3  # change when the chain this script builds changes
SEED = 25
TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
REGIONS = ("华东", "华北", "华南", "华中", "西南", "西北", "东北")
SUPERVISOR, MANAGER = "bench.super", "bench.m1"  # the manager of the first store
# (persona, name, url) as plain literals (tests/test_benchmarks.py reads them); adding a
# page (the member analysis, say) is one line.
PAGES = [
    ("bench.super", "spend_chain", "/value/spend?scope=chain"),
    ("bench.super", "spend_chain_set", "/value/spend?scope=chain&visits=6&spend=800"),
    ("bench.super", "spend_region", "/value/spend?scope=region%3A%E5%8D%8E%E5%8C%97"),
    ("bench.m1", "spend_store", "/value/spend"),
    ("bench.super", "quadrant_chain", "/value/spend/quadrant/hh?scope=chain"),
    ("bench.m1", "quadrant_store", "/value/spend/quadrant/lh"),
    ("bench.super", "analysis_chain", "/value/analysis"),
    ("bench.super", "analysis_chain_area", "/value/analysis/tab?dim=area"),
    ("bench.super", "analysis_chain_medicines", "/value/analysis/tab?dim=medicines"),
    ("bench.m1", "analysis_store", "/value/analysis?dim=age"),
    ("bench.super", "inactive_chain", "/value/analysis/inactive"),
    ("bench.super", "inactive_region", "/value/analysis/inactive?region=%E5%8D%8E%E5%8C%97"),
    ("bench.m1", "inactive_store", "/value/analysis/inactive?page=3"),
]
NAMES = tuple(name for _, name, _ in PAGES)
JSON_KEYS = (
    "db", "members", "stores", "purchases", "requests", "build_seconds", "snapshot_seconds",
    "slowest_page", "slowest_p95_ms", "max_ratio", "targets_missed",
    *(f"{name}_{figure}" for _, name, _ in PAGES
      for figure in ("p50_ms", "p95_ms", "floor_ms", "ratio")),
)  # fmt: skip
TARGET_P95_MS, TARGET_RATIO = 200.0, 1.5


# --- The chain ----------------------------------------------------------------------------


def fingerprint(members: int, stores: int) -> str:
    head = _head()
    key = f"{members}:{stores}:{SEED}:{BUILDER_VERSION}:{head}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def _head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(migrate.alembic_config()).get_current_head() or ""


def _staff(factory: sessionmaker[Session], stores: int) -> list[tuple[int, int]]:
    """Stores with a manager and a clerk each, and a supervisor: [(store, clerk)]."""
    with factory.begin() as s:
        s.execute(insert(Store), [
            {"code": f"V{n:04d}", "name": f"{REGIONS[n % 7]}{n}号店", "region": REGIONS[n % 7]}
            for n in range(1, stores + 1)
        ])  # fmt: skip
        ids = list(s.scalars(select(Store.id).order_by(Store.id)))
        people = [{"username": SUPERVISOR, "name": "督导", "role": Role.supervisor,
                   "store_id": None, "password_hash": "x"}]  # fmt: skip
        for n, store_id in enumerate(ids, 1):
            people.append({"username": f"bench.m{n}", "name": f"店长{n}",
                           "role": Role.store_manager, "store_id": store_id,
                           "password_hash": "x"})  # fmt: skip
            people.append({"username": f"bench.c{n}", "name": f"专员{n}", "role": Role.clerk,
                           "store_id": store_id, "password_hash": "x"})  # fmt: skip
        s.execute(insert(Staff), people)
        found = s.execute(select(Staff.store_id, Staff.id).where(Staff.role == Role.clerk))
        clerks = {store_id: clerk for store_id, clerk in found}
    return [(store_id, clerks[store_id]) for store_id in ids]


AREAS_PER_STORE = 30  # the 小区 around a store: a chain of 100 stores knows ~3,000
CONDITIONS = ("高血压", "2型糖尿病", "骨质疏松", "高血脂", "冠心病", "慢阻肺")
ALLERGIES = ("青霉素", "磺胺类", "头孢类", "阿司匹林")
MEDICINES = ("氨氯地平", "二甲双胍", "阿托伐他汀", "碳酸钙D3", "缬沙坦", "阿卡波糖")
CHOICES = {
    "education": ("初中", "高中", "大专", "本科", "研究生"),
    "income_band": ("3000以下", "3000-6000", "6000-10000", "10000以上"),
    "marital_status": ("已婚", "未婚", "丧偶"),
}


def _member_row(rng: random.Random, i: int, store: tuple[int, int]) -> dict[str, Any]:
    """One archive as stores fill them: most with sex and birthday, some with the rest;
    about 70 % consented to health data (only theirs carry health lists)."""
    store_id, clerk = store
    consented = rng.random() < 0.7
    row: dict[str, Any] = {
        "card_number": f"VB{i:09d}", "home_store_id": store_id, "owner_id": clerk,
        "name": f"会员{i}", "name_initials": "hy",
        "mobile": f"139{rng.randrange(10**8):08d}",
        "sex": rng.choice(("female", "female", "male")) if rng.random() < 0.95 else None,
        "birthday": TODAY - timedelta(days=rng.randrange(20 * 365, 85 * 365))
        if rng.random() < 0.9 else None,
        "residential_area": f"{store_id}号店旁{rng.randrange(AREAS_PER_STORE)}小区"
        if rng.random() < 0.8 else None,
        "created_at": NOW - timedelta(days=rng.randrange(5 * 365), seconds=rng.randrange(86400)),
        "health_consent": consented,
        "chronic_conditions": rng.sample(CONDITIONS, rng.randrange(3)) if consented else [],
        "drug_allergies": rng.sample(ALLERGIES, rng.randrange(2)) if consented else [],
        "regular_medicines": [{"name": m} for m in rng.sample(MEDICINES, rng.randrange(3))]
        if consented else [],
    }  # fmt: skip
    for column, values in CHOICES.items():
        row[column] = rng.choice(values) if rng.random() < 0.6 else None
    return row


def _members(factory: sessionmaker[Session], stores: list[tuple[int, int]], n: int) -> None:
    rng = random.Random(SEED)
    for lo in range(0, n, 20_000):
        upto = min(n, lo + 20_000)
        rows = [_member_row(rng, i, stores[i % len(stores)]) for i in range(lo, upto)]
        with factory.begin() as s:
            s.execute(insert(Member), rows)


def _purchase_rows(members: list[tuple[int, int]], clerk: int) -> Iterator[tuple[Any, ...]]:
    """A year of till lines: 15 % bought nothing; the others on 1 to 60 days (most on a
    few), each day's amount around their own habit."""
    rng = random.Random(SEED + 1)
    recorded = NOW.strftime("%Y-%m-%d %H:%M:%S.000000")
    for member_id, store_id in members:
        if rng.random() < 0.15:
            continue
        days = min(60, 1 + int(rng.expovariate(1 / 5)))
        habit = rng.lognormvariate(4.5, 0.7)
        for day in rng.sample(range(365), days):
            amount = f"{max(1.0, rng.gauss(habit, habit / 3)):.2f}"
            yield (member_id, store_id, "P1", "钙片", 1, (TODAY - timedelta(day)).isoformat(),
                   amount, clerk, recorded)  # fmt: skip


PURCHASE_COLUMNS = ("member_id", "store_id", "product_code", "product_name", "quantity",
                    "purchased_on", "amount", "recorded_by_id", "recorded_at")  # fmt: skip


def _purchases(factory: sessionmaker[Session], clerk: int) -> int:
    engine = factory.kw["bind"]
    pg = engine.dialect.name == "postgresql"
    with factory() as s:
        members = list(s.execute(select(Member.id, Member.home_store_id).order_by(Member.id)))
    rows = _purchase_rows([(m, st) for m, st in members], clerk)
    cols = ", ".join(PURCHASE_COLUMNS)
    written = 0
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        if pg:
            with cur.copy(f"COPY purchases ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    written += 1
        else:
            sql = f"INSERT INTO purchases ({cols}) VALUES ({', '.join('?' * 9)})"
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == 50_000:
                    cur.executemany(sql, batch)
                    written, batch = written + len(batch), []
            cur.executemany(sql, batch)
            written += len(batch)
        raw.commit()
    finally:
        raw.close()
    return written


def build(url: str, members: int, stores: int) -> int:
    """The chain in an empty database; returns the till lines written."""
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    placed = _staff(factory, stores)
    _members(factory, placed, members)
    lines = _purchases(factory, placed[0][1])
    with factory.begin() as s:  # what the till import would have kept
        last_seen.recount(s, [store_id for store_id, _ in placed])
    analyze(engine)
    engine.dispose()
    return lines


@contextmanager
def cached_database(db: str, members: int, stores: int) -> Iterator[tuple[str, bool]]:
    """(url, already built): the fingerprint's database, kept between runs."""
    fp = fingerprint(members, stores)
    if db == "sqlite":
        path = ROOT / "var" / f"bench-value-{fp}.db"
        path.parent.mkdir(exist_ok=True)
        done = path.with_suffix(".built")
        if path.exists() and not done.exists():
            path.unlink()  # a build that did not finish
        yield f"sqlite:///{path}", done.exists()
        done.touch()
        return
    name = f"careplan_bench_value_{fp}"
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        built = False
        if exists:
            probe = create_engine(f"{PG_BASE}/{name}")
            with probe.connect() as c:
                built = bool(c.scalar(text("SELECT count(*) FROM members")))
            probe.dispose()
            if not built:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not built:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    yield f"{PG_BASE}/{name}", built


# --- Measuring ----------------------------------------------------------------------------


@dataclass
class Page:
    persona: str
    name: str
    url: str
    times: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, float]:
        p50, floor = pct(self.times, 50), pct(self.floors, 50)
        return {
            f"{self.name}_p50_ms": round(p50 * 1000, 2),
            f"{self.name}_p95_ms": round(pct(self.times, 95) * 1000, 2),
            f"{self.name}_floor_ms": round(floor * 1000, 2),
            f"{self.name}_ratio": round(p50 / floor, 2) if floor else 0.0,
        }


async def _run(app: Any, pages: list[Page], tokens: dict[str, str], rounds: int, warm: int,
               engine: Any, capture: Capture) -> None:  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    clients = {
        p: httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies={SESSION_COOKIE: t}
        )
        for p, t in tokens.items()
    }
    try:
        for page in pages:
            for _ in range(warm):
                await _get(clients[page.persona], page.url)
        for _ in range(rounds):
            for page in pages:
                capture.statements, capture.on = [], True
                started = time.perf_counter()
                await _get(clients[page.persona], page.url)
                page.times.append(time.perf_counter() - started)
                capture.on = False
                page.floors.append(replay(engine, capture.statements))
    finally:
        for client in clients.values():
            await client.aclose()


async def _get(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    await response.aread()


def measure(url: str, rounds: int, warm: int) -> tuple[dict[str, Any], float]:
    engine = make_engine(url)
    factory = make_session_factory(engine)
    started = time.perf_counter()
    snapshot.refresh(factory, as_of=TODAY, now=NOW)
    analysis.refresh_tallies(factory, now=NOW)  # as the nightly job does, right after
    refreshed = time.perf_counter() - started
    analyze(engine)  # the new snapshot's rows, for the planner
    capture = Capture()
    event.listen(engine, "before_cursor_execute", capture)
    freeze_clock(NOW, TODAY)
    app = create_app(factory)
    tokens = {p: sign_in(factory, p, NOW) for p in sorted({p for p, _, _ in PAGES})}
    pages = [Page(p, name, path) for p, name, path in PAGES]
    asyncio.run(_run(app, pages, tokens, rounds, warm, engine, capture))
    engine.dispose()
    figures: dict[str, Any] = {}
    for page in pages:
        figures |= page.figures()
    slowest = max(pages, key=lambda p: pct(p.times, 95))
    figures["slowest_page"] = slowest.name
    figures["slowest_p95_ms"] = figures[f"{slowest.name}_p95_ms"]
    figures["max_ratio"] = max(figures[f"{n}_ratio"] for n in NAMES)
    return figures, refreshed


def missed_targets(f: dict[str, Any], db: str) -> list[str]:
    missed = [f"{n}_ratio" for n in NAMES if f[f"{n}_ratio"] > TARGET_RATIO]
    if db == "sqlite":
        missed += [f"{n}_p95_ms" for n in NAMES if f[f"{n}_p95_ms"] > TARGET_P95_MS]
    return missed


def _counts(url: str) -> tuple[int, int, int]:
    engine = make_engine(url)
    with engine.connect() as c:
        found = tuple(int(c.scalar(text(f"SELECT count(*) FROM {t}")) or 0)
                      for t in ("members", "stores", "purchases"))  # fmt: skip
    engine.dispose()
    return found  # type: ignore[return-value]


@contextmanager
def database(args: argparse.Namespace) -> Iterator[tuple[str, bool]]:
    if args.smoke:
        with throwaway_database(args.db, "value", PG_BASE) as url:
            yield url, False
        return
    with cached_database(args.db, args.members, args.stores) as found:
        yield found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="a tiny chain: does it run?")
    args = parser.parse_args()
    if args.smoke:
        args.members, args.stores = 300, 3
    rounds, warm = (2, 1) if args.smoke else (args.requests, 3)
    with database(args) as (url, built):
        started = time.perf_counter()
        if not built:
            build(url, args.members, args.stores)
        build_seconds = round(time.perf_counter() - started, 1)
        figures, refreshed = measure(url, rounds, warm)
        members, stores, purchases = _counts(url)
    for name in NAMES:
        print(f"{name:>16}: p50 {figures[f'{name}_p50_ms']:7.2f} ms  p95 "
              f"{figures[f'{name}_p95_ms']:7.2f} ms  floor {figures[f'{name}_floor_ms']:7.2f} ms"
              f"  ×{figures[f'{name}_ratio']}", file=sys.stderr)  # fmt: skip
    print(f"snapshot refresh: {refreshed:.1f} s for {members} members, {purchases} lines",
          file=sys.stderr)  # fmt: skip
    print(json.dumps({
        "db": args.db, "members": members, "stores": stores, "purchases": purchases,
        "requests": rounds, "build_seconds": build_seconds,
        "snapshot_seconds": round(refreshed, 2), **figures,
        "targets_missed": missed_targets(figures, args.db),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
