"""The job engine's tasks: render a sheet batch, import a till upload, send messages
(each carrying the ids of its rows, written in the business transaction), build the
day's messages (hourly while the sending window is near), and the sweep, every minute.

A consumer process (`careplan jobs consume`) runs them; the web app queues them once the
row is committed. The tasks take their database from the settings; the PDF layout is
the interfaces' (web/sheet_pdf.py), handed over with `provide` by whoever starts a
consumer, as the domain never imports it. Tests may `provide` their own session factory
and run the tasks in huey's immediate mode.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from huey import CancelExecution, crontab
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock
from careplan.access import Actor
from careplan.config import get_settings
from careplan.db import begin_for_writing, make_engine, make_session_factory
from careplan.jobs import runs
from careplan.jobs.engine import huey, periodic_task, task
from careplan.jobs.lease import Leased
from careplan.models import ImportJob, SheetBatch
from careplan.outreach import build, outbox, wiring
from careplan.sheets.sheets import Render
from careplan.value import analysis, snapshot

log = logging.getLogger(__name__)

# Transient failures are retried after 5, 10, 20, 40 and 80 s: a database restart, or a
# failover, is ridden out; anything longer is the sweep's, once the lease has run out.
RETRIES, RETRY_DELAY, RETRY_BACKOFF = 5, 5, 2


@dataclass
class _Services:
    render: Render | None = None
    factory: sessionmaker[Session] | None = None
    made_for: str | None = None  # the database URL a factory was made for; None: provided


_services = _Services()


def provide(*, render: Render | None = None, factory: sessionmaker[Session] | None = None) -> None:
    """What the tasks use in this process: the PDF layout (the consumer's command hands
    it over), and a session factory (tests; otherwise the settings' database)."""
    if render is not None:
        _services.render = render
    if factory is not None:
        _services.factory, _services.made_for = factory, None


def forget() -> None:
    """Drop what `provide` handed over (tests)."""
    _services.render = _services.factory = _services.made_for = None


def _factory() -> sessionmaker[Session]:
    """Made on first use, in the process that runs the task (a forked worker makes its
    own), and again should the settings name another database (a test's command)."""
    url = get_settings().database_url
    if _services.factory is not None and _services.made_for not in (None, url):
        _services.factory.kw["bind"].dispose()
        _services.factory = None
    if _services.factory is None:
        _services.factory, _services.made_for = make_session_factory(make_engine(url)), url
    return _services.factory


def _render() -> Render:
    if _services.render is None:
        raise RuntimeError("no PDF layout in this process: consume with `careplan jobs consume`")
    return _services.render


def _lease() -> timedelta:
    return timedelta(seconds=get_settings().jobs_lease_seconds)


def _run(job: Callable[[], bool]) -> bool:
    """Transient failures go back to huey, which retries; any other failure has failed
    the row and is not retried."""
    try:
        return job()
    except runs.TRANSIENT:
        log.warning("transient failure; huey retries", exc_info=True)
        raise
    except Exception as error:
        log.exception("job failed")
        raise CancelExecution(retry=False) from error


RETRYING = {"retries": RETRIES, "retry_delay": RETRY_DELAY, "retry_backoff": RETRY_BACKOFF}


@task(context=True, **RETRYING)
def render_sheet_batch(batch_id: int, task: Any) -> None:
    _run(lambda: runs.run_sheet_batch(_factory(), batch_id, _render(), token=task.id,
                                      clock=clock.now, lease=_lease()))  # fmt: skip


@task(context=True, **RETRYING)
def import_upload(job_id: int, task: Any) -> None:
    work_dir = get_settings().work_dir
    finished = _run(lambda: runs.run_import(_factory(), work_dir, job_id, token=task.id,
                                            clock=clock.now, lease=_lease()))  # fmt: skip
    if finished:  # the tiers and quadrants then count what the till just brought
        queue_value_refresh(None)


TASKS: dict[Leased, Any] = {SheetBatch: render_sheet_batch, ImportJob: import_upload}


def _queue(model: Leased, row_id: int) -> None:
    """Queue a row's task once the row is committed. A queue that cannot be reached is
    logged, not raised: the row stays queued, and the sweep queues its task later."""
    try:
        TASKS[model](row_id)
    except Exception:
        log.exception("could not queue %s %s; the sweep will", model.__tablename__, row_id)


def queue_sheet_batch(batch_id: int) -> None:
    _queue(SheetBatch, batch_id)


def queue_import(job_id: int) -> None:
    _queue(ImportJob, job_id)


def _queued_tasks() -> list[Any]:
    """The tasks in the queue, or waiting for a retry (read once a sweep)."""
    return [*huey.pending(), *huey.scheduled()]


def _waiting(queued: list[Any]) -> dict[Leased, Collection[int]]:
    """The rows that have a task among `queued`."""
    by_name = {t.task_class.__name__: model for model, t in TASKS.items()}
    found: dict[Leased, set[int]] = defaultdict(set)
    for queued_task in queued:
        model = by_name.get(queued_task.name)
        if model is not None and queued_task.args:
            found[model].add(int(queued_task.args[0]))
    return dict(found)


def sweep_now(queued: list[Any] | None = None) -> runs.Swept:
    """One sweep, then the tasks of the rows it queued again."""
    queued = _queued_tasks() if queued is None else queued
    swept = runs.sweep(_factory(), get_settings().work_dir, clock.now(), waiting=_waiting(queued))
    for model, row_id in swept.requeue:
        _queue(model, row_id)
    if swept.requeue or swept.failed or swept.uploads_deleted:
        log.info("sweep: %s queued again, %s failed, %s uploads deleted",
                 len(swept.requeue), swept.failed, swept.uploads_deleted)  # fmt: skip
    return swept


# Every minute, on every consumer (their sweeps never act twice on a row, runs.py); a
# consumer's first sweep runs as it starts.
@periodic_task(crontab(minute="*"))
def sweep_jobs() -> None:
    queued = _queued_tasks()
    sweep_now(queued)
    sweep_messages(queued)


# --- messages ---------------------------------------------------------------------------

SEND_CHUNK = 200  # message ids a task carries
BUILD_FROM_HOURS_BEFORE = 2  # the day's build starts this long before the window opens


@task(**RETRYING)
def send_messages(ids: list[int]) -> None:
    """Send these messages (those still queued and due); queue the retries."""
    result = outbox.send(_factory(), ids, wiring.sending(get_settings()))
    for when, group in _by_time(result.retry).items():
        send_messages.schedule(args=(group,), eta=when)


def _by_time(retry: list[tuple[int, datetime]]) -> dict[datetime, list[int]]:
    found: dict[datetime, list[int]] = defaultdict(list)
    for message_id, when in retry:
        found[when].append(message_id)
    return found


def queue_messages(ids: list[int], *, not_before: datetime | None = None) -> None:
    """Queue the sending of committed messages, SEND_CHUNK a task; those waiting for
    the window at its opening. A queue that cannot be reached is logged: the sweep
    queues due messages again."""
    try:
        for i in range(0, len(ids), SEND_CHUNK):
            chunk = list(ids[i : i + SEND_CHUNK])
            if not_before is not None and not_before > clock.now():
                send_messages.schedule(args=(chunk,), eta=not_before)
            else:
                send_messages(chunk)
    except Exception:
        log.exception("could not queue %s messages; the sweep will", len(ids))


def build_now(*, by: int | None = None) -> build.Built:
    """Build today's messages (again: building twice adds nothing) and queue them."""
    settings = get_settings()
    context = wiring.context(settings, now=clock.now(), by=by)
    built = build.build_day_committed(_factory(), context, Actor.system("jobs"))
    if built.ids:
        queue_messages(
            built.ids, not_before=context.window.opening_on(context.day, context.zone, context.now)
        )
    log.info("messages built: %s added, %s held by the weekly cap", built.added, built.held_by_cap)
    return built


@task(**RETRYING)
def build_messages_now(by: int | None = None) -> None:
    """The day's build on demand (the store page's button): a job, as at a chain's scale
    it takes seconds."""
    build_now(by=by)


def queue_build(by: int | None) -> bool:
    """Queue the build on demand; False if the queue cannot be reached (logged)."""
    try:
        build_messages_now(by)
    except Exception:
        log.exception("could not queue the day's build")
        return False
    return True


@periodic_task(crontab(minute="30"))
def build_messages() -> None:
    """Hourly from a little before the window opens until it closes: the first run
    builds the day, the later ones add what came since (a new member's welcome, a
    lecture booked) and nothing twice."""
    settings = get_settings()
    window = wiring.context(settings, now=clock.now()).window
    soon = clock.now() + timedelta(hours=BUILD_FROM_HOURS_BEFORE)
    if window.is_open(clock.now(), settings.zone) or window.is_open(soon, settings.zone):
        build_now()


def sweep_messages(queued: list[Any] | None = None) -> outbox.Swept:
    """Due messages nobody is sending (a lost task), and those a crash left "sending".
    A message whose task is still in the queue (a festival's backlog) is not queued
    again."""
    queued = _queued_tasks() if queued is None else queued
    name = send_messages.task_class.__name__
    waiting = {int(i) for t in queued if t.name == name and t.args for i in t.args[0]}
    with _factory()() as session:
        begin_for_writing(session)
        how = wiring.sending(get_settings())
        swept = outbox.sweep(session, how, lease=_lease(), waiting=waiting)
        session.commit()
    if swept.due:
        queue_messages(swept.due)
    return swept


# --- the value snapshot -----------------------------------------------------------------

NIGHTLY_HOUR = 2  # 02:30 in the chain's zone: after the tills' day, before the stores open


def refresh_value_now(*, by: int | None = None) -> int:
    """A new value snapshot as of today (the chain's day): the figures every tier,
    quadrant and analysis page reads. Returns its id."""
    factory = _factory()
    snapshot_id = snapshot.refresh(factory, as_of=clock.today(), now=clock.now(), by=by)
    # The analysis pages count from the tallies of the current snapshot: made right after
    # it, or those pages would still show the previous day (or "not computed").
    run_id = analysis.refresh_tallies(factory, now=clock.now())
    log.info("value snapshot %s ready, tallies %s", snapshot_id, run_id)
    return snapshot_id


@task(**RETRYING)
def refresh_value_snapshot(by: int | None = None) -> None:
    """On demand (the spend page's button) and after a till import: at a chain's scale
    it takes seconds, so never inside a request."""
    refresh_value_now(by=by)


def queue_value_refresh(by: int | None) -> bool:
    """Queue a refresh; False if the queue cannot be reached (logged: the nightly run
    still comes)."""
    try:
        refresh_value_snapshot(by)
    except Exception:
        log.exception("could not queue the value snapshot")
        return False
    return True


@periodic_task(crontab(minute="30"))
def refresh_value_nightly() -> None:
    """Every night at 02:30 chain time (huey's crontab is UTC: the hour is the zone's)."""
    if clock.now().astimezone(get_settings().zone).hour == NIGHTLY_HOUR:
        refresh_value_now()
