"""Supervisor audit benchmark: the audit pages on a generated chain, against their floor.

    .venv/bin/python benchmarks/audit.py --db sqlite|postgres --scale small|large [--smoke]

- small: 200 stores, 200,000 members (>= 1M steps); large: 1,000 stores, 1,000,000
  members (>= 10M steps). The chain is built once by `careplan.demo.synthetic` (the same code
  as `careplan demo generate`, seed 1) and reused: SQLite in var/bench-audit-<scale>.db,
  PostgreSQL in the database careplan_bench_<scale> on CAREPLAN_BENCH_PG (default
  postgresql+psycopg://postgres@127.0.0.1:5432). The build's figures are kept beside it.
- Pages, each requested --requests times by a supervisor signed in with a session
  cookie, interleaved, through the ASGI app in this process: the chain overview
  (/audit), a store drill-down (/audit?store_id=, a different store each time), a staff
  worklist (/audit?staff_id=: that clerk's overdue steps, oldest first) and a CSV export
  of at least 100,000 steps (/audit/steps.csv: the steps due in a period long enough).
  Times are from the request to the last byte of the body.
- The floor of a page: the SQL statements the page ran (captured on the engine),
  replayed on a raw DB-API connection and fetched, with nothing else, each through the
  same kind of cursor (the export's server-side cursor on PostgreSQL, read in chunks).
  ratio = page p50 / floor p50.

The last line printed is a JSON object of the figures (JSON_KEYS); `targets_missed` names
those that miss the issue's targets (empty when all are met). --smoke runs the same code
on a 3-store chain in a throw-away database with 3 requests a page, in seconds: the suite
runs it so that the benchmark never rots (its targets are not meant to be met there).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as datetime_time
from pathlib import Path
from typing import Any

import httpx
from _measure import (  # benchmarks/_measure.py
    Capture,
    analyze,
    freeze_clock,
    pct,
    publish_protocols,
    replay,
    sign_in,
)
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, migrate
from careplan.access import Actor
from careplan.config import ROOT, get_settings
from careplan.db import make_engine, make_session_factory
from careplan.demo import synthetic
from careplan.models import Checkpoint, Staff, Store
from web.app import create_app
from web.session import SESSION_COOKIE

SCALES = {"small": (200, 200_000), "large": (1_000, 1_000_000), "smoke": (3, 600)}
PAGES = ("overview", "drilldown", "worklist", "csv")
JSON_KEYS = (
    "db", "scale", "today", "checkpoints", "members", "stores", "generate_seconds",
    "generate_checkpoints_per_s", "csv_rows", "csv_rows_per_s", "targets_missed",
    *(f"{page}_{figure}" for page in PAGES
      for figure in ("p50_ms", "p95_ms", "floor_p50_ms", "floor_ratio")),
)  # fmt: skip
SEED = 1
CSV_ROWS = 100_000
PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def database_url(db: str, scale: str, where: Path) -> str:
    if db == "sqlite":
        where.mkdir(exist_ok=True)
        return f"sqlite:///{where / f'bench-audit-{scale}.db'}"
    suffix = f"_{os.getpid()}" if scale == "smoke" else ""  # a smoke run's own, dropped
    return f"{PG_BASE}/careplan_bench_{scale}{suffix}"


def _figures_file(where: Path, db: str, scale: str) -> Path:
    return where / f"bench-audit-{db}-{scale}.json"


def _ensure_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def _drop_pg_database(url: str) -> None:
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def build(db: str, scale: str, today: date, where: Path) -> dict[str, Any]:
    """The chain, generated once; later runs reuse it and its recorded figures."""
    url = database_url(db, scale, where)
    saved = _figures_file(where, db, scale)
    saved.parent.mkdir(exist_ok=True)
    if saved.exists():
        return dict(json.loads(saved.read_text()))
    if db == "postgresql":
        _ensure_pg_database(url)
    os.environ["CAREPLAN_DATABASE_URL"] = url
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        publish_protocols(s)
        s.commit()
    stores, members = SCALES[scale]
    spec = synthetic.ChainSpec(stores=stores, members=members, seed=SEED, today=today)
    started = time.perf_counter()
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        counts = synthetic.generate(s, spec, _progress(2 * synthetic.estimate_checkpoints(s, spec)))
        s.commit()
    seconds = time.perf_counter() - started
    analyze(engine)
    engine.dispose()
    figures = {
        "today": today.isoformat(),
        "checkpoints": counts.checkpoints,
        "members": counts.members,
        "stores": counts.stores,
        "generate_seconds": round(seconds, 1),
        "generate_checkpoints_per_s": round(counts.checkpoints / seconds),
    }
    saved.write_text(json.dumps(figures))
    return figures


def _progress(total: int) -> synthetic.Progress:
    done = [0]

    def step(n: int) -> None:
        done[0] += n
        print(f"\r  generating: {done[0]:,} / ~{total:,}", end="", file=sys.stderr)

    return step


# -- the pages --


@dataclass
class Page:
    name: str
    urls: list[str]
    times: list[float] = field(default_factory=list)
    floors: list[float] = field(default_factory=list)
    rows: int = 0

    def figures(self) -> dict[str, float]:
        p50, p95 = pct(self.times, 50), pct(self.times, 95)
        floor = pct(self.floors, 50)
        return {
            f"{self.name}_p50_ms": round(p50 * 1000, 1),
            f"{self.name}_p95_ms": round(p95 * 1000, 1),
            f"{self.name}_floor_p50_ms": round(floor * 1000, 1),
            f"{self.name}_floor_ratio": round(p50 / floor, 2) if floor else 0.0,
        }


def _pages(factory: sessionmaker[Session], today: date, requests: int) -> list[Page]:
    """The four pages, each with its list of URLs (different stores and clerks)."""
    rng = random.Random(SEED)
    with factory() as s:
        stores = s.scalars(select(Store.id).where(Store.code.like("G001%"))).all()
        clerks = s.scalars(
            select(Staff.id).where(Staff.role == "clerk", Staff.store_id.in_(stores))
        ).all()
    period = _csv_period(factory, today)
    csv = f"/audit/steps.csv?status=due&period_from={period[0]}&period_to={period[1]}"
    return [
        Page("overview", ["/audit"] * requests),
        Page("drilldown", [f"/audit?store_id={rng.choice(stores)}" for _ in range(requests)]),
        Page("worklist", [f"/audit?staff_id={rng.choice(clerks)}" for _ in range(requests)]),
        Page("csv", [csv] * max(3, requests // 20)),
    ]


def _csv_period(factory: sessionmaker[Session], today: date) -> tuple[date, date]:
    """The shortest period ending today whose due steps number 100,000 or more."""
    with factory() as s:
        days = s.execute(
            select(Checkpoint.due_on, func.count())
            .where(Checkpoint.due_on <= today, Checkpoint.due_on > today - timedelta(days=400))
            .where(Checkpoint.state.in_(("pending", "done")), Checkpoint.overdue_on <= today)
            .group_by(Checkpoint.due_on)
            .order_by(Checkpoint.due_on.desc())
        ).all()
    total, first = 0, today
    for day, n in days:
        total, first = total + n, day
        if total >= CSV_ROWS:
            break
    return first, today


def measure(url: str, today: date, requests: int) -> dict[str, Any]:
    engine = make_engine(url)
    capture = Capture()
    event.listen(engine, "before_cursor_execute", capture)
    factory = make_session_factory(engine)
    now = datetime.combine(today, datetime_time(10), get_settings().zone)
    app = create_app(factory)
    freeze_clock(now, today)
    pages = _pages(factory, today, requests)
    with TestClient(app) as client:
        client.cookies.set(SESSION_COOKIE, sign_in(factory, "g001.supervisor.1", now))
        for page in pages:  # warm: connections, templates, the database's cache
            _get(client, page.urls[0])
        rounds = max(len(p.urls) for p in pages)
        for i in range(rounds):
            for page in pages:
                if i < len(page.urls):
                    _timed(client, engine, capture, page, page.urls[i])
    engine.dispose()
    figures: dict[str, Any] = {}
    for page in pages:
        figures |= page.figures()
    csv = next(p for p in pages if p.name == "csv")
    figures["csv_rows"] = csv.rows
    figures["csv_rows_per_s"] = round(csv.rows / pct(csv.times, 50))
    return figures


def _get(client: TestClient, url: str) -> httpx.Response:
    response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return response


def _timed(client: TestClient, engine: Engine, capture: Capture, page: Page, url: str) -> None:
    capture.statements, capture.on = [], True
    started = time.perf_counter()
    response = _get(client, url)
    page.times.append(time.perf_counter() - started)
    capture.on = False
    if page.name == "csv":
        page.rows = response.text.count("\n") - 1  # less the heading
    page.floors.append(replay(engine, capture.statements))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="a tiny chain: does it run?")
    args = parser.parse_args()
    db = "postgresql" if args.db == "postgres" else "sqlite"
    if args.smoke:
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(db, "smoke", 3, Path(tmp))
    else:
        figures = run(db, args.scale, args.requests, ROOT / "var")
    for key, value in figures.items():
        print(f"{key:>24}: {value}", file=sys.stderr)
    print(json.dumps({"db": args.db, **figures}))


def run(db: str, scale: str, requests: int, where: Path) -> dict[str, Any]:
    url = database_url(db, scale, where)
    try:
        built = build(db, scale, clock.today(), where)
        migrate.upgrade(url)  # a chain built before a later migration gets it
        today = date.fromisoformat(built["today"])
        figures = built | measure(url, today, requests)
    finally:
        if db == "postgresql" and scale == "smoke":
            _drop_pg_database(url)
    return {"scale": scale, **figures, "targets_missed": missed_targets(db, figures)}


# The targets: p95 of the overview and a store's page by database; every page
# within 1.5x its floor, or floor + 10 ms where the floor is under 20 ms.
P95_TARGET_MS = {"sqlite": 50.0, "postgresql": 150.0}
MIN_ROWS_PER_S = 50_000


def missed_targets(db: str, f: dict[str, Any]) -> list[str]:
    """The names of the figures that miss their target (empty: all met)."""
    missed = [
        f"{page}_p95_ms"
        for page in ("overview", "drilldown")
        if f[f"{page}_p95_ms"] > P95_TARGET_MS[db]
    ]
    for page in PAGES:
        floor, p50 = f[f"{page}_floor_p50_ms"], f[f"{page}_p50_ms"]
        allowed = floor + 10 if floor < 20 else floor * 1.5
        if p50 > allowed:
            missed.append(f"{page}_floor_ratio")
    for key in ("csv_rows_per_s", "generate_checkpoints_per_s"):
        if f[key] < MIN_ROWS_PER_S:
            missed.append(key)
    return missed


if __name__ == "__main__":
    main()
