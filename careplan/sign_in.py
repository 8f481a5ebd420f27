"""Sign-in: a password checked against its account, with lockouts that hold under
parallel guessing, and no transaction held open while argon2 works.

An attempt runs in three steps:
1. a short write transaction, under row locks, refuses if the name or the network
   address is locked, and reserves the attempt on the name's count;
2. the password is verified with no transaction open (argon2 takes ~150 ms on purpose:
   on SQLite, holding the only write lock through it queued every other writer);
3. a short write transaction settles: a success clears the name's count and opens the
   session; a failure adds to the address's count and locks what reached its limit.

Reserving before verifying is what makes the name's limit exact: fifty parallel guesses
each take a ticket first, and only the first five are ever checked against the real
hash. An address is counted when a failure is known instead, not reserved: thirty
colleagues signing in at nine behind one store router must not lock it by being many.

Names are counted whether or not an account has them, so a locked account and an unknown
name answer alike: after the limit both say "locked", and nothing tells which exist.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import transaction
from careplan.models import SignInLimit, Staff
from careplan.sessions import open_session

MAX_FAILURES = 5  # wrong passwords in a row for one name
LOCKOUT = timedelta(minutes=15)
# One address (a store's till PC, a shared network) may mistype more than one person, but
# not 20 times in 15 minutes; an attacker spraying one password over many names does.
MAX_ADDRESS_FAILURES = 20
ADDRESS_WINDOW = LOCKOUT
_hasher = PasswordHash.recommended()
_MADE_ONCE = threading.Lock()  # two first sign-ins at once must not make two semaphores


def _checking() -> threading.BoundedSemaphore:
    with _MADE_ONCE:
        return _check_slots()


@cache
def _check_slots() -> threading.BoundedSemaphore:
    """argon2 is slow on purpose and takes a core while it runs: a burst of sign-ins
    checked all at once would crowd out the requests holding the database's locks, and
    those would hold them for seconds. At most one check per core of the machine runs at
    a time, shared out between the app processes `careplan serve` started on it (each
    counts only its own); the rest wait their turn."""
    cores = os.cpu_count() or 2
    return threading.BoundedSemaphore(max(1, cores // get_settings().workers))


@cache
def _dummy_hash() -> str:
    """Verified against when there is no account to check, so every path costs one hash."""
    return _hasher.hash("careplan-dummy-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password: str, hashed: str) -> bool:
    """A stored value that is no hash (an account with no password set) matches nothing;
    the dummy is verified instead, so the refusal costs the usual time."""
    with _checking():
        try:
            return _hasher.verify(password, hashed)
        except UnknownHashError:
            _hasher.verify(password, _dummy_hash())
            return False


@dataclass(frozen=True)
class Counter:
    key: str
    limit: int
    window: timedelta | None  # None: failures count "in a row", until a success
    by_address: bool


def name_key(username: str) -> str:
    return f"name:{username.strip()[:64]}"


def counters(username: str, address: str) -> list[Counter]:
    found = [Counter(name_key(username), MAX_FAILURES, None, by_address=False)]
    if address:
        found.append(Counter(f"address:{address[:64]}", MAX_ADDRESS_FAILURES, ADDRESS_WINDOW, True))
    # Always locked in the same order, so two attempts never wait for each other in a ring.
    return sorted(found, key=lambda c: c.key)


@dataclass(frozen=True)
class SignIn:
    """The outcome of an attempt: the staff member and their new session's token, or a
    refusal (with when the lock ends, if locked)."""

    staff: Staff | None
    token: str | None = None
    locked_until: datetime | None = None
    by_address: bool = False  # locked for the network address, not the name


def sign_in(
    factory: sessionmaker[Session],
    username: str,
    password: str,
    *,
    now: datetime,
    address: str = "",
    kind: str,
    hours: int,
) -> SignIn:
    """Check a password and open a session of `kind` ("web" or "api") for `hours`.

    Every path verifies exactly one argon2 hash, so an unknown name, a locked account and
    a wrong password take the same time and timing tells nothing about which names exist."""
    spec = counters(username, address)
    with _writing(factory) as session:
        staff = session.scalar(select(Staff).where(Staff.username == username.strip()))
        refused = _reserve(session, spec, now)
    known = staff is not None and staff.active and refused is None
    # A refused attempt is checked against the dummy: only reserved attempts meet the
    # real hash, and the refusal still costs the same time.
    checked = verify(password, staff.password_hash if known and staff else _dummy_hash())
    if refused is not None:
        return refused
    with _writing(factory) as session:
        if known and checked and staff is not None:
            _settle_success(session, spec, now)
            token = open_session(session, staff, kind=kind, hours=hours, now=now)
            return SignIn(staff, token)
        return _settle_failure(session, spec, now)


def _writing(factory: sessionmaker[Session]) -> AbstractContextManager[Session]:
    return transaction(factory, actor=Actor.system("sign-in"), writing=True)


def _locked_row(session: Session, key: str, now: datetime) -> SignInLimit:
    """The counter's row, created if new and locked until commit. Creating with ON
    CONFLICT DO NOTHING lets parallel first attempts from a new address meet safely."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(SignInLimit)
        .values(key=key, failures=0, counting_since=now)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = session.scalar(
        select(SignInLimit)
        .where(SignInLimit.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


def _start_afresh_if_due(row: SignInLimit, counter: Counter, now: datetime) -> None:
    expired_lock = row.locked_until is not None and row.locked_until <= now
    window_over = counter.window is not None and row.counting_since + counter.window <= now
    if expired_lock or window_over:
        row.failures, row.locked_until, row.counting_since = 0, None, now


def _reserve(session: Session, spec: Sequence[Counter], now: datetime) -> SignIn | None:
    """A refusal if a counter is locked, or spent (by attempts still in flight, for a
    name); else this attempt is counted on the name before its password is checked."""
    rows = []
    refusal: SignIn | None = None
    for counter in spec:
        row = _locked_row(session, counter.key, now)
        _start_afresh_if_due(row, counter, now)
        if row.locked_until is None and row.failures >= counter.limit:
            row.locked_until = now + LOCKOUT
        if row.locked_until is not None and refusal is None:
            refusal = SignIn(None, locked_until=row.locked_until, by_address=counter.by_address)
        rows.append((counter, row))
    if refusal is None:
        for counter, row in rows:
            row.failures += 0 if counter.by_address else 1
    session.flush()
    return refusal


def _settle_success(session: Session, spec: Sequence[Counter], now: datetime) -> None:
    """A right password: the name starts again from nought."""
    for counter in spec:
        if not counter.by_address:
            _locked_row(session, counter.key, now).failures = 0
    session.flush()


def _settle_failure(session: Session, spec: Sequence[Counter], now: datetime) -> SignIn:
    outcome = SignIn(None)
    for counter in spec:
        row = _locked_row(session, counter.key, now)
        if counter.by_address:
            _start_afresh_if_due(row, counter, now)
            row.failures += 1
        if row.locked_until is None and row.failures >= counter.limit:
            row.locked_until = now + LOCKOUT
        if row.locked_until is not None and outcome.locked_until is None:
            outcome = SignIn(None, locked_until=row.locked_until, by_address=counter.by_address)
    session.flush()
    return outcome


def unlock(session: Session, username: str) -> None:
    """An admin lifts a name's lock (and its count) before it would end by itself."""
    session.execute(delete(SignInLimit).where(SignInLimit.key == name_key(username)))


def locked_until(session: Session, username: str, now: datetime) -> datetime | None:
    """When the name's lock ends, if it is locked now (for the staff pages)."""
    until = session.scalar(
        select(SignInLimit.locked_until).where(SignInLimit.key == name_key(username))
    )
    return until if until is not None and until > now else None


def locked_names(session: Session, now: datetime) -> set[str]:
    """Every name locked now, in one query (the admin's list of accounts)."""
    rows = session.scalars(
        select(SignInLimit.key).where(
            SignInLimit.key.startswith("name:"), SignInLimit.locked_until > now
        )
    )
    return {key.removeprefix("name:") for key in rows}
