"""Sign-in: argon2 passwords, lockouts per name and per address that hold under
parallel guessing, session kinds, and no write lock held while a password is checked."""

from __future__ import annotations

import sqlite3
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careplan import sign_in as sign_in_module
from careplan.access import Actor
from careplan.models import AuthSession, Staff
from careplan.sessions import open_session, staff_for_token
from careplan.sign_in import MAX_FAILURES, SignIn, hash_password, sign_in
from careplan.staff import StaffIn, create_staff, unlock
from careplan.vocab import Role
from tests.factories import NOW, World

RIGHT = "right-password-123"


def attempt(
    factory: sessionmaker[Session], name: str, password: str, *, now=NOW, address: str = ""
) -> SignIn:
    return sign_in(factory, name, password, now=now, address=address, kind="web", hours=1)


@pytest.fixture
def factory(world: World, session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    world.clerk_a.password_hash = hash_password(RIGHT)
    world.session.commit()
    return session_factory


def test_repeated_wrong_passwords_lock_the_account_then_it_reopens(factory):
    for _ in range(MAX_FAILURES - 1):
        refused = attempt(factory, "clerk.a", "wrong")
        assert refused.token is None and refused.locked_until is None
    locked = attempt(factory, "clerk.a", "wrong")
    assert locked.token is None and locked.locked_until == NOW + timedelta(minutes=15)
    assert attempt(factory, "clerk.a", RIGHT).token is None  # even the right one waits
    later = NOW + timedelta(minutes=16)
    opened = attempt(factory, "clerk.a", RIGHT, now=later)
    assert opened.token is not None and opened.staff is not None
    assert opened.staff.username == "clerk.a"


def test_a_success_resets_the_failure_count(factory):
    for _ in range(MAX_FAILURES - 1):
        attempt(factory, "clerk.a", "wrong")
    assert attempt(factory, "clerk.a", RIGHT).token is not None
    assert attempt(factory, "clerk.a", "wrong").locked_until is None


def test_an_unknown_name_locks_as_a_real_account_does(factory):
    """After the limit both answer "locked": the answer never tells which names exist."""
    answers = {}
    for name in ("clerk.a", "nobody.x"):
        outcomes = [attempt(factory, name, "wrong") for _ in range(MAX_FAILURES + 1)]
        answers[name] = [(o.token, o.locked_until, o.by_address) for o in outcomes]
    assert answers["clerk.a"] == answers["nobody.x"]
    assert answers["nobody.x"][-1][1] == NOW + timedelta(minutes=15)


def test_an_admin_unlocks_a_locked_account(factory, world: World):
    for _ in range(MAX_FAILURES):
        attempt(factory, "clerk.a", "wrong")
    unlock(world.session, world.clerk_a.id)
    world.session.commit()
    assert attempt(factory, "clerk.a", RIGHT).token is not None


def test_web_and_api_sessions_do_not_stand_in_for_each_other(world: World):
    token = open_session(world.session, world.clerk_a, kind="web", hours=1, now=NOW)
    assert staff_for_token(world.session, token, now=NOW, kind="web") is world.clerk_a
    assert staff_for_token(world.session, token, now=NOW, kind="api") is None


def test_every_refusal_verifies_one_hash_so_timing_tells_no_names(
    factory, world: World, monkeypatch
):
    """An unknown name, an inactive account, a locked account and a wrong password each
    cost one argon2 verification, as a right password does (benchmarks/sign_in_timing.py
    measures the times)."""
    world.clerk_a2.active = False
    world.session.commit()
    for _ in range(MAX_FAILURES):
        attempt(factory, "pharm.a", "wrong")  # locked now
    calls: list[str] = []
    real = sign_in_module.verify

    def counting(password: str, hashed: str) -> bool:
        calls.append(password)
        return real(password, hashed)

    monkeypatch.setattr(sign_in_module, "verify", counting)
    for name in ("nobody.x", "clerk.a2", "pharm.a", "clerk.a"):
        calls.clear()
        assert attempt(factory, name, "wrong-password").token is None
        assert calls == ["wrong-password"], name
    calls.clear()
    assert attempt(factory, "clerk.a", RIGHT).token is not None
    assert len(calls) == 1


GUESSES = 50


def test_parallel_wrong_passwords_meet_the_real_hash_at_most_the_limit(
    committed_db: sessionmaker[Session], monkeypatch
):
    """Fifty guesses at once, from one new address: each takes its turn on the counters
    before its hash is checked, so no more than the limit reach the account's real hash,
    and the first attempts from the new address do not collide creating its counter."""
    factory = committed_db
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        data = StaffIn(username="target.x", name="目标", role=Role.supervisor, password=RIGHT)
        real_hash = create_staff(s, data).password_hash
        s.commit()
    checked: list[str] = []
    real = sign_in_module.verify

    def counting(password: str, hashed: str) -> bool:
        if hashed == real_hash:
            checked.append(password)
        return real(password, hashed)

    monkeypatch.setattr(sign_in_module, "verify", counting)
    outcomes: list[SignIn] = []
    errors: list[BaseException] = []
    go = threading.Barrier(GUESSES)

    def guess(n: int) -> None:
        go.wait()
        try:
            outcomes.append(attempt(factory, "target.x", f"guess-{n}", address="10.9.9.9"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(GUESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert len(outcomes) == GUESSES and all(o.token is None for o in outcomes)
    assert 1 <= len(checked) <= MAX_FAILURES
    assert sum(o.locked_until is not None for o in outcomes) >= GUESSES - MAX_FAILURES
    assert attempt(factory, "target.x", RIGHT, address="10.1.1.1").locked_until is not None


def test_no_write_lock_is_held_while_a_password_is_checked(
    committed_db: sessionmaker[Session], monkeypatch, real_argon2: None
):
    """On SQLite one write lock serves the whole database: a sign-in that held it through
    argon2 made every other writer queue behind the hash (and, in a burst, time out)."""
    factory = committed_db
    url = factory.kw["bind"].url
    if url.get_backend_name() != "sqlite":
        pytest.skip("the single write lock is SQLite's")
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        create_staff(s, StaffIn(username="lock.x", name="锁", role=Role.admin, password=RIGHT))
        s.commit()
    probes: list[str] = []
    real = sign_in_module.verify

    def probing(password: str, hashed: str) -> bool:
        other = sqlite3.connect(url.database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if someone holds the lock
            other.execute("ROLLBACK")
            probes.append("free")
        except sqlite3.OperationalError as exc:
            probes.append(str(exc))
        finally:
            other.close()
        return real(password, hashed)

    monkeypatch.setattr(sign_in_module, "verify", probing)
    assert attempt(factory, "lock.x", "wrong").token is None
    assert attempt(factory, "lock.x", RIGHT).token is not None
    assert probes == ["free", "free"]
    with factory() as s:
        staff_id = s.scalar(select(Staff.id).where(Staff.username == "lock.x"))
        assert s.scalar(select(AuthSession.id).where(AuthSession.staff_id == staff_id))
