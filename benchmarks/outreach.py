"""Messages to members at a chain's scale: the day's build, and sending with 2 consumers.

    .venv/bin/python benchmarks/outreach.py [--db sqlite|postgres] [--members 200000]
        [--send 20000] [--consumers 2] [--smoke]

- build_messages, build_s, build_per_s: the production build (`build_day_committed`: its
  reads in one transaction, its inserts in a second) on a festival day, when every member
  who agreed to SMS gets a greeting, birthdays theirs too: messages written per second
  (target >= 5,000). ordinary_day_s: the same build on an ordinary day (birthdays only).
- send_messages, send_s, send_per_s: `send` of the first SEND messages, queued as the
  build queues them, taken by CONSUMERS real consumer processes (`careplan jobs consume
  --workers 1`) through the `log` provider, from the first task to the last message sent
  (target >= 1,000/s with 2 consumers). Consumers start first and are waited for.

A database of its own (SQLite file, or a throw-away PostgreSQL database, with the job
queue in Redis when it answers at 127.0.0.1:6379, else a SQLite file): STORES stores, a
clerk each, MEMBERS members (90 % agreeing to SMS, birthdays spread over the year). The
last line printed is a JSON object of the figures (JSON_KEYS). --smoke runs the same code
on 2,000 members and 500 messages.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from careplan import migrate
from careplan.access import Actor
from careplan.config import ROOT, get_settings
from careplan.db import make_engine, make_session_factory
from careplan.members.occasions import festivals_between
from careplan.models import Member, Message, MessageConsent, Staff, Store
from careplan.outreach import build, rules
from careplan.outreach.templates import current_templates
from careplan.vocab import MessageChannel, MessageState, Role

sys.path.insert(0, str(ROOT))
from benchmarks._measure import throwaway_database

JSON_KEYS = (
    "db",
    "members",
    "build_messages",
    "build_s",
    "build_per_s",
    "ordinary_day_s",
    "send_messages",
    "send_s",
    "send_per_s",
    "consumers",
)
STORES = 50
ALL_DAY = "00:00-23:59"
REDIS = "redis://127.0.0.1:6379/14"
PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
CHUNK = 10_000


def make_chain(factory: sessionmaker[Session], members: int, now: datetime) -> None:
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        stores = [
            Store(code=f"S{n:03d}", name=f"门店{n:03d}", region="华东") for n in range(STORES)
        ]
        s.add_all(stores)
        s.flush()
        clerks = [
            Staff(
                username=f"c{n}",
                name=f"店员{n}",
                role=Role.clerk,
                store_id=st.id,
                password_hash="x",
            )
            for n, st in enumerate(stores)
        ]
        s.add_all(clerks)
        s.flush()
        for first in range(0, members, CHUNK):
            rows = [
                {
                    "card_number": f"M{n:07d}",
                    "home_store_id": stores[n % STORES].id,
                    "owner_id": clerks[n % STORES].id,
                    "name": f"会员{n}",
                    "mobile": f"13{n:09d}",
                    "birthday": date(1950 + n % 50, 1, 1) + timedelta(days=n % 365),
                    "health_consent": False,
                    "created_at": now - timedelta(days=30),
                    "updated_at": now,
                }
                for n in range(first, min(first + CHUNK, members))
            ]
            s.execute(insert(Member), rows)
        ids = s.scalars(select(Member.id).order_by(Member.id)).all()
        agreed = [
            {"member_id": i, "channel": MessageChannel.sms, "granted_at": now}
            for n, i in enumerate(ids)
            if n % 10
        ]
        for first in range(0, len(agreed), CHUNK):
            s.execute(insert(MessageConsent), agreed[first : first + CHUNK])
        s.commit()


def context(day: date, now: datetime) -> build.Context:
    settings = get_settings()
    return build.Context(
        day=day,
        now=now,
        zone=settings.zone,
        window=rules.Window.parse(ALL_DAY),
        cap=2,
        templates=current_templates(settings.protocols_dir),
    )


def time_build(factory: sessionmaker[Session], day: date, now: datetime) -> tuple[int, float]:
    started = time.perf_counter()
    built = build.build_day_committed(factory, context(day, now), Actor.system("benchmark"))
    return built.added, time.perf_counter() - started


def queue_url(db: str, tmp: Path) -> str:
    if db == "postgres":
        import redis

        try:
            redis.Redis.from_url(REDIS, socket_connect_timeout=1).ping()
            return REDIS
        except redis.RedisError:
            pass
    return f"sqlite:///{tmp / 'jobs.db'}"


def time_send(
    factory: sessionmaker[Session], url: str, tmp: Path, count: int, consumers: int, db: str
) -> tuple[int, float]:
    from careplan.jobs import engine as jobs_engine
    from careplan.jobs import tasks

    env = {
        "CAREPLAN_DATABASE_URL": url,
        "CAREPLAN_JOBS_URL": queue_url(db, tmp),
        "CAREPLAN_JOBS_QUEUE": f"bench_{uuid.uuid4().hex}",
        "CAREPLAN_WORK_DIR": str(tmp),
        "CAREPLAN_MESSAGES_WINDOW": ALL_DAY,
        "CAREPLAN_LOG_FORMAT": "text",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    jobs_engine.reset()
    with factory() as s:  # nothing due while the consumers start (their first sweep)
        s.execute(update(Message).values(not_before=datetime.now(UTC) + timedelta(days=1)))
        ids = s.scalars(select(Message.id).order_by(Message.id).limit(count)).all()
        s.commit()
    logs = [open(tmp / f"consumer{n}.log", "wb") for n in range(consumers)]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "web", "jobs", "consume", "--workers", "1"],
            cwd=ROOT,
            env=os.environ | env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        for log in logs
    ]
    try:
        _wait_started(tmp, consumers)
        due = datetime.now(UTC)
        with factory() as s:
            s.execute(update(Message).where(Message.id.in_(ids)).values(not_before=due))
            s.commit()
        started = time.perf_counter()
        tasks.queue_messages(list(ids))
        while _waiting(factory, due) > 0:
            if time.perf_counter() - started > 600 or any(p.poll() is not None for p in procs):
                raise SystemExit("sending did not finish: see the consumer logs in " + str(tmp))
            time.sleep(0.05)
        took = time.perf_counter() - started
        return _sent(factory, list(ids)), took
    finally:
        for p in procs:
            p.kill()
            p.wait()
        for log in logs:
            log.close()
        jobs_engine.huey.flush()


def _wait_started(tmp: Path, consumers: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = [(tmp / f"consumer{n}.log").read_text(errors="replace") for n in range(consumers)]
        if all("Huey consumer started" in text for text in ready):
            time.sleep(0.5)  # their workers, past the start
            return
        time.sleep(0.1)
    raise SystemExit("the consumers did not start")


def _sent(factory: sessionmaker[Session], ids: list[int]) -> int:
    with factory() as s:
        sent = select(func.count()).where(Message.id.in_(ids), Message.state == MessageState.sent)
        return int(s.scalar(sent) or 0)


def _waiting(factory: sessionmaker[Session], due: datetime) -> int:
    """The due messages not sent yet, read from the outbox's partial index (counting the
    sent, a scan of the whole table every 50 ms, took the consumers' CPU on PostgreSQL)."""
    waiting = (MessageState.queued, MessageState.sending)
    with factory() as s:
        return int(
            s.scalar(
                select(func.count()).where(Message.state.in_(waiting), Message.not_before <= due)
            )
            or 0
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--members", type=int, default=200_000)
    parser.add_argument("--send", type=int, default=20_000)
    parser.add_argument("--consumers", type=int, default=2)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    members, send = (2000, 500) if args.smoke else (args.members, args.send)
    festival = festivals_between(date(2025, 1, 1), date(2025, 12, 31))[0]
    now = datetime.combine(festival.on, datetime.min.time(), UTC) + timedelta(hours=1)
    with (
        tempfile.TemporaryDirectory() as tmp,
        throwaway_database(args.db, "outreach", PG_BASE) as url,
    ):
        migrate.upgrade(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        make_chain(factory, members, now)
        _, ordinary = time_build(factory, festival.on - timedelta(days=3), now)
        added, build_s = time_build(factory, festival.on, now)
        print(f"built {added} messages for {festival.zh} in {build_s:.2f} s", file=sys.stderr)
        sent, send_s = time_send(factory, url, Path(tmp), send, args.consumers, args.db)
        engine.dispose()
    print(
        json.dumps(
            {
                "db": args.db,
                "members": members,
                "build_messages": added,
                "build_s": round(build_s, 2),
                "build_per_s": round(added / build_s),
                "ordinary_day_s": round(ordinary, 2),
                "send_messages": sent,
                "send_s": round(send_s, 2),
                "send_per_s": round(sent / send_s),
                "consumers": args.consumers,
            }
        )
    )


if __name__ == "__main__":
    main()
