"""Main pages' server time on the demo chain, against their floor.

    .venv/bin/python benchmarks/pages.py [--db sqlite|postgres] [--requests 60] [--smoke]

- The demo chain of `make run` (`careplan demo seed`: 2 stores, 10 staff, 60 members),
  built in a throw-away database (SQLite in a temporary folder, or a PostgreSQL database
  of its own on CAREPLAN_BENCH_PG, dropped afterwards).
- Each main page of each persona (clerk, pharmacist, store manager, supervisor, admin),
  requested --requests times, interleaved, signed in with a session cookie, through the
  ASGI app in this process (httpx's ASGI transport: the app's own thread pool, no
  network). Server time: from the request to the answer's last byte.
- The floor of a page: the SQL statements it ran, replayed bare on a raw DB-API
  connection with every row fetched (benchmarks/_measure.py), plus the time its Jinja2
  templates took to render (less any SQL run from inside them). ratio = page p50 / floor
  p50: what the request path adds (sign-in lookup, session touch, CSRF, access log,
  building queries, loading rows into objects, FastAPI).

The last line printed is a JSON object of the figures (JSON_KEYS); `targets_missed` names
the pages over 15 ms median or over twice their floor. --smoke: 1 request a page after
one to warm up (the suite runs it so that it never rots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from datetime import time as datetime_time
from typing import Any

import httpx
import jinja2
from _measure import (  # benchmarks/_measure.py
    Capture,
    freeze_clock,
    pct,
    publish_protocols,
    replay,
    sign_in,
    throwaway_database,
)
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, migrate
from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import make_engine, make_session_factory
from careplan.demo import chain
from careplan.models import Checkpoint, Lecture, Member, Staff
from careplan.vocab import CheckpointState
from web.app import create_app
from web.session import SESSION_COOKIE

PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
# (persona, page name, path); {member}, {step}, {lecture}, {store} are the persona's own.
PAGES = (
    ("xh.clerk1", "worklist", "/"),
    ("xh.clerk1", "worklist_overdue", "/?tab=overdue"),
    ("xh.clerk1", "my_members", "/my-members"),
    ("xh.clerk1", "member", "/members/{member}"),
    ("xh.clerk1", "step", "/checkpoints/{step}"),
    ("xh.clerk1", "search", "/members?q=%E7%8E%8B"),
    ("xh.pharmacist", "store_worklist", "/"),
    ("xh.manager", "store_staff", "/store/staff"),
    ("xh.manager", "escalations", "/escalations"),
    ("xh.manager", "lectures", "/lectures"),
    ("xh.manager", "lecture", "/lectures/{lecture}"),
    ("xh.manager", "sheets", "/sheets"),
    ("duzhi", "audit", "/audit"),
    ("duzhi", "audit_store", "/audit?store_id={store}"),
    ("duzhi", "audit_steps", "/audit/steps"),
    ("duzhi", "audit_adherence", "/audit/adherence"),
    ("admin", "admin_staff", "/admin/staff"),
    ("admin", "admin_protocols", "/admin/protocols"),
)
NAMES = tuple(name for _, name, _ in PAGES)
JSON_KEYS = (
    "db", "requests", "slowest_page", "slowest_p50_ms", "max_ratio", "targets_missed",
    *(f"{name}_{figure}" for _, name, _ in PAGES for figure in ("p50_ms", "floor_ms", "ratio")),
)  # fmt: skip
TARGET_MS, TARGET_RATIO = 15.0, 2.0


@dataclass
class Timing:
    """SQL and template time inside one request (listeners on the engine and Jinja2)."""

    sql: float = 0.0
    render: float = 0.0
    render_sql: float = 0.0
    rendering: bool = False
    started: dict[int, float] = field(default_factory=dict)

    def before(self, conn: Any, *rest: Any) -> None:
        self.started[id(conn)] = time.perf_counter()

    def after(self, conn: Any, *rest: Any) -> None:
        took = time.perf_counter() - self.started.pop(id(conn), time.perf_counter())
        self.sql += took
        if self.rendering:
            self.render_sql += took


@contextmanager
def timed_rendering(timing: Timing) -> Iterator[None]:
    """Every Template.render of the app, timed (the outermost call: a page's layout)."""
    original = jinja2.Template.render

    def render(self: jinja2.Template, *args: Any, **kwargs: Any) -> str:
        if timing.rendering:
            return original(self, *args, **kwargs)
        timing.rendering, started = True, time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            timing.render += time.perf_counter() - started
            timing.rendering = False

    jinja2.Template.render = render  # type: ignore[method-assign]
    try:
        yield
    finally:
        jinja2.Template.render = original  # type: ignore[method-assign]


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
            f"{self.name}_floor_ms": round(floor * 1000, 2),
            f"{self.name}_ratio": round(p50 / floor, 2) if floor else 0.0,
        }


