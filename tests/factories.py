"""The test data: the shipped protocols, two stores with the personas of the access
tests (World), members, enrolments and results, at a fixed time; and signing in to the
web app as them (one password, hashed once), on a clock tests can move."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from careplan.access import Actor
from careplan.members.archive import MemberCreate, create_member
from careplan.members.health_records import HealthCheckIn
from careplan.models import CarePlan, Checkpoint, Member, Staff, Store
from careplan.plans import lifecycle, protocols
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.plans.lifecycle import status_of
from careplan.plans.protocols import LoadedProtocol
from careplan.sign_in import hash_password
from careplan.vocab import Role
from web.deps import Clock

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TODAY = date(2024, 3, 1)


_SHIPPED: list[LoadedProtocol] = []


def shipped_protocols() -> list[LoadedProtocol]:
    if not _SHIPPED:
        _SHIPPED.extend(protocols.read_files(protocols.protocol_files(ROOT / "protocols")))
    return _SHIPPED


@dataclass
class World:
    """Two stores and the personas of the access tests."""

    session: Session
    store_a: Store
    store_b: Store
    clerk_a: Staff
    clerk_a2: Staff
    pharmacist_a: Staff
    manager_a: Staff
    clerk_b: Staff
    supervisor: Staff

    def actor(self, staff: Staff) -> Actor:
        actor = Actor.of(staff, via="test")
        self.session.info["actor"] = actor
        return actor


def make_staff(
    session: Session, *, username: str, role: Role, store: Store | None, name: str = "测试员工"
) -> Staff:
    # A fixed hash keeps tests fast; sign-in tests set a real password themselves.
    staff = Staff(
        username=username,
        name=name,
        role=role,
        store_id=store.id if store else None,
        password_hash="not-a-password",
    )
    session.add(staff)
    session.flush()
    return staff


def make_world(session: Session) -> World:
    """The shipped protocols, two stores and the personas (benchmarks/fuzz.py too)."""
    protocols.publish(session, shipped_protocols())
    a = Store(code="A001", name="徐汇店", region="华东", address="漕溪北路88号", phone="021-1")
    b = Store(code="B001", name="浦东店", region="华东", address="张杨路500号", phone="021-2")
    session.add_all([a, b])
    session.flush()
    return World(
        session=session,
        store_a=a,
        store_b=b,
        clerk_a=make_staff(session, username="clerk.a", role=Role.clerk, store=a),
        clerk_a2=make_staff(session, username="clerk.a2", role=Role.clerk, store=a),
        pharmacist_a=make_staff(session, username="pharm.a", role=Role.pharmacist, store=a),
        manager_a=make_staff(session, username="manager.a", role=Role.store_manager, store=a),
        clerk_b=make_staff(session, username="clerk.b", role=Role.clerk, store=b),
        supervisor=make_staff(session, username="super", role=Role.supervisor, store=None),
    )


_cards = iter(range(100000, 999999))


def make_member(
    world: World,
    *,
    owner: Staff | None = None,
    name: str = "王秀英",
    consent: bool = True,
    allergies: tuple[str, ...] = ("青霉素",),
    mobile: str | None = None,
) -> Member:
    owner = owner or world.clerk_a
    actor = world.actor(owner)
    return create_member(
        world.session,
        actor,
        MemberCreate(
            card_number=f"T{next(_cards)}",
            name=name,
            mobile=mobile,
            drug_allergies=list(allergies) if consent else [],
            health_consent=consent,
        ),
        now=NOW,
    )


def enrolled_steps(
    world: World,
    member: Member,
    *,
    start: date,
    protocol_id: str = "osteoporosis",
    assignee: Staff | None = None,
) -> dict[str, Checkpoint]:
    """Enrol `member` (by clerk A) starting on `start`; the plan's steps by key."""
    plan = lifecycle.enroll(
        world.session,
        world.actor(world.clerk_a),
        member_id=member.id,
        protocol_id=protocol_id,
        start=start,
        today=start,
        now=datetime(start.year, start.month, start.day, 2, tzinfo=UTC),
        assignee_id=assignee.id if assignee else None,
    )
    steps = world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id))
    return {cp.key: cp for cp in steps}


def record_bone_density(
    world: World, cp: Checkpoint, by: Staff, *, now: datetime, t_score: float | None
) -> None:
    """Work `cp` as taken as directed, with a bone-density reading when one is given."""
    readings = (
        [HealthCheckIn(kind="bone_density", values={"t_score": t_score})]
        if t_score is not None
        else []
    )
    record_result(
        world.session,
        world.actor(by),
        cp.id,
        ResultIn(
            version=cp.version,
            channel="phone",
            adherence="as_directed",
            measurements=readings,
        ),
        today=now.astimezone(UTC).date(),
        now=now,
    )


def step_guidance(protocol_id: str, key: str, language: str) -> str:
    """A step's guidance text as the shipped protocol YAML says it."""
    protocol = next(p for p in shipped_protocols() if p.definition.id == protocol_id)
    step = protocol.definition.step(key)
    assert step is not None
    return step.guidance.get(language)


PASSWORD = "a-long-enough-password"
HASHED = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once per run
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class TravelClock:
    """A clock tests can move forward (lockouts expire, steps fall due)."""

    now: datetime = field(default_factory=lambda: NOW.replace(day=6))

    def __call__(self) -> Clock:
        return Clock(now=self.now, today=self.today)

    @property
    def today(self) -> date:
        return self.now.date()

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


def csrf_of(client: TestClient, url: str = "/sign-in") -> str:
    page = client.get(url)
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {url}: {page.status_code}"
    return found.group(1)


def sign_in_page(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the CSRF token of the signed-in pages."""
    token = csrf_of(client)
    r = client.post(
        "/sign-in",
        data={"csrf_token": token, "username": username, "password": password, "next": "/"},
    )
    assert r.status_code == 303, r.text
    return csrf_of(client, "/settings")


def api_sign_in(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


# The pages' tests: an htmx request, an osteoporosis plan and its due step, the step form.

HX = {"HX-Request": "true"}


def enrolled(world: World, clock: TravelClock, *, start: date, owner=None, **kw) -> CarePlan:
    member = make_member(world, owner=owner or world.clerk_a, **kw)
    actor = world.actor(owner or world.clerk_a)
    plan = lifecycle.enroll(
        world.session, actor, member_id=member.id, protocol_id="osteoporosis",
        start=start, today=clock.today, now=clock.now,
    )  # fmt: skip
    world.session.commit()
    return plan


def steps_by_status(world: World, plan: CarePlan, today: date) -> dict[str, list[Checkpoint]]:
    found: dict[str, list[Checkpoint]] = {}
    for cp in world.session.scalars(select(Checkpoint).where(Checkpoint.plan_id == plan.id)):
        found.setdefault(status_of(cp, today).value, []).append(cp)
    return found


def count(world: World, model: type) -> int:
    return world.session.scalar(select(func.count()).select_from(model)) or 0


def due_step(world: World, clock: TravelClock, **kw) -> Checkpoint:
    plan = enrolled(world, clock, start=date(2024, 3, 4), **kw)
    return steps_by_status(world, plan, clock.today)["due"][0]


def result_form(token: str, cp: Checkpoint, **fields: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "version": str(cp.version),
        "channel": "phone",
        "adherence": "as_directed",
        "notes": "已电话指导",
    } | fields
