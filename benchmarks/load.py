"""The mixed workload of a chain's busy hour, against `careplan serve` processes.

    .venv/bin/python benchmarks/load.py --db sqlite|postgres --workers 1,2
        [--clients 30] [--seconds 20] [--smoke]

- A synthetic chain (`careplan.demo.synthetic`, seed 1: 4 stores, 6,000 members and their
  plans, as `careplan demo generate` makes it) in a throw-away database: SQLite in a
  temporary folder, or a PostgreSQL database of its own on CAREPLAN_BENCH_PG.
- `careplan serve --workers N` on 127.0.0.1, for each N asked, and wrk (Debian's, a C
  load generator with a Lua script) with --clients connections for --seconds, after a
  warm-up of reads. The clerks' and pharmacists' requests, in the proportions of a day
  at the counter: the worklist (30 %), a member's page (25 %), the API's list of due
  steps (15 %), an unreachable call logged (10 %), a step's result recorded (10 %, each
  step once) and a new member registered (10 %). Pages carry a signed-in cookie, the API
  a bearer token; every write is by the step's or the store's own staff.
- Figures per N: requests/s, p50/p95/p99 latency, errors (connection errors, timeouts and
  answers other than 200/201), "database is locked" lines in the server's log, and wrk's
  own share of the machine's CPU (its user + system time over wall time × cores).
  `speedup`: requests/s of the largest N over that of one process.

The last line printed is a JSON object of the figures (JSON_KEYS); `targets_missed` names
those that miss the issue's targets. --smoke: a 1-store chain, 4 clients for 2 seconds,
one process: does it run? (its figures mean nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from _measure import analyze, publish_protocols, throwaway_database  # benchmarks/_measure.py
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from careplan import clock, migrate, sessions
from careplan.access import Actor
from careplan.config import ROOT
from careplan.db import make_engine, make_session_factory
from careplan.demo import synthetic
from careplan.models import CarePlan, Checkpoint, Member, Staff
from careplan.plans import lifecycle
from careplan.vocab import Channel, CheckpointState, Role
from web.session import SESSION_COOKIE

PG_BASE = os.environ.get("CAREPLAN_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
WRK = shutil.which("wrk") or "/usr/bin/wrk"
MIX = (("worklist", 30), ("member", 25), ("due_steps", 15), ("attempt", 10),
       ("result", 10), ("new_member", 10))  # fmt: skip
FIGURES = ("rps", "p50_ms", "p95_ms", "p99_ms", "errors", "locked", "generator_cpu_share")
JSON_KEYS = (
    "db", "clients", "seconds", "workers", "members", "speedup", "targets_missed",
    *(f"w{n}_{figure}" for figure in FIGURES for n in (1, 2)),
)  # fmt: skip
# wrk's script: each thread takes every k-th prepared request (so a step's result is
# sent once), counts the answers that are neither 200 nor 201, and reports percentiles.
LUA = r"""
local lines, n, i = {}, 0, 0
bad, statuses = 0, ""  -- globals: done() reads them from each thread
local seen = {}
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  local file, count = args[1], tonumber(args[2])
  local k = 0
  for line in io.lines(file) do
    if k % count == tid then
      local method, path, auth, body = line:match("^(%S+) (%S+) (%S+) ?(.*)$")
      local headers = {}
      if auth:sub(1, 7) == "cookie:" then
        headers["Cookie"] = auth:sub(8)
      else
        headers["Authorization"] = "Bearer " .. auth:sub(8)
      end
      if body ~= "" then headers["Content-Type"] = "application/json" end
      n = n + 1
      lines[n] = wrk.format(method, path, headers, body ~= "" and body or nil)
    end
    k = k + 1
  end
end
function request()
  i = i % n + 1
  return lines[i]
end
function response(status, headers, body)
  if status ~= 200 and status ~= 201 then
    bad = bad + 1
    seen[status] = (seen[status] or 0) + 1
    statuses = ""
    for code, count in pairs(seen) do statuses = statuses .. code .. ":" .. count .. " " end
  end
end
function done(summary, latency, requests)
  local bads, codes = 0, ""
  for _, t in ipairs(threads) do
    bads = bads + t:get("bad")
    codes = codes .. t:get("statuses")
  end
  io.write("STATUSES " .. codes .. "\n")
  local e = summary.errors
  io.write(string.format(
    "RESULT %d %d %d %d %d %d %d %d %d\n", summary.requests, summary.duration, bads,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status))
