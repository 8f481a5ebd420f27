"""Supervisor audit benchmark: builds (or reuses) a generated chain.

NOT FINISHED: only the chain build and the generator's rate are measured so far; the
page timings below (p50/p95 through the ASGI app, ratios against the floor) are the
plan for the next change, not yet code.

    .venv/bin/python benchmarks/audit.py --db sqlite|postgres --scale small|large

- small: 200 stores, 200,000 members (>= 1M steps); large: 1,000 stores, 1,000,000
  members (>= 10M steps). The chain is built once by `careplan.synthetic` (the same code
  as `careplan demo generate`, seed 1) and reused: SQLite in var/bench-audit-<scale>.db,
  PostgreSQL in the database careplan_bench_<scale> on CAREPLAN_BENCH_PG (default
  postgresql+psycopg://postgres@127.0.0.1:5432). The build's figures are kept beside it.
- Pages, each requested --requests times by a supervisor (interleaved): the chain
  overview (/audit), a store drill-down (/audit?store_id=), a staff worklist
  (/audit?staff_id=: that person's overdue steps, oldest first) and a CSV export of
  100,000 steps (/audit/steps.csv). p50/p95 are server times through the ASGI app.
- The floor of a page: the SQL statements the page ran (captured), replayed on the raw
  DB-API connection and fetched, with nothing else. ratio = page p50 / floor p50.

The last line printed is a JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from careplan import clock, migrate, protocols, synthetic
from careplan.access import Actor
from careplan.config import ROOT
from careplan.db import make_engine, make_session_factory

SCALES = {"small": (200, 200_000), "large": (1_000, 1_000_000)}
SEED = 1
PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def database_url(db: str, scale: str) -> str:
    if db == "sqlite":
        (ROOT / "var").mkdir(exist_ok=True)
        return f"sqlite:///{ROOT / 'var' / f'bench-audit-{scale}.db'}"
    return f"{PG_BASE}/careplan_bench_{scale}"


def _figures_file(db: str, scale: str) -> Path:
    return ROOT / "var" / f"bench-audit-{db}-{scale}.json"


def _ensure_pg_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(f"{PG_BASE}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()


def build(db: str, scale: str, today: date) -> dict[str, Any]:
    """The chain, generated once; later runs reuse it and its recorded figures."""
    url = database_url(db, scale)
    saved = _figures_file(db, scale)
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
        protocols.publish(s, protocols.read_files(protocols.protocol_files(ROOT / "protocols")))
        s.commit()
    stores, members = SCALES[scale]
    spec = synthetic.ChainSpec(stores=stores, members=members, seed=SEED, today=today)
    started = time.perf_counter()
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        counts = synthetic.generate(s, spec, _progress(2 * synthetic.estimate_checkpoints(s, spec)))
        s.commit()
    seconds = time.perf_counter() - started
    with engine.connect() as conn:  # statistics for the planner, visibility for index-only
        if db == "postgresql":
            conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            conn.exec_driver_sql("ANALYZE")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--scale", choices=tuple(SCALES), default="small")
    args = parser.parse_args()
    db = "postgresql" if args.db == "postgres" else "sqlite"
    built = build(db, args.scale, clock.today())
    print(json.dumps({"db": args.db, "scale": args.scale, **built}))


if __name__ == "__main__":
    main()
