"""Two app processes behind nginx, as a chain runs them (docs/deploy.md): nothing a
person does depends on which process answers.

Two real `careplan serve` processes on one migrated database (a SQLite file, and
PostgreSQL when CAREPLAN_TEST_DATABASE_URL is set), behind Debian's nginx with a
round-robin upstream, on loopback, proxying with the very lines of docs/deploy.md's
sample config. Which process answered each request is read from the
processes' own JSON logs by the request id nginx gave it, so each step below is shown
to have crossed from one process to the other: a sign-in, a form's CSRF token, a
lockout counted over both, a saved member. The browser connects from 127.0.0.5, so the
forwarded client address is told apart from nginx's own (127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.models import Member, SignInLimit, Store
from careplan.sign_in import MAX_FAILURES
from careplan.staff import StaffIn, create_staff
from careplan.vocab import Role
from tests.databases import migrated_database
from tests.factories import CSRF, PASSWORD, ROOT

NGINX = Path("/usr/sbin/nginx")
pytestmark = pytest.mark.skipif(
    not NGINX.exists(), reason="Debian's nginx is not installed (`make system` installs it)"
)
# Each pytest-xdist worker its own ports: two tests checking "free" at the same moment
# took the same one, and one test's requests reached the other's nginx.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
PORTS = range(8300 + 25 * _WORKER, 8325 + 25 * _WORKER)
BROWSER_ADDRESS = "127.0.0.5"  # where the browser connects from (all of 127/8 is this machine)
FORGED = "198.51.100.7"  # what a browser claims in its own X-Forwarded-For
STARTUP_S = 60


def free_ports(n: int) -> list[int]:
    """n ports nothing listens on, held open together so that no two are the same."""
    held: list[socket.socket] = []
    try:
        for port in PORTS:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                s.close()
                continue
            held.append(s)
            if len(held) == n:
                return [h.getsockname()[1] for h in held]
        raise RuntimeError(f"fewer than {n} free ports in {PORTS}")
    finally:
        for h in held:
            h.close()


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def lines(self) -> list[dict[str, object]]:
        """Every line the process wrote: each must be one JSON object (the whole log
        is shown when one is not: a worker's crash prints its traceback as text)."""
        text = self.log.read_text("utf-8")
        try:
            return [json.loads(line) for line in text.splitlines()]
        except json.JSONDecodeError:
            raise AssertionError(f"{self.name}: a line that is no JSON object:\n{text}") from None

    def access_lines(self) -> list[dict[str, object]]:
        return [x for x in self.lines() if x["logger"] == "careplan.requests"]


def _wait_until(ready: Callable[[], bool], what: str, *processes: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        for p in processes:
            assert p.poll() is None, f"{what}: a process exited ({p.args})"
        try:
            if ready():
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{what}: not ready after {STARTUP_S} s")


def _healthy(port: int) -> bool:
    return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200


@contextmanager
def _running(args: list[str], log: Path, **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=out, stderr=out, **kw)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _serve(
    url: str, port: int, log: Path, secret: str, work: Path
) -> AbstractContextManager[subprocess.Popen[bytes]]:
    """`careplan serve` as a chain's machine runs it, with JSON logs."""
    env = os.environ | {
        "CAREPLAN_DATABASE_URL": url,
        "CAREPLAN_ENVIRONMENT": "test",  # plain http here: cookies without Secure
        "CAREPLAN_SECRET_KEY": secret,  # the same for every process: it signs CSRF tokens
        "CAREPLAN_LOG_FORMAT": "json",
        "CAREPLAN_TRUSTED_PROXIES": "127.0.0.1",
        "CAREPLAN_WORK_DIR": str(work),
    }
    # No consumer beside each: a chain runs its consumers on machines of their own.
    args = [sys.executable, "-m", "web", "serve", "--port", str(port), "--workers", "1",
            "--no-consumer"]  # fmt: skip
    return _running(args, log, cwd=ROOT, env=env)


def documented_proxy() -> str:
    """The proxying lines of docs/deploy.md's sample, as an operator copies them."""
    text = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    found = re.search(r"# BEGIN careplan proxy[^\n]*\n(.*?)\n\s*# END careplan proxy", text, re.S)
    assert found, "docs/deploy.md has lost its marked proxy lines"
    return found.group(1)


def nginx_config(tmp: Path, listen: int, upstreams: list[int]) -> str:
    """docs/deploy.md's upstream and proxying, on loopback, with everything nginx
    writes kept in `tmp` (a test's nginx needs no /var and no port 80)."""
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in upstreams)
    # Run as root (CI), nginx would hand its workers to `nobody`, who may not write tmp.
    user = "user root root;\n" if os.geteuid() == 0 else ""
    temp = "".join(
        f"  {kind}_temp_path {tmp / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "nginx-error.log"} warn;
events {{ worker_connections 64; }}
http {{
  access_log {tmp / "nginx-access.log"};
{temp}  upstream careplan {{
{servers}    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{listen};
    location / {{
{documented_proxy()}
    }}
  }}
}}
"""


@dataclass
class Chain:
    front: int
    servers: list[Server]

    def browser(self) -> httpx.Client:
        transport = httpx.HTTPTransport(local_address=BROWSER_ADDRESS)
        headers = {"Accept-Language": "en", "X-Forwarded-For": FORGED, "Origin": self.origin}
        return httpx.Client(base_url=self.origin, transport=transport, headers=headers,
                            trust_env=False, timeout=30)  # fmt: skip

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.front}"

    def served_by(self, response: httpx.Response) -> Server:
        """The process whose log has this response's request id (it may write its line
        a moment after the answer left)."""
        rid = response.headers["x-request-id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = [s for s in self.servers if rid in {x["request_id"] for x in s.access_lines()}]
            if found:
                assert len(found) == 1, f"request {rid} logged by {len(found)} processes"
                return found[0]
            time.sleep(0.05)
        raise AssertionError(f"request {rid} is in no process's log")


@contextmanager
def behind_nginx(url: str, tmp: Path) -> Iterator[Chain]:
    front, *ports = free_ports(3)
    secret, work = secrets.token_urlsafe(32), tmp / "work"
    with ExitStack() as stack:
        servers = []
        for name, port in zip("AB", ports, strict=True):
            log = tmp / f"serve-{name}.log"
            process = stack.enter_context(_serve(url, port, log, secret, work))
            servers.append(Server(name, port, process, log))
        for s in servers:
            _wait_until(lambda s=s: _healthy(s.port), f"careplan serve {s.name}", s.process)
        conf = tmp / "nginx.conf"
        conf.write_text(nginx_config(tmp, front, ports))
        args = [str(NGINX), "-p", str(tmp), "-c", str(conf), "-e", str(tmp / "nginx-error.log"),
                "-g", "daemon off;"]  # fmt: skip
        nginx = stack.enter_context(_running(args, tmp / "nginx.out"))
        _wait_until(lambda: _healthy(front), "nginx", nginx)
        try:
            yield Chain(front, servers)
        except Exception:  # what nginx and the apps said, beside the test's failure
            for log in ("nginx-error.log", "serve-A.log", "serve-B.log"):
                text = (tmp / log).read_text("utf-8", errors="replace")[-3000:]
                print(f"--- {log} (the end)\n{text}")
            raise


def _people(url: str) -> None:
    """A store and two clerks: one who works, one whose name someone guesses at."""
    engine = make_engine(url)
    with make_session_factory(engine)() as s:
        s.info["actor"] = Actor.system("test")
        s.add(Store(code="N001", name="南京西路店", region="华东"))
        s.flush()
        for username, name in (("n.clerk", "倪小青"), ("n.clerk2", "聂文")):
            create_staff(s, StaffIn(username=username, name=name, role=Role.clerk,
                                    store_code="N001", password=PASSWORD))  # fmt: skip
        s.commit()
    engine.dispose()


def csrf(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {page.url}: {page.status_code}"
    return found.group(1)


def across(chain: Chain, first: httpx.Response, then: httpx.Response) -> None:
    """The two requests were answered by different processes."""
    a, b = chain.served_by(first), chain.served_by(then)
    assert a is not b, f"{first.url} and {then.url} both answered by process {a.name}"


MEMBER = {"name": "赵桂兰", "card_number": "N10001", "mobile": "13800138001",
          "health_consent": "on"}  # fmt: skip


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_processes_behind_nginx_share_sign_in_csrf_lockout_and_saves(kind: str, tmp_path: Path):
    with migrated_database(kind, tmp_path) as url:
        _people(url)
        with behind_nginx(url, tmp_path) as chain:
            _walk_through(chain, url)
            _forwarded_only_from_a_trusted_proxy(chain)


def _walk_through(chain: Chain, url: str) -> None:
    browser = chain.browser()

    # A sign-in: the form from one process, the password checked by the other, whose
    # cookie the first then takes.
    form = browser.get("/sign-in")
    signed = browser.post("/sign-in", data={"csrf_token": csrf(form), "username": "n.clerk",
                                            "password": PASSWORD, "next": "/"})  # fmt: skip
    assert signed.status_code == 303, signed.text
    page = browser.get("/members/new")
    assert page.status_code == 200 and "倪小青" in page.text
    across(chain, form, signed)
    across(chain, signed, page)

    # A form's CSRF token from one process is taken by the other, and the member it
    # saved is shown by the first.
    created = browser.post("/members", data=MEMBER | {"csrf_token": csrf(page)})
    assert created.status_code == 303, created.text
    shown = browser.get(created.headers["location"])
    assert shown.status_code == 200 and "赵桂兰" in shown.text
    across(chain, page, created)
    across(chain, created, shown)

    # Without the token, or with a forged one, both processes refuse.
    refused: dict[str, set[str]] = {"missing": set(), "forged": set()}
    forged = {"csrf_token": "0" * 64}
    for how, sent in [("missing", {}), ("missing", {}), ("forged", forged), ("forged", forged)]:
        r = browser.post("/members", data=MEMBER | {"card_number": "N10002"} | sent)
        assert r.status_code == 403, r.text
        refused[how].add(chain.served_by(r).name)
    assert refused == {"missing": {"A", "B"}, "forged": {"A", "B"}}

    # Wrong passwords spread over both processes lock the name: neither saw five.
    guesser = chain.browser()
    token = csrf(guesser.get("/sign-in"))
    guess = {"csrf_token": token, "username": "n.clerk2", "next": "/"}
    tries = [guesser.post("/sign-in", data=guess | {"password": f"wrong-{n}-password"})
             for n in range(MAX_FAILURES)]  # fmt: skip
    assert [t.status_code for t in tries] == [401] * MAX_FAILURES
    assert {chain.served_by(t).name for t in tries} == {"A", "B"}
    right = guesser.post("/sign-in", data=guess | {"password": PASSWORD})
    assert right.status_code == 401 and "The account is locked" in right.text

    # The address counted is the browser's, forwarded by nginx, not nginx's own and
    # not what the browser claimed.
    engine = make_engine(url)
    with engine.connect() as c:
        limits = dict(c.execute(select(SignInLimit.key, SignInLimit.failures)).all())
        members = c.scalars(select(Member.card_number)).all()
    engine.dispose()
    assert limits[f"address:{BROWSER_ADDRESS}"] == MAX_FAILURES
    assert not [k for k in limits if k.startswith("address:") and BROWSER_ADDRESS not in k]
    assert members == ["N10001"]  # the refused forms saved nothing

    # Every line either process wrote is a JSON object; each access line names the
    # process, and the client as nginx forwarded it.
    for server in chain.servers:
        lines = server.lines()
        assert all({"time", "level", "logger", "message", "pid"} <= set(x) for x in lines)
        access = server.access_lines()
        assert access and {x["pid"] for x in access} == {server.process.pid}
        assert {x["client"] for x in access} == {BROWSER_ADDRESS}
        assert all({"request_id", "method", "path", "status", "duration_ms"} <= set(x)
                   for x in access)  # fmt: skip


def _forwarded_only_from_a_trusted_proxy(chain: Chain) -> None:
    """Straight to a process (no nginx): the header counts from 127.0.0.1, the trusted
    proxy's address, and from nowhere else."""
    server = chain.servers[0]
    direct = Chain(server.port, [server])
    forged = {"X-Forwarded-For": FORGED}
    from_proxy = httpx.get(f"{direct.origin}/sign-in", headers=forged, trust_env=False)
    stranger = direct.browser().get("/sign-in", headers=forged)
    assert _client_of(direct, from_proxy) == FORGED  # as nginx would have said it
    assert _client_of(direct, stranger) == BROWSER_ADDRESS  # its own, not its claim


def _client_of(chain: Chain, response: httpx.Response) -> object:
    rid = response.headers["x-request-id"]
    (line,) = [x for x in chain.served_by(response).access_lines() if x["request_id"] == rid]
    return line["client"]


def test_serve_with_two_workers_starts_two_processes_that_answer(tmp_path: Path):
    with migrated_database("sqlite", tmp_path) as url:
        (port,) = free_ports(1)
        log = tmp_path / "serve.log"
        env = os.environ | {"CAREPLAN_DATABASE_URL": url, "CAREPLAN_LOG_FORMAT": "json",
                            "CAREPLAN_WORK_DIR": str(tmp_path / "work")}  # fmt: skip
        args = [sys.executable, "-m", "web", "serve", "--port", str(port), "--workers", "2",
                "--no-consumer"]  # fmt: skip
        with _running(args, log, cwd=ROOT, env=env) as supervisor:
            started = re.compile(r"Started server process \[(\d+)\]")

            def both_started() -> bool:
                text = log.read_text("utf-8")
                return len(set(started.findall(text))) == 2 and _healthy(port)

            _wait_until(both_started, "careplan serve --workers 2", supervisor)
            lines = Server("S", port, supervisor, log).lines()
        workers = {int(m[1]) for x in lines if (m := started.match(str(x["message"])))}
        assert len(workers) == 2 and supervisor.pid not in workers
        assert {x["pid"] for x in lines if x["message"].startswith("Started server")} == workers  # type: ignore[union-attr]
