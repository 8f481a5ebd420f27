"""Where a batch of sheets is rendered: in a separate worker process, so laying out a
hundred pages uses its own CPU and never holds up the web server's requests.

The worker is `python -m careplan sheets run-batch ID` against the same database; it
reports progress in the batch row, which any web process can read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

SheetWorker = Callable[[int], None]


def _reap(children: list[subprocess.Popen[bytes]]) -> None:
    # Finished workers are collected on the next start, so none lingers as a zombie.
    children[:] = [c for c in children if c.poll() is None]


def process_worker(factory: sessionmaker[Session]) -> SheetWorker:
    # The worker opens the database the app uses (an Engine, or a Connection in tests).
    url = factory.kw["bind"].engine.url.render_as_string(hide_password=False)
    children: list[subprocess.Popen[bytes]] = []

    def start(batch_id: int) -> None:
        _reap(children)
        env = os.environ | {"CAREPLAN_DATABASE_URL": url}
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "careplan", "sheets", "run-batch", str(batch_id)],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,
            )
        )

    return start
