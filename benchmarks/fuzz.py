"""API fuzzing benchmark: schemathesis at full strength over every operation of the JSON
API, as a tester runs it, against a freshly migrated database.

    .venv/bin/python benchmarks/fuzz.py [--db sqlite|postgres] [--examples 100] [--seed 1]
                                        [--smoke]

The database is built by the migrations and seeded as tests/web/test_api_fuzz.py seeds
it (the shipped protocols, two stores, their staff, a member with a plan and its steps):
SQLite in a temporary directory, or a schema of its own on PostgreSQL at
CAREPLAN_TEST_DATABASE_URL (default postgresql+psycopg://postgres@127.0.0.1:5432/test),
dropped afterwards. Schemathesis drives the ASGI app in this process with every phase
(examples, coverage, fuzzing, stateful), --examples per operation, seeded, signed in as
the supervisor. Every failure is printed with a curl command to repeat it; --smoke runs
a handful of operations at 2 examples, in seconds.

The last line printed is a JSON object: db, examples_per_operation, operations,
requests, status_counts, server_errors, seconds. server_errors counts the 5xx answers and
the requests on which the app raised: the last resort answers those with a 500 and
Starlette re-raises for the server's log, which schemathesis sees as an error, not an
answer. The exit status is 1 when there is one, a 4xx without the error shape, or a
problem of the run itself (printed).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JSON_KEYS = ("db", "examples_per_operation", "operations", "requests", "status_counts",
             "server_errors", "seconds")  # fmt: skip
sys.path.insert(0, str(ROOT))  # the seeding and the run are the fuzz test's own

from careplan import clock  # noqa: E402
from careplan.access import Actor  # noqa: E402
from careplan.db import make_engine, make_session_factory  # noqa: E402
from tests import api_fuzz  # noqa: E402
from tests.databases import PG_ENV, migrated_database  # noqa: E402
from tests.factories import make_world  # noqa: E402
from web.app import create_app  # noqa: E402

PG_DEFAULT = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SMOKE_PATHS = r"^/api/v1/(protocols|purchases/classes)"


def progress(line: str) -> None:
    print(f"{datetime.now():%H:%M:%S} {line}", flush=True)


def fuzz(
    db: str, examples: int, seed: int, smoke: bool
) -> tuple[dict[str, object], api_fuzz.FuzzRun]:
    kind = "sqlite" if db == "sqlite" else "postgresql"
    if kind == "postgresql":
        os.environ.setdefault(PG_ENV, PG_DEFAULT)
    with tempfile.TemporaryDirectory() as tmp, migrated_database(kind, Path(tmp)) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as session:
            session.info["actor"] = Actor.system("benchmark")
            world = make_world(session)
            api_fuzz.something_to_find(world, clock.now())
            supervisor = world.supervisor.id
        progress(f"{db}: database migrated and seeded; fuzzing at {examples} examples")
        found = api_fuzz.run(
            create_app(factory), factory, supervisor, clock.now, examples=examples, seed=seed,
            paths=SMOKE_PATHS if smoke else None, progress=progress,
        )  # fmt: skip
        engine.dispose()
    for failure in found.failures + found.errors + found.problems:
        print(f"FAILED {failure}", flush=True)
    return {
        "db": db,
        "examples_per_operation": examples,
        "operations": found.operations,
        "requests": found.requests,
        "status_counts": {str(k): v for k, v in sorted(found.statuses.items())},
        "server_errors": found.server_errors,
        "seconds": found.seconds,
    }, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="a few operations, 2 examples")
    args = parser.parse_args()
    examples = 2 if args.smoke else args.examples
    figures, found = fuzz(args.db, examples, args.seed, args.smoke)
    progress(f"requests by phase: {dict(found.by_phase)}")
    print(json.dumps(figures))
    sys.exit(1 if found.server_errors or found.failures or found.problems else 0)


if __name__ == "__main__":
    main()