def build(url: str, now: datetime) -> None:
    """The demo chain, as `make run` seeds it."""
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        publish_protocols(s)
        chain.seed(s, today=now.date(), now=now)
        s.commit()
    engine.dispose()


def _own(factory: sessionmaker[Session], username: str) -> dict[str, int]:
    """The ids a persona's pages name: a member and a pending step of theirs (or their
    store's), a lecture, their store (or the first)."""
    with factory() as s:
        who = s.scalars(select(Staff).where(Staff.username == username)).one()
        members = select(Member.id).order_by(Member.id)
        if who.store_id is not None:
            members = members.where(Member.owner_id == who.id)
        member = s.scalars(members).first() or s.scalars(select(Member.id)).first()
        step = s.scalars(
            select(Checkpoint.id)
            .where(Checkpoint.assignee_id == who.id, Checkpoint.state == CheckpointState.pending)
            .order_by(Checkpoint.due_on)
        ).first()
        lecture = s.scalars(select(Lecture.id).order_by(Lecture.id)).first()
        return {
            "member": member,
            "step": step or s.scalars(select(Checkpoint.id)).first() or 0,
            "lecture": lecture or 0,
            "store": who.store_id or s.scalar(select(Member.home_store_id).limit(1)) or 0,
        }


async def _run(app: Any, pages: list[Page], tokens: dict[str, str], rounds: int, warm: int,
               engine: Engine, capture: Capture, timing: Timing) -> None:  # fmt: skip
    transport = httpx.ASGITransport(app=app)
    clients = {
        persona: httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies={SESSION_COOKIE: token}
        )
        for persona, token in tokens.items()
    }
    try:
        for page in pages:  # warm: templates compiled, statements cached, pages paged in
            for _ in range(warm):
                await _get(clients[page.persona], page.url)
        for _ in range(rounds):
            for page in pages:
                capture.statements, capture.on = [], True
                timing.sql = timing.render = timing.render_sql = 0.0
                started = time.perf_counter()
                await _get(clients[page.persona], page.url)
                page.times.append(time.perf_counter() - started)
                capture.on = False
                rendering = timing.render - timing.render_sql
                page.floors.append(replay(engine, capture.statements) + rendering)
    finally:
        for client in clients.values():
            await client.aclose()


async def _get(client: httpx.AsyncClient, url: str) -> None:
    response = await client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")


def measure(url: str, now: datetime, rounds: int, warm: int = 3) -> dict[str, Any]:
    engine = make_engine(url)
    capture, timing = Capture(), Timing()
    event.listen(engine, "before_cursor_execute", capture)
    event.listen(engine, "before_cursor_execute", timing.before)
    event.listen(engine, "after_cursor_execute", timing.after)
    factory = make_session_factory(engine)
    freeze_clock(now, now.date())
    app = create_app(factory)
    personas = sorted({p for p, _, _ in PAGES})
    tokens = {p: sign_in(factory, p, now) for p in personas}
    ids = {p: _own(factory, p) for p in personas}
    pages = [Page(p, name, path.format(**ids[p])) for p, name, path in PAGES]
    with timed_rendering(timing):
        asyncio.run(_run(app, pages, tokens, rounds, warm, engine, capture, timing))
    engine.dispose()
    figures: dict[str, Any] = {}
    for page in pages:
        figures |= page.figures()
    slowest = max(pages, key=lambda p: pct(p.times, 50))
    figures["slowest_page"] = slowest.name
    figures["slowest_p50_ms"] = figures[f"{slowest.name}_p50_ms"]
    figures["max_ratio"] = max(figures[f"{n}_ratio"] for n in NAMES)
    figures["targets_missed"] = missed_targets(figures)
    return figures


def missed_targets(f: dict[str, Any]) -> list[str]:
    """The issue's targets: every page's median at most 15 ms and twice its floor."""
    missed = [f"{n}_p50_ms" for n in NAMES if f[f"{n}_p50_ms"] > TARGET_MS]
    return missed + [f"{n}_ratio" for n in NAMES if f[f"{n}_ratio"] > TARGET_RATIO]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--smoke", action="store_true", help="3 requests a page: does it run?")
    args = parser.parse_args()
    rounds, warm = (1, 1) if args.smoke else (args.requests, 3)
    # 10:00 on today's date in the chain's zone: the demo's steps fall due around it.
    now = datetime.combine(clock.today(), datetime_time(10), get_settings().zone)
    with throwaway_database(args.db, "pages", PG_BASE) as url:
        build(url, now)
        figures = measure(url, now, rounds, warm)
    for name in NAMES:
        print(f"{name:>18}: {figures[f'{name}_p50_ms']:6.2f} ms  floor "
              f"{figures[f'{name}_floor_ms']:6.2f} ms  ×{figures[f'{name}_ratio']}",
              file=sys.stderr)  # fmt: skip
    print(json.dumps({"db": args.db, "requests": rounds, **figures}))


if __name__ == "__main__":
    main()