end
"""


def build(url: str, stores: int, members: int) -> None:
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        publish_protocols(s)
        s.commit()
    spec = synthetic.ChainSpec(stores=stores, members=members, seed=1, today=clock.today())
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        synthetic.generate(s, spec, lambda n: None)
        s.commit()
    analyze(engine)
    engine.dispose()


def _tokens(factory: sessionmaker[Session], staff: list[Staff]) -> dict[int, tuple[str, str]]:
    """A web cookie and an API token for each person."""
    now = clock.now()
    found = {}
    with factory() as s:
        s.info["actor"] = Actor.system("benchmark")
        for person in staff:
            who = s.get_one(Staff, person.id)
            web = sessions.open_session(s, who, kind="web", hours=12, now=now)
            api = sessions.open_session(s, who, kind="api", hours=12, now=now)
            found[person.id] = (web, api)
        s.commit()
    return found


def requests_file(url: str, where: Path, count: int) -> tuple[Path, Path]:
    """The prepared requests (one a line: method, path, auth, JSON body), and the
    warm-up's (reads only)."""
    rng = random.Random(1)
    factory = make_session_factory(make_engine(url))
    today = clock.today()
    with factory() as s:
        staff = list(s.scalars(select(Staff).where(Staff.role.in_((Role.clerk, Role.pharmacist)),
                                                  Staff.active)))  # fmt: skip
        members = s.execute(select(Member.id, Member.owner_id)).all()
        open_steps = s.execute(
            select(Checkpoint.id, Checkpoint.assignee_id, Checkpoint.version)
            .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
            .where(Checkpoint.state == CheckpointState.pending, Checkpoint.open_on <= today,
                   Checkpoint.assignee_id.is_not(None))
            .order_by(Checkpoint.id)
        ).all()  # fmt: skip
        channels = _channels(s, [st.id for st in open_steps])
    tokens = _tokens(factory, staff)
    by_id = {p.id: p for p in staff}
    steps = [st for st in open_steps if st.assignee_id in by_id]
    rng.shuffle(steps)
    results, attempts = steps[: len(steps) // 2], steps[len(steps) // 2 :]
    owned = [m for m in members if m.owner_id in by_id]
    weights = [w for _, w in MIX]
    lines, reads = [], []
    card = 0
    for _ in range(count):
        kind = rng.choices([k for k, _ in MIX], weights)[0]
        if kind == "result" and not results:
            kind = "attempt"
        line = _line(kind, rng, owned, results, attempts, tokens, channels, card)
        card += kind == "new_member"
        lines.append(line)
        if kind in ("worklist", "member", "due_steps"):
            reads.append(line)
    load, warm = where / "requests.txt", where / "warm.txt"
    load.write_text("\n".join(lines) + "\n", encoding="utf-8")
    warm.write_text("\n".join(reads) + "\n", encoding="utf-8")
    return load, warm


def _line(kind: str, rng: random.Random, owned: list[Any], results: list[Any],
          attempts: list[Any], tokens: dict[int, tuple[str, str]], channels: dict[int, str],
          card: int) -> str:  # fmt: skip
    member = rng.choice(owned)
    web, api = tokens[member.owner_id]
    cookie = f"cookie:{SESSION_COOKIE}={web}"
    if kind == "worklist":
        return f"GET / {cookie}"
    if kind == "member":
        return f"GET /members/{member.id} {cookie}"
    if kind == "due_steps":
        return f"GET /api/v1/checkpoints?status=due bearer:{api}"
    if kind == "new_member":
        body = {"name": "王秀英", "card_number": f"L{os.getpid()}-{time.time_ns() % 10**9}-{card}"}
        return f"POST /api/v1/members bearer:{api} {json.dumps(body, ensure_ascii=False)}"
    if kind == "result":
        step = results.pop()
        body = {"version": step.version, "channel": channels[step.id],
                "adherence": "as_directed"}  # fmt: skip
        return f"POST /api/v1/checkpoints/{step.id}/result bearer:{tokens[step.assignee_id][1]} " \
            + json.dumps(body)
    step = rng.choice(attempts)
    call_back = (clock.now() + timedelta(hours=2)).isoformat()
    body = {"outcome": "unreachable", "call_back_at": call_back, "note": f"{rng.random():.6f}"}
    return f"POST /api/v1/checkpoints/{step.id}/attempts bearer:{tokens[step.assignee_id][1]} " \
        + json.dumps(body)


def _channels(session: Session, step_ids: list[int]) -> dict[int, str]:
    """A channel each step takes, as the step form offers: a home visit where allowed
    (it also satisfies "a home visit after N calls"), else the first allowed."""
    found = {}
    for cp in session.scalars(select(Checkpoint).where(Checkpoint.id.in_(step_ids))):
        protocol = lifecycle.protocol_of(cp.plan)
        allowed = lifecycle.allowed_channels(protocol, lifecycle.step_of(protocol, cp.key))
        found[cp.id] = (Channel.home_visit if Channel.home_visit in allowed else allowed[0]).value
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def served(url: str, workers: int, log: Path) -> Iterator[str]:
    """`careplan serve --workers N` on a free port, until the block ends."""
    port = _free_port()
    env = os.environ | {"CAREPLAN_DATABASE_URL": url, "CAREPLAN_LOG_LEVEL": "warning"}
    # No consumer beside it: the mix queues no job, and a chain runs its consumers apart.
    command = [sys.executable, "-m", "web", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--no-consumer"]  # fmt: skip
    if workers > 1:
        command += ["--workers", str(workers)]
    with log.open("ab") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  cwd=ROOT, start_new_session=True)  # fmt: skip
    try:
        _wait_for(port, server)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"careplan serve exited with {server.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("careplan serve did not start listening in 60 s")


def wrk(base: str, script: Path, requests: Path, clients: int, seconds: int) -> dict[str, Any]:
    """One wrk run; its figures and its own CPU share."""
    threads = min(2, clients)
    command = [WRK, "-t", str(threads), "-c", str(clients), "-d", f"{seconds}s", "--timeout",
               "10s", "-s", str(script), base, "--", str(requests), str(threads)]  # fmt: skip
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    out = proc.stdout.read().decode() if proc.stdout else ""
    err = proc.stderr.read().decode() if proc.stderr else ""
    found = re.search(r"^RESULT (.*)$", out, re.M)
    if os.waitstatus_to_exitcode(status) != 0 or found is None:
        raise SystemExit(f"wrk failed: {err or out}")
    total, micros, bad, io_errors, p50, p95, p99, _max, _status = map(int, found[1].split())
    cpu = usage.ru_utime + usage.ru_stime
    codes = re.search(r"^STATUSES (.*)$", out, re.M)
    if bad:
        print(f"  answers other than 200/201 (status:count): {codes[1] if codes else '?'}",
              file=sys.stderr)
    return {
        "rps": round(total / (micros / 1e6), 1),
        "p50_ms": round(p50 / 1000, 1),
        "p95_ms": round(p95 / 1000, 1),
        "p99_ms": round(p99 / 1000, 1),
        "errors": bad + io_errors,
        "generator_cpu_share": round(cpu / (wall * (os.cpu_count() or 1)), 3),
    }


def _show_failures(log: str) -> None:
    """The server's first error and its kinds, so a failed run says why."""
    kinds = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception|Violation)\b.*)$", log, re.M)
    for kind in sorted(set(kinds))[:5]:
        print(f"  server: {kinds.count(kind)} × {kind[:200]}", file=sys.stderr)


