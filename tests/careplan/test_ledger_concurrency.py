"""Writers in different stores do not wait for each other on the logs' chains, and many
writers at once, on different chains and on the same one, leave every chain whole.

Each person's entries are a chain of their own (careplan/trust/ledger.py): on PostgreSQL
a writer waits only for the same person's open transactions. SQLite has one write lock
for the whole database whatever the chains, so the first test is PostgreSQL's alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.db import begin_for_writing
from careplan.members.archive import MemberCreate, create_member
from careplan.models import AccessLog, ChangeLog, Staff, Store
from careplan.trust import access_log
from careplan.trust.access_log import Look
from careplan.trust.ledger import verify_all
from careplan.vocab import Role
from tests.factories import make_staff

NOW = datetime(2024, 3, 1, 2, tzinfo=UTC)
HOLD_S = 3.0  # store A's transaction stays open this long: a long till import
MAX_WRITE_S = 0.1  # what store B's write and look may take, meanwhile
_cards = iter(range(10**6))


def _clerks(factory: sessionmaker[Session], stores: int, per_store: int = 1) -> list[Actor]:
    """Stores S0, S1, … with their clerks, committed; the clerks as actors, store by store."""
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        staff: list[Staff] = []
        for n in range(stores):
            store = Store(code=f"S{n:03d}", name=f"测试店{n}", region="华东")
            s.add(store)
            s.flush()
            staff += [
                make_staff(s, username=f"clerk.{n}.{k}", role=Role.clerk, store=store)
                for k in range(per_store)
            ]
        s.commit()
        return [Actor.of(x, via="test") for x in staff]


def _register(session: Session, actor: Actor) -> int:
    """A member registered (care data: change-log entries in the actor's chain)."""
    session.info["actor"] = actor
    card = f"C{next(_cards):07d}"
    return create_member(session, actor, MemberCreate(name="新会员", card_number=card), now=NOW).id


def _look(member_id: int) -> Look:
    return Look(what="page", target=f"/members/{member_id}", address="127.0.0.1", now=NOW)


def _timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _write_as(factory: sessionmaker[Session], actor: Actor) -> int:
    """One web request's write: its own transaction, begun as the web app begins it."""
    with factory() as s:
        begin_for_writing(s)
        member_id = _register(s, actor)
        s.commit()
        return member_id


def test_another_stores_write_and_look_do_not_wait_for_a_long_open_transaction(
    committed_db: sessionmaker[Session],
):
    factory = committed_db
    if factory.kw["bind"].dialect.name == "sqlite":
        pytest.skip("SQLite has one write lock for the whole database: writers take turns")
    clerk_a, clerk_b = _clerks(factory, stores=2)
    # Store B's connections are warm, as a running web app's are.
    member_b = _write_as(factory, clerk_b)
    access_log.record(factory, clerk_b, [member_b], _look(member_b))

    holding = threading.Event()
    failed: list[BaseException] = []

    def store_a() -> None:
        try:
            with factory() as s:
                begin_for_writing(s)
                member_a = _register(s, clerk_a)
                access_log.record_in(s, clerk_a, [member_a], _look(member_a))
                holding.set()
                time.sleep(HOLD_S)
                s.commit()
        except BaseException as exc:  # the test's finding, said by the main thread
            failed.append(exc)
            holding.set()

    a = threading.Thread(target=store_a)
    a.start()
    try:
        assert holding.wait(10) and not failed, failed
        with factory() as s:  # store A's transaction really holds its two chains
            held = (
                "SELECT count(*) FROM pg_locks JOIN pg_database d ON d.oid = database "
                "WHERE locktype = 'advisory' AND granted AND d.datname = current_database()"
            )
            assert s.scalar(text(held)) == 2
        write_s = _timed(lambda: _write_as(factory, clerk_b))
        look_s = _timed(lambda: access_log.record(factory, clerk_b, [member_b], _look(member_b)))
        overlapped = a.is_alive()
    finally:
        a.join()
    assert not failed, failed
    assert write_s < MAX_WRITE_S and look_s < MAX_WRITE_S, (write_s, look_s)
    assert overlapped, "store A's transaction ended before store B was measured"
    with factory() as s:
        assert [r.broken for r in verify_all(s)] == [None, None]


THREADS_PER_CLERK = 3  # the same person's writes at once: one chain, taken in turns
ROUNDS = 6


def test_many_writers_on_different_and_the_same_chains_leave_every_chain_whole(
    committed_db: sessionmaker[Session],
):
    factory = committed_db
    clerks = _clerks(factory, stores=2, per_store=2)
    writers = [clerk for clerk in clerks for _ in range(THREADS_PER_CLERK)]
    start = threading.Barrier(len(writers))
    failed: list[BaseException] = []

    def write(actor: Actor) -> None:
        start.wait()
        for _ in range(ROUNDS):
            try:
                with factory() as s:
                    begin_for_writing(s)
                    member_id = _register(s, actor)
                    access_log.record_in(s, actor, [member_id], _look(member_id))
                    s.commit()
            except BaseException as exc:  # a duplicate seq would be refused here
                failed.append(exc)

    threads = [threading.Thread(target=write, args=(actor,)) for actor in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failed == []
    with factory() as s:
        changes, looks = verify_all(s)
        assert (changes.broken, looks.broken) == (None, None)
        people = {clerk.staff_id for clerk in clerks}
        assert people < set(changes.heads) and set(looks.heads) == people
        per_chain = s.execute(select(AccessLog.chain, func.count()).group_by(AccessLog.chain))
        assert dict(per_chain.all()) == dict.fromkeys(people, THREADS_PER_CLERK * ROUNDS)
        for person in people:  # each person's change-log entries: their chain, 1…n
            mine = select(func.count()).where(ChangeLog.actor_id == person)
            assert changes.heads[person].seq == s.scalar(mine) >= THREADS_PER_CLERK * ROUNDS
