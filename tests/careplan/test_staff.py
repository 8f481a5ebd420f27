"""Sign-in: argon2 passwords, lockout after repeated failures, session kinds."""

from __future__ import annotations

from datetime import timedelta

from careplan.sessions import open_session, staff_for_token
from careplan.staff import MAX_FAILURES, authenticate, hash_password
from tests.conftest import NOW, World


def test_repeated_wrong_passwords_lock_the_account_then_it_reopens(world: World):
    world.clerk_a.password_hash = hash_password("right-password-123")
    s = world.session
    for _ in range(MAX_FAILURES - 1):
        assert authenticate(s, "clerk.a", "wrong", now=NOW).staff is None
    locked = authenticate(s, "clerk.a", "wrong", now=NOW)
    assert locked.staff is None and locked.locked_until == NOW + timedelta(minutes=15)
    assert authenticate(s, "clerk.a", "right-password-123", now=NOW).staff is None
    later = NOW + timedelta(minutes=16)
    assert authenticate(s, "clerk.a", "right-password-123", now=later).staff is world.clerk_a
    assert world.clerk_a.failed_sign_ins == 0


def test_a_success_resets_the_failure_count(world: World):
    world.clerk_a.password_hash = hash_password("right-password-123")
    s = world.session
    for _ in range(MAX_FAILURES - 1):
        authenticate(s, "clerk.a", "wrong", now=NOW)
    assert authenticate(s, "clerk.a", "right-password-123", now=NOW).staff is world.clerk_a
    assert authenticate(s, "clerk.a", "wrong", now=NOW).locked_until is None


def test_web_and_api_sessions_do_not_stand_in_for_each_other(world: World):
    token = open_session(world.session, world.clerk_a, kind="web", hours=1, now=NOW)
    assert staff_for_token(world.session, token, now=NOW, kind="web") is world.clerk_a
    assert staff_for_token(world.session, token, now=NOW, kind="api") is None


def test_every_refusal_verifies_one_hash_so_timing_tells_no_names(world: World, monkeypatch):
    """An unknown name, an inactive account, a locked account and a wrong password each
    cost one argon2 verification, as a right password does (benchmarks/sign_in_timing.py
    measures the times)."""
    from careplan import staff as staff_module

    world.clerk_a.password_hash = hash_password("right-password-123")
    world.clerk_a2.active = False
    world.pharmacist_a.locked_until = NOW + timedelta(minutes=5)
    calls: list[str] = []
    real = staff_module._hasher

    class Counting:
        def verify(self, password: str, hashed: str) -> bool:
            calls.append(password)
            return real.verify(password, hashed)

    monkeypatch.setattr(staff_module, "_hasher", Counting())
    s = world.session
    for name in ("nobody.x", "clerk.a2", "pharm.a", "clerk.a"):
        calls.clear()
        assert authenticate(s, name, "wrong-password", now=NOW).staff is None
        assert calls == ["wrong-password"], name
    calls.clear()
    assert authenticate(s, "clerk.a", "right-password-123", now=NOW).staff is world.clerk_a
    assert len(calls) == 1