def run(db: str, workers: list[int], clients: int, seconds: int, smoke: bool) -> dict[str, Any]:
    stores, members = (1, 200) if smoke else (4, 6_000)
    figures: dict[str, Any] = {"members": members}
    with throwaway_database(db, "load", PG_BASE) as url, tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        print(f"building the chain ({members:,} members)…", file=sys.stderr)
        build(url, stores, members)
        script = where / "load.lua"
        script.write_text(LUA, encoding="utf-8")
        for n in workers:
            load, warm = requests_file(url, where, max(2_000, 400 * seconds))
            log = where / f"serve-{n}.log"
            with served(url, n, log) as base:
                wrk(base, script, warm, clients, 2 if smoke else 5)
                found = wrk(base, script, load, clients, seconds)
            served_log = log.read_text(errors="replace")
            locked = served_log.count("database is locked")
            _show_failures(served_log)
            figures |= {f"w{n}_{k}": v for k, v in (found | {"locked": locked}).items()}
            print(f"  {n} process(es): {found} locked={locked}", file=sys.stderr)
    most = max(workers)
    one = figures.get("w1_rps")
    figures["speedup"] = round(figures[f"w{most}_rps"] / one, 2) if one and most > 1 else None
    return figures


# The targets at 30 clients: PostgreSQL with 2 processes >= 100 requests/s and
# p95 <= 300 ms; SQLite >= 60 requests/s; no errors, no "database is locked"; 2 processes
# at least 1.5 times one.
def missed_targets(db: str, f: dict[str, Any]) -> list[str]:
    missed = []
    for n in (1, 2):
        if f"w{n}_rps" not in f:
            continue
        missed += [f"w{n}_{k}" for k in ("errors", "locked") if f[f"w{n}_{k}"]]
    best = "w2" if "w2_rps" in f else "w1"
    if f[f"{best}_rps"] < (100 if db == "postgres" else 60):
        missed.append(f"{best}_rps")
    if db == "postgres" and f[f"{best}_p95_ms"] > 300:
        missed.append(f"{best}_p95_ms")
    if f["speedup"] is not None and f["speedup"] < 1.5:
        missed.append("speedup")
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", default="1,2", help="app processes, e.g. 1,2")
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="a tiny run: does it work?")
    args = parser.parse_args()
    workers = [1] if args.smoke else sorted({int(n) for n in args.workers.split(",")})
    clients, seconds = (4, 2) if args.smoke else (args.clients, args.seconds)
    figures = run(args.db, workers, clients, seconds, args.smoke)
    figures = {"db": args.db, "clients": clients, "seconds": seconds, "workers": workers,
               **figures}  # fmt: skip
    figures["targets_missed"] = [] if args.smoke else missed_targets(args.db, figures)
    for n in (1, 2):  # every documented key, even for a process count not run
        for k in FIGURES:
            figures.setdefault(f"w{n}_{k}", None)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
