"""A consumer killed (kill -9) in the middle of sending the day's messages: every message
leaves at most once, and the rest leave after a restart.

Real consumers (`careplan jobs consume --workers 2`) on a real queue (huey's SQLite file
beside SQLite, Redis beside PostgreSQL), sending through the `log` provider (a file of
what left). MESSAGES welcome messages are built and queued as the hourly build does.
Once the file shows the first messages its workers are frozen (SIGSTOP) and the consumer
killed -9 (its workers die with it): some messages left, a group or two are marked
"sending", the rest wait. The next consumer's sweep settles each "sending" row from the
provider's own record (left: sent; not left: queued again) and queues what waits; each
message is then in the file exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Engine

from careplan import clock
from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import make_session_factory
from careplan.jobs import tasks
from careplan.models import Member, Message, MessageConsent, Staff, Store
from careplan.outreach import build, rules
from careplan.outreach.log import FILE_NAME, read_log
from careplan.outreach.templates import current_templates
from careplan.vocab import MessageChannel, MessageState, Role
from tests.test_job_consumer import _alive, _consumer, _kill_group, _until, database, queue

__all__ = ["database", "queue"]  # the fixtures, shared with the jobs' own kill test

MESSAGES = 3000
ALL_DAY = "00:00-23:59"  # the test runs whatever the hour


def _members(factory, now: datetime) -> None:  # type: ignore[no-untyped-def]
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        store = Store(code="K001", name="测试店", region="华东", address="测试路1号", phone="1")
        s.add(store)
        s.flush()
        clerk = Staff(username="k.clerk", name="店员", role=Role.clerk, store_id=store.id,
                      password_hash="x")  # fmt: skip
        s.add(clerk)
        s.flush()
        s.execute(insert(Member), [
            {"card_number": f"K{n:05d}", "home_store_id": store.id, "owner_id": clerk.id,
             "name": f"会员{n}", "mobile": f"139{n:08d}", "health_consent": False,
             "created_at": now, "updated_at": now}
            for n in range(MESSAGES)
        ])  # fmt: skip
        ids = s.scalars(select(Member.id)).all()
        s.execute(insert(MessageConsent), [
            {"member_id": i, "channel": MessageChannel.sms, "granted_at": now} for i in ids
        ])  # fmt: skip
        s.commit()


def _build(factory, now: datetime) -> list[int]:  # type: ignore[no-untyped-def]
    settings = get_settings()
    context = build.Context(day=now.astimezone(settings.zone).date(), now=now,
                            zone=settings.zone, window=rules.Window.parse(ALL_DAY), cap=2,
                            templates=current_templates(settings.protocols_dir))  # fmt: skip
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        built = build.build_day(s, context, [build._welcomes])
        s.commit()
    return built.ids


def _kept(work: Path) -> Counter[int]:
    path = work / FILE_NAME
    return Counter(int(x["id"]) for x in read_log(path)) if path.exists() else Counter()


def _states(factory) -> Counter[MessageState]:  # type: ignore[no-untyped-def]
    with factory() as s:
        return Counter(dict(s.execute(
            select(Message.state, func.count()).group_by(Message.state)).all()))  # fmt: skip


def _freeze_workers(consumer: subprocess.Popen[bytes]) -> list[int]:
    """SIGSTOP the consumer's worker processes (its children), where they are."""
    children = Path(f"/proc/{consumer.pid}/task/{consumer.pid}/children").read_text().split()
    for pid in map(int, children):
        os.kill(pid, signal.SIGSTOP)
    return [int(p) for p in children]


def test_a_consumer_killed_mid_sending_leaves_each_message_sent_once(
    database: tuple[str, Engine], queue: dict[str, str], tmp_path: Path, monkeypatch
):
    url, engine = database
    monkeypatch.setenv("CAREPLAN_MESSAGES_WINDOW", ALL_DAY)
    get_settings.cache_clear()
    queue = queue | {"CAREPLAN_MESSAGES_WINDOW": ALL_DAY}
    factory = make_session_factory(engine)
    now = clock.now()
    _members(factory, now)
    ids = _build(factory, now)
    assert len(ids) == MESSAGES
    tasks.queue_messages(ids)
    work, log = Path(queue["CAREPLAN_WORK_DIR"]), tmp_path / "consumers.log"

    first = _consumer(url, queue, log)
    try:
        _until("the first messages sent", lambda: len(_kept(work)) > 0, log, timeout=60)
        workers = _freeze_workers(first)
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
        _until("its workers gone", lambda: not any(map(_alive, workers)), log, timeout=10)
    finally:
        _kill_group(first)
    cut, left = _states(factory), _kept(work)
    assert 0 < len(left) < MESSAGES, cut  # killed in the middle: some left, most did not
    assert cut[MessageState.sending] > 0 and cut[MessageState.queued] > 0, cut
    # What left is marked sent, or still "sending" (a group is settled with the next
    # group's claim): never queued to go again.
    with factory() as s:
        states = dict(
            s.execute(select(Message.id, Message.state).where(Message.id.in_(left))).all()
        )
    assert set(states.values()) <= {MessageState.sent, MessageState.sending}, states
    assert max(left.values()) == 1

    _until("the lease running out", lambda: _stale_for(factory, seconds=1), log, timeout=30)
    second = _consumer(url, queue, log)
    try:
        _until("every message sent", lambda: _states(factory)[MessageState.sent] == MESSAGES,
               log, timeout=120)  # fmt: skip
    finally:
        second.kill()
        second.wait(timeout=10)
        _kill_group(second)
    kept = _kept(work)
    assert set(kept) == set(ids) and max(kept.values()) == 1, kept.most_common(3)


def _stale_for(factory, *, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    """Every row "sending" has been so long enough for the next consumer to take it over."""
    with factory() as s:
        oldest = s.scalar(select(func.max(Message.sending_at)).where(
            Message.state == MessageState.sending))  # fmt: skip
    return oldest is None or oldest < clock.now() - timedelta(seconds=seconds)
