"""The consumer `careplan serve` runs beside itself is started again when it dies (a QA
walk's kill -9 left it defunct, unnoticed, and every job waited until given up), and is
stopped, once, when the server stops."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from web import embedded_consumer
from web.embedded_consumer import EmbeddedConsumer

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _until(condition, what: str, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_killed_consumer_is_started_again_and_stopped_with_the_server(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setattr(embedded_consumer, "FIRST_PAUSE", 0.1)
    jobs = EmbeddedConsumer(SLEEPER).start()
    try:
        first = jobs.process
        assert first is not None and first.poll() is None
        os.kill(first.pid, signal.SIGKILL)
        _until(lambda: jobs.starts == 2, "no second consumer after the first was killed")
        second = jobs.process
        assert second is not None and second.pid != first.pid and second.poll() is None
        assert any(f"pid {first.pid}" in r.getMessage() for r in caplog.records)
    finally:
        jobs.stop()
    assert second.poll() is not None  # stopped with the server
    time.sleep(0.3)
    assert jobs.starts == 2  # and not started again once stopping


def test_the_consumer_ends_when_its_server_is_killed(tmp_path):  # type: ignore[no-untyped-def]
    """A `careplan serve` killed (kill -9, or SIGTERM, which uvicorn ends by raising
    again) left its consumer running, orphaned: 75 of them piled up on this machine."""
    import subprocess

    server = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from web.embedded_consumer import EmbeddedConsumer\n"
         f"jobs = EmbeddedConsumer({SLEEPER!r}).start()\n"
         "print(jobs.process.pid, flush=True)\n"
         "time.sleep(120)\n"],
        stdout=subprocess.PIPE, cwd=tmp_path, env=os.environ | {"PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert server.stdout is not None
    consumer = int(server.stdout.readline())
    os.kill(server.pid, signal.SIGKILL)
    server.wait(timeout=10)

    def gone() -> bool:
        try:
            os.kill(consumer, 0)
        except ProcessLookupError:
            return True
        # A zombie until reaped by init: dead all the same.
        with open(f"/proc/{consumer}/stat") as stat:
            return stat.read().split()[2] == "Z"

    _until(gone, "the consumer outlived its server")
