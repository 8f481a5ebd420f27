"""Schemathesis over the whole JSON API, in this process, as its command line runs it:
every phase (examples, coverage, fuzzing, and stateful on the links it infers from the
schema), checking what careplan promises: no server error, and every 4xx in the API's
error shape with a message. Shared by tests/web/test_api_fuzz.py (a few examples per
operation) and benchmarks/fuzz.py (100).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import schemathesis
from fastapi import FastAPI
from schemathesis.config import HealthCheck
from schemathesis.engine import Status, events, from_schema
from sqlalchemy.orm import Session, sessionmaker

from careplan.config import get_settings
from careplan.lectures import lectures
from careplan.lectures.lectures import LectureIn
from careplan.models import Staff
from careplan.sessions import open_session
from tests.factories import World, enrolled_steps, make_member

PHASES = ["examples", "coverage", "fuzzing", "stateful"]
CHECKS = ["not_a_server_error", "careplan_error_shape"]
ENDING = r"/(erase|health-consent/withdraw|stop|cancel|hand-over|sessions/end|sign-out)$"


@schemathesis.check
def careplan_error_shape(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every refusal says what is wrong: {"error": {"message": ..., "field": ...}}."""
    if 400 <= response.status_code < 500:
        error = response.json().get("error")
        if not isinstance(error, dict) or not error.get("message") or "field" not in error:
            raise AssertionError(f"a {response.status_code} without the error shape")
    return None


def something_to_find(world: World, now: datetime) -> None:
    """A member with a plan and steps, and a lecture next week with the member's seat,
    so generated ids 1, 2, ... reach real rows."""
    member = make_member(world)
    enrolled_steps(world, member, start=date(2024, 2, 20))
    actor = world.actor(world.supervisor)
    starts = now + timedelta(days=7)
    talk = LectureIn(
        title_zh="骨质疏松讲座", title_en="Osteoporosis talk", topic=lectures.GENERAL_TOPIC,
        store_id=world.store_a.id, starts_at=starts, ends_at=starts + timedelta(hours=1),
        capacity=20, register_by=starts - timedelta(days=1),
    )  # fmt: skip
    lecture = lectures.create_lecture(world.session, actor, talk, now=now)
    lectures.register(world.session, actor, lecture.id, member.id, now=now)
    world.session.commit()


@dataclass
class FuzzRun:
    operations: int = 0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    by_phase: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # each with a curl to repeat it
    errors: list[str] = field(default_factory=list)  # the app raised, no answer recorded
    problems: list[str] = field(default_factory=list)  # of the run itself, not of an answer
    seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500) + len(self.errors)


def run(
    app: FastAPI,
    session_factory: sessionmaker[Session],
    staff_id: int,
    now: Callable[[], datetime],
    *,
    examples: int,
    seed: int = 1,
    paths: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> FuzzRun:
    """Every operation of /api/v1/openapi.json (or those whose path matches the regular
    expression `paths`), signed in as `staff_id`."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    if paths is not None:
        schema = schema.include(path_regex=paths)
    found, started = FuzzRun(), time.monotonic()
    # Operations that end something (an erasure, a withdrawn consent, a stopped plan, a
    # cancelled lecture, a hand-over, a sign-out) run last: run first, they left the
    # others only refusals (409s) for the seeded records, and their code untried. The
    # stateful phase chains the others; the ending ones, last links of any chain, are
    # each tested on their own.
    ending = schema.exclude(lambda ctx: not re.search(ENDING, ctx.operation.path))
    for part, phases in ((schema.exclude(path_regex=ENDING), PHASES), (ending, PHASES[:-1])):
        if not part.statistic.operations.selected:
            continue  # a --smoke selection
        _configure(part, examples, seed, phases)
        _sign_in(part, session_factory, staff_id, now)
        for event in from_schema(part).execute():
            _take(found, event, progress)
        found.operations += part.statistic.operations.selected
    found.requests = sum(found.statuses.values())
    found.seconds = round(time.monotonic() - started, 1)
    return found


def _configure(schema: Any, examples: int, seed: int, phases: list[str]) -> None:
    config = schema.config
    config.seed = seed
    config.phases.update(phases=phases)
    # The schema has no examples of its own: the examples phase then sends one generated
    # valid request per operation.
    config.phases.examples.fill_missing = True
    config.generation.update(max_examples=examples, database="none")
    # An operation without parameters has one request to make: not a failure to find more.
    config.update(suppress_health_check=[HealthCheck.all])
    config.checks.update(included_check_names=CHECKS)


def _sign_in(
    schema: Any, factory: sessionmaker[Session], staff_id: int, now: Callable[[], datetime]
) -> None:
    """A fresh bearer token, made without a password (the fuzzed sign-in may lock the
    address out), and made again after a 401 (the fuzzed sign-out ends it)."""

    @schema.auth()
    class Token:
        def get(self, case: Any, ctx: Any) -> str:
            with factory() as session:
                staff = session.get(Staff, staff_id)
                assert staff is not None
                # A fuzzed hand-over may mark the persona as gone; the run needs it back.
                staff.active = True
                hours = get_settings().session_hours
                token = open_session(session, staff, kind="api", hours=hours, now=now())
                session.commit()
            return token

        def set(self, case: Any, data: str, ctx: Any) -> None:
            sent = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
            case.headers = sent | {"Authorization": f"Bearer {data}"}


def _take(found: FuzzRun, event: Any, progress: Callable[[str], None] | None) -> None:
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        for interaction in recorder.interactions.values():
            if interaction.response is not None:
                found.statuses[interaction.response.status_code] += 1
                found.by_phase[event.phase.value] += 1
        for checks in recorder.checks.values():
            for check in checks:
                if check.status == Status.FAILURE and check.failure_info is not None:
                    info = check.failure_info
                    found.failures.append(f"{check.name}: {info.failure.title}\n{info.code_sample}")
    elif isinstance(event, events.NonFatalError):
        problem = f"{event.label}: {event.info.format()}"
        (found.errors if event.related_to_operation else found.problems).append(problem)
    elif isinstance(event, events.FatalError):
        raise event.exception
    elif progress is not None and isinstance(event, events.PhaseFinished):
        progress(f"{event.phase.name.value}: {event.status.value}, "
                 f"{sum(found.statuses.values())} requests so far")  # fmt: skip
