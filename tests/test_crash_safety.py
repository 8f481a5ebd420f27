"""A process killed (kill -9) in the middle of a bulk operation leaves all or nothing.

Each operation runs as the real `careplan` command in its own process against a real
database. The test reads the command's progress lines and kills it once it reports
work done inside its transaction, then looks: nothing of the operation may be there, the
logs' chains verify, and the database takes the same operation again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Engine

from careplan.access import Actor
from careplan.db import make_engine, make_session_factory
from careplan.models import (
    CarePlan,
    ChangeLog,
    Checkpoint,
    Member,
    Ownership,
    Purchase,
    PurchaseImport,
    Staff,
    Store,
)
from careplan.staff import StaffIn, create_staff
from careplan.vocab import OwnershipReason, Role
from tests.databases import migrated_database
from tests.factories import ROOT

MEMBERS = 1000
PASSWORD = "a-long-enough-password"


@pytest.fixture(params=["sqlite", "postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Engine]]:
    """A store with two clerks, a manager and MEMBERS consenting members of clerk one."""
    with migrated_database(request.param, tmp_path) as url:
        assert _careplan(url, "protocols", "load").returncode == 0
        engine = make_engine(url)
        _populate(engine)
        yield url, engine
        engine.dispose()


def _populate(engine: Engine) -> None:
    now = datetime(2024, 3, 1, 2, tzinfo=UTC)
    with make_session_factory(engine)() as s:
        s.info["actor"] = Actor.system("test")  # creating staff is an account change: logged
        s.add(Store(code="K001", name="测试店", region="华东"))
        s.flush()
        for username, role in (("k.clerk1", Role.clerk), ("k.clerk2", Role.clerk),
                               ("k.manager", Role.store_manager)):  # fmt: skip
            create_staff(s, StaffIn(username=username, name=username, role=role,
                                    store_code="K001", password=PASSWORD))  # fmt: skip
        store = s.scalar(select(Store.id))
        owner = s.scalar(select(Staff.id).where(Staff.username == "k.clerk1"))
        members = [
            {"card_number": f"K{n:05d}", "home_store_id": store, "owner_id": owner,
             "name": f"会员{n}", "health_consent": True, "health_consent_at": now,
             "created_at": now, "updated_at": now}
            for n in range(MEMBERS)
        ]  # fmt: skip
        s.execute(insert(Member), members)
        ids = s.scalars(select(Member.id)).all()
        s.execute(insert(Ownership), [
            {"member_id": i, "staff_id": owner, "started_at": now,
             "reason": OwnershipReason.registered, "note": ""} for i in ids])  # fmt: skip
        s.commit()


def _careplan(
    url: str, *args: str, stream: bool = False
) -> subprocess.Popen[str] | subprocess.CompletedProcess[str]:
    env = os.environ | {"CAREPLAN_DATABASE_URL": url, "CAREPLAN_TIMEZONE": "Asia/Shanghai"}
    cmd = [sys.executable, "-m", "web", *args]
    if stream:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    return subprocess.run(cmd, cwd=ROOT, env=env, text=True, capture_output=True, timeout=300)


def _kill_after(url: str, args: tuple[str, ...], progress: str) -> None:
    """Run the command; kill -9 it as soon as it reports `progress` (work done, not yet
    committed). Fails if the command finished first: then the test showed nothing."""
    proc = _careplan(url, *args, stream=True)
    assert isinstance(proc, subprocess.Popen) and proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if progress in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, f"not killed mid-way: {''.join(seen)}"


def _count(engine: Engine, model: type) -> int:
    with engine.connect() as c:
        return c.scalar(select(func.count()).select_from(model)) or 0


def _owned_by(engine: Engine, username: str) -> int:
    with engine.connect() as c:
        stmt = select(func.count()).select_from(Member).join(Staff, Staff.id == Member.owner_id)
        return c.scalar(stmt.where(Staff.username == username)) or 0


def _intact(url: str, engine: Engine) -> None:
    verified = _careplan(url, "audit-log", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    if engine.dialect.name == "sqlite":
        with engine.connect() as c:
            assert c.scalar(text("PRAGMA integrity_check")) == "ok"


def test_a_killed_bulk_enrolment_leaves_no_partial_plan(chain, tmp_path: Path):
    url, engine = chain
    lines = [f"K{n:05d},osteoporosis,{date.today()}" for n in range(200)]
    file = tmp_path / "enrol.csv"
    file.write_text("card_number,protocol,start\n" + "\n".join(lines) + "\n", encoding="utf-8")
    logged = _count(engine, ChangeLog)

    _kill_after(url, ("enroll-file", str(file), "--as", "k.clerk1"), "enrolling: 50 / 200")

    assert (_count(engine, CarePlan), _count(engine, Checkpoint)) == (0, 0)
    assert _count(engine, ChangeLog) == logged
    _intact(url, engine)
    again = _careplan(url, "enroll-file", str(file), "--as", "k.clerk1")
    assert again.returncode == 0 and "enrolled 200 members" in again.stdout, again.stderr
    assert _count(engine, CarePlan) == 200


def test_a_killed_till_import_leaves_no_line(chain, tmp_path: Path):
    url, engine = chain
    header = ("card_number,product_code,product_name,drug_class,quantity,days_supply,"
              "purchased_on,store_code,amount")  # fmt: skip
    day = date(2024, 1, 1)
    rows = (f"K{n % MEMBERS:05d},A{n},阿仑膦酸钠片,bisphosphonates,1,28,{day},K001,58.00"
            for n in range(60_000))  # fmt: skip
    file = tmp_path / "till.csv"
    file.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="utf-8")

    _kill_after(url, ("purchases", "import", str(file), "--as", "k.manager"),
                "importing: 20000 / 60001")  # fmt: skip

    assert (_count(engine, Purchase), _count(engine, PurchaseImport)) == (0, 0)
    _intact(url, engine)


def test_a_killed_hand_over_moves_nobody(chain):
    url, engine = chain
    args = ("staff", "hand-over", "--from", "k.clerk1", "--to", "k.clerk2", "--as", "k.manager")

    _kill_after(url, args, f"handing over: 200 / {MEMBERS}")

    assert (_owned_by(engine, "k.clerk1"), _owned_by(engine, "k.clerk2")) == (MEMBERS, 0)
    assert _count(engine, Ownership) == MEMBERS  # no ownership began or ended
    _intact(url, engine)
