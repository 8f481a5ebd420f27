"""The job consumer `careplan serve` runs beside itself on one machine (no queue named):
`careplan jobs consume` in a process of its own, started again should it die.

A process of its own: a PDF's layout or a till file's checking uses its own CPU, never
holding up the server's requests. In a session of its own, so that Ctrl-C reaches the
server only, which then stops it once (a second SIGINT would cut its graceful stop
short), and told to stop by the kernel when the server's process ends, however it ends
(a `careplan serve` killed left its consumers running, unseen). Watched by a thread: a
consumer killed (the OOM killer, a kill -9) is started again within seconds, and its
jobs are taken over once their lease runs out, instead of every job waiting, unseen,
until it is given up.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import threading
import time

from careplan.jobs.engine import die_with_parent

log = logging.getLogger("careplan.jobs")
COMMAND = [sys.executable, "-m", "web", "jobs", "consume"]
FIRST_PAUSE, LONGEST_PAUSE = 1.0, 30.0  # before starting again; doubled while it keeps dying
LIVED_LONG = 60.0  # a consumer that ran this long died of something, not of its start


class EmbeddedConsumer:
    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or COMMAND
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher = threading.Thread(target=self._watch, name="consumer-watch", daemon=True)

    def start(self) -> EmbeddedConsumer:
        self._spawn()
        self._watcher.start()
        return self

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL,
                                            start_new_session=True,
                                            preexec_fn=_dies_with_the_server)  # fmt: skip
            self.starts += 1

    def _watch(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            lived = time.monotonic() - started
            pause = FIRST_PAUSE if lived > LIVED_LONG else min(pause * 2, LONGEST_PAUSE)
            log.error("the job consumer (pid %s) ended with %s: starting another in %.0f s",
                      process.pid, code, pause)  # fmt: skip
            if self._stopping.wait(pause):
                return
            self._spawn()

    def stop(self) -> None:
        # SIGINT is huey's graceful stop: the task in hand finishes first (a minute at most
        # for a large import); then it is told to stop at once. A task cut off is taken up
        # again by the next consumer (its row's lease runs out).
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.terminate()
            process.wait(timeout=10)


def _dies_with_the_server() -> None:
    # uvicorn ends a server stopped by SIGTERM by raising the signal again, so the
    # server's own clean-up may never run: the consumer is sent SIGINT (its graceful
    # stop) by the kernel when the server's process ends, whichever way it ends.
    die_with_parent(signal.SIGINT)
