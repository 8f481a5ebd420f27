"""Whether this process can serve: the checks behind /healthz, each a named probe.

A load balancer takes a process out of its pool when any probe fails, and an operator
reads which one. The probes: the database answers (SELECT 1), and its schema is at the
migrations' head (a process started before `careplan db upgrade` finished, or a
database restored from an older backup, would fail on the first changed table), and the
job engine's queue answers and no job has waited minutes for a consumer.

What a failure says is short and names no host or account (/healthz needs no sign-in);
the exception itself goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, migrate
from careplan.jobs import engine, lease

log = logging.getLogger(__name__)


class NotReady(Exception):
    """A probe's own finding that something is wrong, said in its words."""


# A probe gets a session of its own and says what it found; it raises when it fails.
Probe = Callable[[Session], str]


def database_reachable(session: Session) -> str:
    session.execute(text("SELECT 1"))
    return "reachable"


@cache
def code_heads() -> frozenset[str]:
    """The revisions this code's migrations end at (read once: the code does not change
    under a running process, even when a newer release is unpacked beside it)."""
    return frozenset(ScriptDirectory.from_config(migrate.alembic_config()).get_heads())


def migrations_at_head(session: Session) -> str:
    current = frozenset(MigrationContext.configure(session.connection()).get_current_heads())
    expected = code_heads()
    if current != expected:
        raise NotReady(f"database at {_names(current)}, code needs {_names(expected)}")
    return f"at {_names(current)}"


def _names(revisions: frozenset[str]) -> str:
    return ", ".join(sorted(revisions)) or "no revision (not migrated)"


def jobs_attended(session: Session) -> str:
    """The queue answers, and no job has waited minutes for a consumer (none running: a
    queue that answers says nothing of who reads it)."""
    waiting = engine.waiting()
    left = lease.unattended(session, clock.now())
    if left:
        minutes = int(lease.UNATTENDED_AFTER.total_seconds() // 60)
        raise NotReady(f"{left} job(s) untouched for {minutes} minutes: is a consumer running?")
    return f"{waiting} waiting"


PROBES: Mapping[str, Probe] = {
    "db": database_reachable,
    "migrations": migrations_at_head,
    "jobs": jobs_attended,
}


@dataclass(frozen=True)
class Finding:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    findings: dict[str, Finding]

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.findings.values())

    @property
    def failed(self) -> list[str]:
        return [name for name, f in self.findings.items() if not f.ok]

    def as_dict(self) -> dict[str, object]:
        checks = {n: {"ok": f.ok, "detail": f.detail} for n, f in self.findings.items()}
        if self.ok:
            return {"status": "ok", "checks": checks}
        return {"status": "failing", "failed": self.failed, "checks": checks}


def run_probe(factory: sessionmaker[Session], name: str, probe: Probe) -> Finding:
    """One probe in a session of its own, read-only (rolled back), whatever it raises."""
    try:
        with factory() as session:
            return Finding(True, probe(session))
    except NotReady as exc:
        return Finding(False, str(exc))
    except Exception as exc:
        log.warning("health probe %s failed", name, exc_info=exc)
        return Finding(False, f"failed: {type(exc).__name__}")


def check(factory: sessionmaker[Session], probes: Mapping[str, Probe] = PROBES) -> Health:
    return Health({name: run_probe(factory, name, probe) for name, probe in probes.items()})
