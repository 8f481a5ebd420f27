"""Sign-in timing: does an unknown username answer as fast as a wrong password?

    .venv/bin/python benchmarks/sign_in_timing.py [--rounds 40] [--smoke]

A fresh SQLite database (migrated to head) with one staff account; the API's token
endpoint (POST /api/v1/auth/token, through the ASGI app in this process) is asked, in
interleaved order, with an unknown name, a known name with a wrong password, and the
right password. Each attempt comes from its own address so no lockout interferes, and
the known name's failures are reset so it never locks. Times are medians; the ratio
unknown / wrong should be near 1 (an attacker learns nothing from the time).
The last line printed is a JSON object of the figures (JSON_KEYS); --smoke runs 2 rounds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import delete

from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.migrate import upgrade
from careplan.models import SignInLimit
from careplan.staff import StaffIn, create_staff
from careplan.vocab import Role
from web.app import create_app

PASSWORD = "a-long-enough-password"
JSON_KEYS = ("rounds", "median_ms", "ratio_unknown_to_wrong")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="2 rounds: does it run?")
    args = parser.parse_args()
    rounds = 2 if args.smoke else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'timing.db'}"
        upgrade(url)
        factory = make_session_factory(make_engine(url))
        with factory() as s:
            s.info["actor"] = Actor.system("benchmark")
            data = StaffIn(
                username="timing.x", name="计时", role=Role.supervisor, password=PASSWORD
            )
            create_staff(s, data)
            s.commit()
        times: dict[str, list[float]] = {"unknown": [], "wrong": [], "right": []}
        asks = {
            "unknown": {"username": "nobody.x", "password": "wrong-password"},
            "wrong": {"username": "timing.x", "password": "wrong-password"},
            "right": {"username": "timing.x", "password": PASSWORD},
        }
        for n in range(rounds):
            for kind, body in asks.items():
                with TestClient(create_app(factory), client=(f"10.1.{n}.{len(kind)}", 5000)) as c:
                    start = time.perf_counter()
                    c.post("/api/v1/auth/token", json=body)
                    times[kind].append(time.perf_counter() - start)
                with factory() as s:  # keep the name from locking
                    s.execute(delete(SignInLimit))
                    s.commit()
    medians = {k: round(statistics.median(v) * 1000, 1) for k, v in times.items()}
    figures = {
        "rounds": rounds,
        "median_ms": medians,
        "ratio_unknown_to_wrong": round(medians["unknown"] / medians["wrong"], 3),
    }
    print(f"median ms: {medians}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
