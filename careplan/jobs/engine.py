"""The one job engine: a huey instance whose queue the settings name.

`CAREPLAN_JOBS_URL` unset: huey's SQLite storage in a file beside the SQLite database
(`var/jobs.db` for `make run`), which the web app and its consumer on the same machine
share. `redis://HOST:PORT/DB`: huey's Redis storage, for a chain whose consumers run on
several machines. `CAREPLAN_JOBS_QUEUE` names the queue, so installations (and tests)
sharing one Redis keep apart.

The storage is opened on first use, not at import: the web app imports the tasks to
queue them, and importing must neither create a file nor connect to Redis.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from huey import Huey
from huey.consumer import Consumer, ProcessEnvironment
from huey.storage import BaseStorage, RedisStorage, SqliteStorage

from careplan.config import get_settings

# huey's SQLite queue waits this long for its file's lock (seconds): consumers on the
# machine and the web app's enqueues take it for a moment each.
SQLITE_TIMEOUT = 10


def storage_for(url: str, name: str) -> BaseStorage:
    """huey's storage for a jobs URL: sqlite:///PATH or redis://HOST:PORT/DB."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        return SqliteStorage(name, filename=str(path), timeout=SQLITE_TIMEOUT)
    return RedisStorage(name, url=url)


def _named() -> tuple[str, str]:
    settings = get_settings()
    return settings.jobs_queue_url, settings.jobs_queue


class LazyHuey(Huey):  # type: ignore[misc]  # huey has no type information
    """huey, its storage opened from the settings on first use (and again should the
    settings name another queue: a test's command run in-process)."""

    _opened: BaseStorage | None = None
    _opened_for: tuple[str, str] | None = None  # None: set by hand (immediate mode, tests)

    @property
    def storage(self) -> BaseStorage:
        if self._opened is not None and self._opened_for not in (None, _named()):
            reset()
        if self._opened is None:
            # huey's own choice: memory in immediate mode, else get_storage below.
            opened = Huey.create_storage(self)
            self._opened, self._opened_for = opened, None if self.immediate else _named()
        return self._opened

    @storage.setter
    def storage(self, value: BaseStorage | None) -> None:
        self._opened, self._opened_for = value, None

    def create_storage(self) -> None:
        return None  # opened by the storage property, when first used

    def get_storage(self, **_: Any) -> BaseStorage:
        return storage_for(*_named())


# results=False: no task returns anything anyone reads; the rows hold the outcomes.
huey = LazyHuey("careplan", results=False, utc=True)


def waiting() -> int:
    """How many tasks wait in the queue: /healthz's look at the engine (it answers, and
    a queue that only grows says the consumers have stopped)."""
    return int(huey.pending_count())


def reset() -> None:
    """Close the open storage; the next use opens the one the settings name then."""
    opened, huey._opened = huey._opened, None
    if isinstance(opened, SqliteStorage):
        opened.close()
    elif isinstance(opened, RedisStorage):
        opened.pool.disconnect()


class _WorkersDieWithTheConsumer(ProcessEnvironment):  # type: ignore[misc]
    """huey's worker processes, each killed when its consumer dies: a consumer killed
    -9 would otherwise leave them running, orphaned, still taking jobs, with nothing
    to stop them (they stop only when their consumer tells them to)."""

    def init_child(self, process: Any) -> None:
        super().init_child(process)
        die_with_parent(signal.SIGKILL)


def die_with_parent(sig: int) -> None:
    """In a child process: be sent `sig` when the parent dies, however it dies (Linux; a
    kill -9 of the parent included). Called in the child, before it does anything."""
    if sys.platform == "linux":
        parent = os.getppid()
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)


class _Consumer(Consumer):  # type: ignore[misc]
    def get_environment(self, worker_type: str) -> Any:
        if worker_type == "process":
            return _WorkersDieWithTheConsumer(self._graceful_sig, self._interrupt_sig)
        return super().get_environment(worker_type)


def consumer(*, workers: int, worker_type: str) -> Any:
    """huey's consumer of the queue (its `run()` blocks until SIGINT or SIGTERM): its
    scheduler queues retries when due and the periodic tasks every minute."""
    return _Consumer(huey, workers=workers, worker_type=worker_type, periodic=True)


TaskFunction = Callable[..., None]


def task(**options: Any) -> Callable[[TaskFunction], Any]:
    """huey's task decorator, typed once here (huey has no type information)."""
    decorator: Callable[[TaskFunction], Any] = huey.task(**options)
    return decorator


def periodic_task(schedule: Any, **options: Any) -> Callable[[TaskFunction], Any]:
    decorator: Callable[[TaskFunction], Any] = huey.periodic_task(schedule, **options)
    return decorator
