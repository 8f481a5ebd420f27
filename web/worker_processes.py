"""Where long work runs: in a separate worker process, so laying out a hundred pages
or importing a million till lines uses its own CPU and never holds up the web server's
requests.

A batch of sheets is `python -m web sheets run-batch ID` against the same database;
it reports progress in the batch row, which any web process can read. A till file is
`python -m web purchases run-job ID`; it reports progress in the job's status file
(careplan/adherence/import_jobs.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

SheetWorker = Callable[[int], None]
ImportWorker = Callable[[str], None]


def _reap(children: list[subprocess.Popen[bytes]]) -> None:
    # Finished workers are collected on the next start, so none lingers as a zombie.
    children[:] = [c for c in children if c.poll() is None]


def process_worker(factory: sessionmaker[Session]) -> SheetWorker:
    return _command_worker(factory, "sheets", "run-batch")


def import_worker(factory: sessionmaker[Session]) -> ImportWorker:
    return _command_worker(factory, "purchases", "run-job")


def _command_worker(factory: sessionmaker[Session], *command: str) -> Callable[[object], None]:
    # The worker opens the database the app uses (an Engine, or a Connection in tests).
    url = factory.kw["bind"].engine.url.render_as_string(hide_password=False)
    children: list[subprocess.Popen[bytes]] = []

    def start(job: object) -> None:
        _reap(children)
        env = os.environ | {"CAREPLAN_DATABASE_URL": url}
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "web", *command, str(job)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    return start
