"""The language walk of refusals: every refusal the domain can give is triggered once,
and each reads wholly in Chinese for a zh reader and wholly in English for an en one.

The refusals are enumerated from the catalogue's source: every N_("...") key under
careplan/. A new refusal without a trigger here fails the test by name. Each one caught
is rendered as a page renders it (web.templating.error_text: the key translated, its
parameters filled in, data marked translate="no"); the pages' own error areas are walked
through the TestClient too."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest
from babel.messages.extract import extract_from_dir
from fastapi.testclient import TestClient
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from careplan import periods, sessions, staff, stores
from careplan.access import Actor, get_checkpoint, require_manage_staff
from careplan.adherence import drug_classes, import_jobs, purchases, till_import
from careplan.audit import audit
from careplan.csv_records import BadRecord, records
from careplan.errors import CareplanError, InvalidValue
from careplan.lectures import lectures
from careplan.members import archive, consent, erasure, health_records
from careplan.models import Checkpoint, Member, Staff
from careplan.outreach import consent as message_consent
from careplan.outreach import templates as message_templates
from careplan.plans import checkpoints, escalations, lifecycle, outcomes, protocols
from careplan.sheets import sheets
from careplan.sign_in import hash_password
from careplan.trust.access_log import who_looked
from careplan.trust.change_log import history
from careplan.validation import parse
from careplan.value import analysis, complaints, grades, outlook, staff_month
from careplan.value import tiers as spend_tiers
from careplan.vocab import Channel, MessageChannel, OwnershipReason, Paper, Role, ValuePeriod
from tests.factories import (
    PASSWORD,
    ROOT,
    TravelClock,
    World,
    api_sign_in,
    make_member,
    make_staff,
    shipped_protocols,
    sign_in_page,
)
from tests.web.test_languages import ascii_punctuation, chinese_left, english_left, visible
from web.i18n import gettext_for
from web.templating import error_text

# Operator commands (careplan db/backup/demo/enroll-file) answer on a terminal, in
# English; their keys are in the catalogue all the same.
TERMINAL_ONLY = {"cli.py", "backup.py", "synthetic.py", "enrolment_file.py"}


def domain_keys() -> set[str]:
    found = extract_from_dir(str(ROOT / "careplan"), [("**.py", "python")], keywords={"N_": None})
    return {msg for file, _l, msg, _c, _x in found if Path(file).name not in TERMINAL_ONLY}


@pytest.fixture
def caught(monkeypatch: pytest.MonkeyPatch) -> list[CareplanError]:
    """Every refusal made while the walk runs (and every bad line of a refused file)."""
    made: list[CareplanError] = []
    for cls in (CareplanError, InvalidValue):
        original = cls.__init__

        def record(self: Any, *a: Any, _original: Any = original, **kw: Any) -> None:
            _original(self, *a, **kw)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", record)
    problem_init = till_import.Problem.__init__

    def problem(self: Any, line: int, field: str, message: str, *rest: Any) -> None:
        problem_init(self, line, field, message, *rest)
        made.append(CareplanError(message, field=field))

    monkeypatch.setattr(till_import.Problem, "__init__", problem)
    bad_record = BadRecord.__init__

    def record_bad(self: Any, line: int, column: int, message: str) -> None:
        bad_record(self, line, column, message)
        made.append(CareplanError(message))

    monkeypatch.setattr(BadRecord, "__init__", record_bad)
    return made


class Walk:
    """Runs each trigger, expecting a refusal, and leaves the database as it was."""

    def __init__(self, world: World) -> None:
        self.world, self.session = world, world.session
        self.not_refused: list[str] = []
        self.said: dict[str, str] = {}  # what each trigger was told: for a failing test

    def __call__(self, what: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> None:
        try:
            fn(*args, **kw)
        except (CareplanError, ValidationError) as exc:
            self.said[what] = str(exc)[:200]
        else:
            self.not_refused.append(what)
        finally:
            self.session.rollback()


class Every(BaseModel):
    """One field of each kind pydantic checks, to meet each of its error types."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", min_length=2, max_length=3)
    one: str = Field(default="x", min_length=1)
    number: int = Field(default=5, ge=1, le=10)
    above: int = Field(default=5, gt=0, lt=10)
    real: float = 1.0
    money: Decimal = Field(default=Decimal(1), max_digits=4, decimal_places=2)
    day: date = date(2024, 1, 1)
    moment: datetime = datetime(2024, 1, 1)
    aware: AwareDatetime | None = None
    flag: bool = False
    items: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=2)
    choice: Literal["a", "b"] = "a"
    channel: Channel = Channel.phone
    code: str = Field(default="a", pattern=r"^[a-z]+$")
    card_number: str = Field(default="a", pattern=r"^[a-z]+$")
    landline: str = Field(default="a", pattern=r"^[a-z]+$")
    username: str = Field(default="a", pattern=r"^[a-z]+$")
    nested: dict[str, int] = Field(default_factory=dict)


PYDANTIC_BAD: list[dict[str, Any]] = [
    {"text": "x"}, {"text": "xxxx"}, {"one": ""}, {"text": 5}, {"number": "x"},
    {"number": 1.5}, {"number": 0}, {"number": 11}, {"above": 0}, {"above": 10},
    {"real": "x"}, {"money": "x"}, {"money": "1.234"}, {"money": "12345"}, {"money": "123.4"},
    {"day": "x"}, {"moment": "x"}, {"aware": "2024-01-01T10:00"}, {"flag": "perhaps"},
    {"items": "x"}, {"items": []}, {"items": [1, 2, 3]}, {"choice": "c"}, {"channel": "fax"},
    {"code": "A"}, {"card_number": "A B"}, {"landline": "A"}, {"username": "A B"},
    {"surplus": 1}, {"nested": []}, {"text": None}, {"money": "inf"},
]  # fmt: skip


def _lecture_data(world: World, now: datetime, **over: Any) -> dict[str, Any]:
    starts = now + timedelta(days=3)
    data = {"title_zh": "防跌倒讲座", "title_en": "Falls", "topic": "fall_prevention",
            "store_id": world.store_a.id, "starts_at": starts,
            "ends_at": starts + timedelta(hours=1), "capacity": 1,
            "register_by": starts - timedelta(days=1)}  # fmt: skip
    return data | over


def walk_the_domain(walk: Walk, world: World, clock: TravelClock, tmp: Path) -> None:
    """Each refusal once, through the domain, as the pages and the API call it."""
    s, now, today = world.session, clock.now, clock.today
    clerk, manager = world.actor(world.clerk_a), world.actor(world.manager_a)
    other_clerk, supervisor = world.actor(world.clerk_b), world.actor(world.supervisor)
    member = make_member(world, name="赵德华", mobile="13600136000")
    bare = make_member(world, name="钱芳", consent=False)
    plan = lifecycle.enroll(s, world.actor(world.clerk_a), member_id=member.id,
                        protocol_id="osteoporosis", start=today, today=today, now=now)  # fmt: skip
    first = min(lifecycle.checkpoints_of(s, plan), key=lambda cp: cp.seq)
    left = make_staff(s, username="left.a", role=Role.clerk, store=world.store_a)
    left.active = False
    s.commit()
    clerk = world.actor(world.clerk_a)

    # Who may see and do what.
    walk("member", archive.get_member, s, other_clerk, member.id)
    walk("plan", lifecycle.get_plan, s, other_clerk, plan.id)
    walk("step", get_checkpoint, s, other_clerk, first.id)
    walk("manager only", audit.resolve_scope, s, clerk)
    walk("staff unseen", require_manage_staff, world.actor(world.clerk_b), world.manager_a)
    walk("staff above", require_manage_staff, clerk, world.manager_a)
    walk("chain settings", drug_classes.remove_class, s, manager, "X")
    walk("change log", history, s, manager, "member", member.id)
    walk("access log", who_looked, s, manager, member.id)
    walk("end sessions", sessions.end_sessions_of, s, manager, world.clerk_a, now=now)

    # The archive.
    def create(**values: Any) -> Any:
        data = {"card_number": "Z9001", "name": "孙丽"} | values
        return archive.create_member(s, clerk, archive.MemberCreate(**data), now=now)

    walk("mobile", create, mobile="12345")
    walk("email", create, email="nobody")
    walk("birthday", create, birthday=date(1850, 1, 1))
    walk("owner gone", create, owner_id=left.id)
    walk("owner elsewhere", create, owner_id=world.clerk_b.id)
    walk("no store", archive.create_member, s, supervisor,
         archive.MemberCreate(card_number="Z9002", name="孙丽"), now=now)  # fmt: skip
    walk("health without consent", create, drug_allergies=["青霉素"], health_consent=False)
    walk("card taken", create, card_number=member.card_number)
    walk("card of another store", archive.create_member, s, other_clerk,
         archive.MemberCreate(card_number=member.card_number, name="孙丽"), now=now)  # fmt: skip
    walk("update without consent", archive.update_member, s, clerk, bare.id,
         archive.MemberFields(drug_allergies=["青霉素"]))  # fmt: skip
    walk("not consented", consent.withdraw_health_consent, s, clerk, bare.id, now=now)
    walk("same owner", archive.reassign_member, s, manager, member.id, world.clerk_a.id, now=now)
    walk("hand over someone's", archive.reassign_all, s, clerk, world.clerk_a2.id,
         world.clerk_a.id, staff_left=False, now=now)  # fmt: skip
    walk("hand over to self", archive.reassign_all, s, manager, world.clerk_a.id,
         world.clerk_a.id, staff_left=False, now=now)  # fmt: skip
    walk("hand over to nobody", archive.reassign_all, s, manager, world.clerk_a.id, 999_999,
         staff_left=False, now=now)  # fmt: skip
    peer = make_staff(s, username="manager.a2", role=Role.store_manager, store=world.store_a)
    s.commit()
    walk("hand over a peer's", archive.reassign_all, s, world.actor(world.manager_a), peer.id,
         world.clerk_a.id, staff_left=False, now=now)  # fmt: skip
    manager = world.actor(world.manager_a)
    walk("cover for a leaver", archive.reassign_all, s, manager, world.clerk_a.id,
         world.clerk_a2.id, staff_left=True, until=now.date(), now=now)  # fmt: skip
    walk("cover ended before it began", archive.reassign_all, s, manager, world.clerk_a.id,
         world.clerk_a2.id, staff_left=False, until=date(2000, 1, 1), now=now)  # fmt: skip
    walk("cover of one member", archive.reassign_member, s, manager, member.id,
         world.clerk_a2.id, reason=OwnershipReason.cover, now=now)  # fmt: skip
    manager = world.actor(world.manager_a)
    walk("choose members", archive.reassign_members, s, manager, [], world.clerk_a2.id, now=now)
    walk("no owner", archive.create_member, s, Actor.system("test"),
         archive.MemberCreate(card_number="Z9003", name="孙丽", home_store_id=world.store_a.id),
         now=now)  # fmt: skip

    # Referrals and relationship grades.
    def refer(card: str) -> Any:
        fields = archive.MemberFields(referred_by_card=card)
        return archive.update_member(s, clerk, member.id, fields, now=now)

    bare.referred_by_id = member.id  # member referred bare
    s.commit()
    walk("refer self", refer, member.card_number)
    walk("refer unknown", refer, "NOPE-1")
    walk("refer in a circle", refer, bare.card_number)
    walk("grade without reason", grades.set_grade, s, clerk, member.id, 100, " ", now=now)
    walk("grade reason too long", grades.set_grade, s, clerk, member.id, 100, "长" * 300,
         now=now)  # fmt: skip
    walk("grade computed", grades.set_grade, s, clerk, member.id, 60, "带朋友", now=now)
    walk("grade not set", grades.clear_grade, s, clerk, member.id, "清除", now=now)
    walk("grade not theirs", grades.set_grade, s, world.actor(world.clerk_a2), member.id, 80,
         "成交", now=now)  # fmt: skip
    clerk = world.actor(world.clerk_a)

    # Health records.
    def check(**values: Any) -> Any:
        data = {"kind": "blood_pressure", "values": {"systolic": 130, "diastolic": 80}}
        return health_records.record_health_check(
            s, clerk, member.id, health_records.HealthCheckIn(**(data | values)), now=now
        )

    walk("kind", check, kind="height")
    walk("values", check, values={"systolic": 130})
    walk("range", check, values={"systolic": 1300, "diastolic": 80})
    walk("zone", check, measured_at=datetime(2024, 1, 1, 10))
    walk("future", check, measured_at=now + timedelta(days=2))
    walk("effect empty", health_records.EffectIn)
    walk("testimonial", health_records.EffectIn, before="痛", testimonial_consent=True)
    reading = health_records.HealthCheckIn(
        kind="blood_pressure", values={"systolic": 130, "diastolic": 80}
    )
    walk("consent first", health_records.record_health_check, s, clerk, bare.id, reading,
         now=now)  # fmt: skip

    withdrawn = make_member(world, name="李静")
    consent.withdraw_health_consent(s, world.actor(world.clerk_a), withdrawn.id, now=now)
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("withdrawn", health_records.record_health_check, s, clerk, withdrawn.id, reading,
         now=now)  # fmt: skip

    # Working a step.
    def result(cp: Checkpoint, who: Any = None, **values: Any) -> Any:
        data = {"version": cp.version, "channel": "phone", "adherence": "as_directed"}
        return checkpoints.record_result(s, who or clerk, cp.id,
                                         checkpoints.ResultIn(**(data | values)),
                                         today=today, now=now)  # fmt: skip

    walk("stop reason", result, first, adherence="stopped")
    walk("adherence unsaid", result, first, adherence=None)
    walk("reason only for stop", result, first, stop_reason="cost")
    walk("stale", result, first, version=first.version + 5)
    walk("channel", result, first, channel="message")
    walk("checklist", result, first, checklist={"nonsense": True})
    walk("contacted on", result, first, contacted_on=today - timedelta(days=400))
    walk("call back", outcomes.record_attempt, s, clerk, first.id,
         outcomes.AttemptIn(outcome="call_back", call_back_at=now - timedelta(hours=1)),
         today=today, now=now)  # fmt: skip

    def attempt(cp: Checkpoint, expires: date | None = None, **values: Any) -> Any:
        if expires is not None:
            cp.missed_on = expires  # rolled back with the refusal
        return outcomes.record_attempt(s, clerk, cp.id, outcomes.AttemptIn(**values),
                                       today=today, now=now)  # fmt: skip

    walk("outcome gone", outcomes.AttemptIn, outcome="refused")
    walk("visit day", outcomes.AttemptIn, outcome="agreed_to_visit")
    walk("remind days", outcomes.AttemptIn, outcome="remind_later")
    walk("removal why", outcomes.AttemptIn, outcome="removed")
    walk("not this outcome", outcomes.AttemptIn, outcome="unreachable", visit_on=today)
    walk("visit past", attempt, first, outcome="agreed_to_visit",
         visit_on=today - timedelta(days=1))  # fmt: skip
    walk("visit after expiry", attempt, first, today + timedelta(days=5),
         outcome="agreed_to_visit", visit_on=today + timedelta(days=10))  # fmt: skip
    walk("remind range", attempt, first, outcome="remind_later", remind_days=31)
    walk("death tomorrow", attempt, first, outcome="removed", removal_reason="died",
         died_on=today + timedelta(days=1))  # fmt: skip

    def enrol_the_dead() -> Any:
        member.died_on = today - timedelta(days=1)  # rolled back with the refusal
        return lifecycle.enroll(s, clerk, member_id=member.id, protocol_id="post_purchase",
                                start=today, today=today, now=now)  # fmt: skip

    walk("died", enrol_the_dead)
    walk("skip why", checkpoints.skip, s, clerk, first.id, " ", first.version, today=today)
    walk("due range", checkpoints.list_checkpoints, s, clerk,
         checkpoints.CheckpointFilter(due_from=today, due_to=today - timedelta(days=1)),
         today=today)  # fmt: skip
    result(first)
    s.commit()
    walk("done already", result, first)
    walk("attempt on done", outcomes.record_attempt, s, clerk, first.id,
         outcomes.AttemptIn(), today=today, now=now)  # fmt: skip
    walk("skip done", checkpoints.skip, s, clerk, first.id, "走了", None, today=today)
    buyer = make_member(world, name="周强")
    pp = lifecycle.enroll(s, world.actor(world.clerk_a), member_id=buyer.id,
                      protocol_id="post_purchase", start=today - timedelta(days=14),
                      today=today, now=now)  # fmt: skip
    steps = sorted(lifecycle.checkpoints_of(s, pp), key=lambda cp: cp.seq)
    for cp in steps[:2]:
        result(cp, world.actor(world.clerk_a))
    s.commit()
    walk("home visit due", result, steps[2], world.actor(world.clerk_a))

    # Plans.
    walk("start", lifecycle.enroll, s, clerk, member_id=member.id, protocol_id="post_purchase",
         start=today + timedelta(days=400), today=today, now=now)  # fmt: skip
    walk("twice", lifecycle.enroll, s, clerk, member_id=member.id, protocol_id="osteoporosis",
         start=today, today=today, now=now)  # fmt: skip
    walk("not published", lifecycle.enroll, s, clerk, member_id=member.id, protocol_id="nope",
         start=today, today=today, now=now)  # fmt: skip
    walk("resume active", lifecycle.resume, s, clerk, plan.id, today=today)
    walk("stop why", lifecycle.stop, s, clerk, plan.id, " ", today=today)
    walk("choose plans", lifecycle.migrate, s, manager, [], 1)
    walk("migrate older", lifecycle.migrate, s, manager, [plan.id], plan.protocol_version.version)
    lifecycle.stop(s, clerk, plan.id, "不再需要", today=today)
    s.commit()
    walk("pause stopped", lifecycle.pause, s, clerk, plan.id, today=today)
    walk("stop stopped", lifecycle.stop, s, clerk, plan.id, "再停", today=today)
    walk("migrate stopped", lifecycle.migrate, s, manager, [plan.id], 1)

    # Lectures.
    def lecture(**over: Any) -> Any:
        data = lectures.parse_lecture(_lecture_data(world, now, **over))
        made = lectures.create_lecture(s, world.actor(world.manager_a), data, now=now)
        s.commit()
        return made

    starts = now + timedelta(days=3)
    walk("ends first", lectures.parse_lecture, _lecture_data(world, now, ends_at=starts))
    walk("deadline late", lectures.parse_lecture,
         _lecture_data(world, now, register_by=starts + timedelta(hours=1)))  # fmt: skip
    walk("store unseen", lecture, store_id=world.store_b.id)
    walk("past", lecture, starts_at=now - timedelta(days=1), ends_at=now - timedelta(hours=20),
         register_by=now - timedelta(days=2))  # fmt: skip
    walk("no lecture", lectures.get_lecture, s, manager, 999_999)
    walk("cancel why", lectures.cancel_lecture, s, manager, 999_999, " ", now=now)
    talk = lecture()
    other = make_member(world, name="孙一")
    seat = lectures.register(s, world.actor(world.clerk_a), talk.id, member.id, now=now)
    waiting = lectures.register(s, world.actor(world.clerk_a), talk.id, other.id, now=now)
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("again", lectures.register, s, clerk, talk.id, member.id, now=now)
    walk("remind waiting", lectures.mark_reminded, s, clerk, talk.id, waiting.id, now=now)
    walk("check in waiting", lectures.check_in, s, clerk, talk.id, waiting.id, now=now)
    walk("check in early", lectures.check_in, s, clerk, talk.id, seat.id, now=now)
    walk("check in late", lectures.check_in, s, clerk, talk.id, seat.id,
         now=starts + timedelta(days=2))  # fmt: skip
    walk("tell registered", lectures.mark_told, s, clerk, talk.id, seat.id, now=now)
    walk("no seat", lectures.mark_reminded, s, clerk, talk.id, 999_999, now=now)
    big = lecture(capacity=2)
    big_seat, _ = (lectures.register(s, world.actor(world.clerk_a), big.id, who.id, now=now)
                   for who in (member, other))  # fmt: skip
    s.commit()
    walk("fewer seats", lectures.update_lecture, s, world.actor(world.manager_a), big.id,
         lectures.parse_lecture(_lecture_data(world, now, capacity=1)), now=now)  # fmt: skip
    clerk = world.actor(world.clerk_a)
    walk("closed", lectures.register, s, clerk, talk.id, bare.id, now=starts - timedelta(hours=2))
    walk("over", lectures.register, s, clerk, talk.id, bare.id, now=starts + timedelta(hours=3),
         walk_in=True)  # fmt: skip
    walk("age band", lectures.invitation_list, s, clerk, talk.id,
         lectures.Audience(min_age=80, max_age=60), today=today)  # fmt: skip
    walk("invite nobody", lectures.mark_invited, s, clerk, talk.id, [], Channel.phone, now=now)
    walk("invited how", lectures.mark_invited, s, clerk, talk.id, [bare.id], Channel.home_visit,
         now=now)  # fmt: skip
    walk("no Chinese title", lecture, title_zh="")
    walk("topic not listed", lecture, topic="made_up")
    walk("condition not listed", lecture, conditions=["脱发"])
    walk("protocol not listed", lecture, protocols=["nope"])
    storeless = make_staff(s, username="nostore", role=Role.clerk, store=None)
    s.commit()
    walk("no store figures", lectures.attendance, s, world.actor(storeless), until=now)
    clerk = world.actor(world.clerk_a)
    lectures.cancel_seat(s, clerk, talk.id, waiting.id, now=now)
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("cancelled seat", lectures.cancel_seat, s, clerk, talk.id, waiting.id, now=now)
    today_talk = lecture(starts_at=now + timedelta(hours=1), ends_at=now + timedelta(hours=2),
                         register_by=now + timedelta(minutes=30))  # fmt: skip
    here = lectures.register(s, world.actor(world.clerk_a), today_talk.id, member.id, now=now,
                             walk_in=True)  # fmt: skip
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("checked in", lectures.cancel_seat, s, clerk, today_talk.id, here.id, now=now)
    lectures.cancel_lecture(s, world.actor(world.manager_a), talk.id, "讲师生病", now=now)
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("cancelled", lectures.register, s, clerk, talk.id, bare.id, now=now)

    # Guidance sheets.
    stopped = lifecycle.enroll(s, world.actor(world.clerk_a), member_id=other.id,
                           protocol_id="osteoporosis", start=today, today=today,
                           now=now)  # fmt: skip
    lifecycle.stop(s, world.actor(world.clerk_a), stopped.id, "不需要", today=today)
    s.commit()
    clerk, manager = world.actor(world.clerk_a), world.actor(world.manager_a)
    open_step = steps[2].id
    walk("too many", sheets.build_sheets, s, clerk, list(range(1, 600)), now=now)
    walk("no such step", sheets.build_sheets, s, clerk, [999_999], now=now)
    walk("sheet language", sheets.build_sheets, s, clerk, [open_step], now=now, language="fr")
    walk("nothing to print", sheets.current_checkpoint, s, clerk, stopped.id, today)
    walk("store", sheets.todays_contacts, s, manager, store_id=world.store_b.id, on=today)
    walk("staff of store", sheets.todays_contacts, s, manager, store_id=world.store_a.id,
         on=today, staff_id=999_999)  # fmt: skip
    walk("colleague", sheets.todays_contacts, s, clerk, store_id=world.store_a.id, on=today,
         staff_id=world.clerk_a2.id)  # fmt: skip
    walk("whole store", sheets.todays_contacts, s, clerk, store_id=world.store_a.id, on=today)
    most, sheets.MAX_BATCH = sheets.MAX_BATCH, 0
    walk("a busy day", sheets.todays_contacts, s, manager, store_id=world.store_a.id, on=today)
    sheets.MAX_BATCH = most
    walk("no code", sheets.find_print, s, clerk, "NONE0000")
    walk("no contacts", sheets.create_batch, s, manager, store_id=world.store_a.id,
         on=today - timedelta(days=300), paper=Paper.a4, now=now)  # fmt: skip
    walk("no batch", sheets.get_batch, s, manager, 999_999)
    batch = sheets.create_batch(s, manager, store_id=world.store_a.id, on=today,
                                paper=Paper.a4, now=now, contacts=[open_step])  # fmt: skip
    s.commit()
    manager = world.actor(world.manager_a)
    walk("not ready", sheets.batch_pdf, s, manager, batch.id)

    # The audit.
    walk("bucket", audit.bucket_of, "forever")
    walk("as of", audit.make_query, audit.Scope("chain"), today=today,
         as_of=today + timedelta(days=1))  # fmt: skip
    walk("period past as of", audit.make_query, audit.Scope("chain"), today=today,
         as_of=today - timedelta(days=7), period_to=today)  # fmt: skip
    walk("earliest", periods.checked_day, date(1899, 1, 1), "as_of")
    walk("period", periods.period, today, today - timedelta(days=5), default_end=today, days=30)
    walk("audit staff", audit.resolve_scope, s, manager, staff_id=999_999)
    walk("region", audit.resolve_scope, s, manager, region="华东")
    walk("store", audit.resolve_scope, s, manager, store_id=world.store_b.id)
    walk("no region", audit.resolve_scope, s, world.actor(world.supervisor), region="火星")
    walk("store gone", audit._store_scope, s, 999_999, "store", None, "")

    # The member analysis.
    walk("inactive days", analysis.checked_days, 5)
    walk("analysis store", analysis.resolve_scope, s, manager, store_id=world.store_b.id)
    query = audit.make_query(audit.Scope("chain"), today=today)
    walk("page size", audit.list_steps, s, world.actor(world.supervisor), query,
         audit.StepFilter(), limit=10**6, offset=0)  # fmt: skip

    # The clerk's month.
    walk("month form", staff_month.parse_month, "2024-13", today=today)
    walk("month ahead", staff_month.parse_month, "2099-01", today=today)

    # Purchases and the till's file.
    def buy(**values: Any) -> Any:
        data = {"product_code": "P1", "product_name": "钙片", "quantity": 1,
                "purchased_on": today, "amount": "1.00"} | values  # fmt: skip
        return purchases.record_purchase(s, clerk, member.id, purchases.PurchaseIn(**data),
                                         today=today, now=now)  # fmt: skip

    clerk = world.actor(world.clerk_a)
    walk("bought tomorrow", buy, purchased_on=today + timedelta(days=1))
    head = (
        "card_number,store_code,product_code,product_name,quantity,days_supply,"
        "purchased_on,amount\n"
    )
    card, code = member.card_number, world.store_a.code
    bad_lines = (
        f"{card},{code},,钙片,1,30,2024-03-01,1\n"  # empty
        f"{card},{code},{'P' * 80},钙片,1,30,2024-03-01,1\n"  # too long
        f"{card},{code},P1,钙片,0,30,2024-03-01,1\n"  # quantity
        f"{card},{code},P1,钙片,1,900,2024-03-01,1\n"  # days
        f"{card},{code},P1,钙片,1,30,someday,1\n"  # date
        f"{card},{code},P1,钙片,1,30,2024-02-30,1\n"  # no such day
        f"{card},{code},P1,钙片,1,30,2024-03-01,much\n"  # amount
        f"{card},{code},P1,钙片,1,30,2024-03-01,0.001\n"  # decimals
        f"{card},{code},P1,钙片,1,30,2099-01-01,1\n"  # future
        f"NOBODY,{code},P1,钙片,1,30,2024-03-01,1\n"  # card
        f"{card},NOWHERE,P1,钙片,1,30,2024-03-01,1\n"  # store
    )
    manager = world.actor(world.manager_a)

    def till(text: str | bytes, who: Any = None) -> Any:
        data = text.encode() if isinstance(text, str) else text
        return till_import.import_csv(s, who or manager, data, file_name="till.csv",
                                          today=today, now=now)  # fmt: skip

    walk("bad lines", till, head + bad_lines)
    walk("points", till, head.rstrip("\n") + ",积分余额\n"
         f"{card},{code},P1,钙片,1,30,2024-03-01,1,many\n")  # fmt: skip
    walk("header", till, "card_number,amount\n1,2\n")
    walk("empty file", till, "")
    walk("no lines", till, head)
    walk("encoding", till, b"\xff\xfe\xfa\x00\x81")
    walk("nul", till, head + f"{card},{code},P\x001,钙片,1,30,2024-03-01,1\n")
    walk("stray line break", till, head + f"{card},{code},P\r1,钙片,1,30,2024-03-01,1\n")
    with pytest.raises(BadRecord):  # a lone carriage return, from a file read as bytes
        list(records(["a,b\n", "c,d\re,f\n"]))
    walk("long field", till, head + f"{card},{code},P1,{'x' * 140_000},1,30,2024-03-01,1\n")
    walk("no staff", till, head, Actor.system("test"))
    walk("erased meanwhile", till_import._recheck, s,
         till_import._Checked(known=till_import._Known({}, {})), True)  # fmt: skip
    walk("no job", import_jobs.get_job, s, manager, 999_999)
    walk("job by nobody", import_jobs.queue, s, tmp, io.BytesIO(b""), file_name="t.csv",
         actor=Actor.system("test"), today=today, now=now)  # fmt: skip
    job = import_jobs.queue(s, tmp, io.BytesIO(head.encode()), file_name="t.csv", actor=manager,
                            today=today, now=now)  # fmt: skip
    walk("someone else's job", import_jobs.get_job, s, world.actor(world.clerk_a), job.id)

    # Drug classes, staff, erasure, escalations, protocols.
    chain = world.actor(world.supervisor)
    for values in ({"product_code": ""}, {"product_name": "x" * 200}, {"drug_class": "magic"}):
        data = {"product_code": "P1", "product_name": "钙片", "drug_class": "statin"} | values
        walk("mapping", drug_classes.set_class, s, chain, drug_classes.MappingIn(**data), now=now)
    walk("no mapping", drug_classes.remove_class, s, chain, "NOPE")

    def hire(**values: Any) -> Any:
        data = {"username": "new.one", "name": "新人", "role": "clerk", "store_code": code,
                "password": "a-long-enough-password"}  # fmt: skip
        return staff.create_staff(s, staff.StaffIn(**(data | values)))

    walk("username", hire, username=world.clerk_a.username)
    walk("store code", hire, store_code="NOWHERE")
    walk("home store", hire, store_code=None)
    walk("staff id", staff.get_staff, s, 999_999)
    walk("username unknown", staff.by_username, s, "ghost")
    walk("language", staff.set_language, s, world.clerk_a.id, "fr")
    _walk_the_admin_console(walk, world, left, now)
    _walk_complaints(walk, world, now)
    walk("erase why", erasure.erase_member, s, manager, bare.id, "whim", now=now)
    walk("erase live", erasure.erase_member, s, manager, buyer.id, "request", now=now)
    erasure.erase_member(s, manager, bare.id, "request", now=now)
    s.commit()
    manager = world.actor(world.manager_a)
    walk("erased", erasure.erase_member, s, manager, bare.id, "request", now=now)
    walk("erased archive", archive.update_member, s, manager, bare.id,
         archive.MemberFields(name="某"))  # fmt: skip
    _walk_message_consent(walk, world, member, bare, now)
    _walk_outlook(walk, world, member, now)
    walk("no escalation", escalations.resolve_escalation, s, manager, 999_999, "好了", now=now)
    result(steps[2], world.actor(world.clerk_a), channel="home_visit", adherence="stopped",
           stop_reason="side_effects")  # fmt: skip
    s.commit()
    manager = world.actor(world.manager_a)
    (raised,) = escalations.list_escalations(s, manager)
    walk("not theirs to close", escalations.resolve_escalation, s, world.actor(world.clerk_a),
         raised.id, "好了", now=now)  # fmt: skip
    manager = world.actor(world.manager_a)
    walk("say what was done", escalations.resolve_escalation, s, manager, raised.id, " ", now=now)
    walk("a clerk closes a pharmacist's case", escalations.resolve_escalation, s,
         world.actor(world.clerk_a), raised.id, "我打过电话了", now=now)  # fmt: skip
    manager = world.actor(world.manager_a)
    escalations.resolve_escalation(s, manager, raised.id, "已上门", now=now)
    s.commit()
    manager = world.actor(world.manager_a)
    walk("resolved", escalations.resolve_escalation, s, manager, raised.id, "再次", now=now)
    walk("protocol version", protocols.get_version, s, "osteoporosis", 99)

    # The admin console: accounts and stores.
    admin = make_staff(s, username="root.a", role=Role.admin, store=None)
    s.commit()
    root = world.actor(admin)

    def account(**values: Any) -> staff.Account:
        data = {"name": "新人", "role": "clerk", "store_id": world.store_a.id,
                "username": "new.two"} | values  # fmt: skip
        return staff.Account(**data)

    walk("admin only", stores.create_store, s, manager, stores.StoreForm("S9", "新店", "华东"))
    walk("username form", staff.create_account, s, root, account(username="新 人"))
    walk("username taken", staff.create_account, s, root, account(username="clerk.a"))
    walk("name long", staff.create_account, s, root, account(name="长" * 81))
    walk("no such store", staff.create_account, s, root, account(store_id=999_999))
    walk("no role here", staff.create_account, s, manager, account(role="supervisor"))
    walk("keeps members", staff.close_account, s, root, world.clerk_a.id, now=now)
    walk("members stay", staff.change_account, s, root, world.clerk_a.id,
         account(store_id=world.store_b.id))  # fmt: skip
    walk("closed", staff.reset_password, s, root, left.id, now=now)
    for new, repeat in (("短", "短"), ("x" * 300, "x" * 300), ("a-new-long-password", "other")):
        walk("password", staff.choose_password, s, world.clerk_a.id, new, repeat)
    walk("same password", staff.choose_password, s, world.clerk_a.id, PASSWORD, PASSWORD)
    for form in (stores.StoreForm("S 9", "新店", "华东"),
                 stores.StoreForm(world.store_b.code, "新店", "华东"),
                 stores.StoreForm("S9", "新店", "华东", store_phone="电话")):  # fmt: skip
        walk("store form", stores.create_store, s, root, form)
    walk("no store", stores.get_store, s, 999_999)

    # Holiday cover, and the lecture form's lists.
    walk("cover for one", archive.reassign_member, s, manager, member.id, world.clerk_a2.id,
         reason=OwnershipReason.cover, now=now)  # fmt: skip
    walk("cover for a leaver", archive.reassign_all, s, manager, world.clerk_a.id,
         world.clerk_a2.id, staff_left=True, until=today + timedelta(days=7), now=now)  # fmt: skip
    walk("cover in the past", archive.reassign_all, s, manager, world.clerk_a.id,
         world.clerk_a2.id, staff_left=False, until=today - timedelta(days=7), now=now)  # fmt: skip
    for over in ({"title_zh": ""}, {"topic": "nothing_here"}, {"conditions": ["火星病"]},
                 {"protocols": ["nope"]}):  # fmt: skip
        walk("lecture form", lecture, **over)
    walk("invitation channel", lectures.mark_invited, s, world.actor(world.clerk_a), big.id,
         [member.id], Channel.home_visit, now=now)  # fmt: skip
    walk("check-in closed", lectures.check_in, s, world.actor(world.clerk_a), big.id,
         big_seat.id, now=starts + timedelta(days=1))  # fmt: skip

    # Spend tiers and quadrants.
    walk("value scope", spend_tiers.resolve_scope, s, supervisor, "planet", None, None)
    walk("value region", spend_tiers.resolve_scope, s, supervisor, "region", None, "火星")
    walk("value visits", spend_tiers.threshold_of, 0, None)
    walk("value spend", spend_tiers.threshold_of, None, Decimal(-1))
    walk("value quadrant", spend_tiers.quadrant_rows, s, supervisor, spend_tiers.Scope("chain"),
         ValuePeriod.last_12_months, "xx")  # fmt: skip

    # Pydantic's own checks, each said as a key.
    for bad in PYDANTIC_BAD:
        walk(f"pydantic {bad}", parse, Every, bad)


def _walk_message_consent(
    walk: Walk, world: World, member: Member, erased: Member, now: datetime
) -> None:
    """Consent to messages: a channel the archive cannot reach, one never agreed to."""
    s, clerk = world.session, world.actor(world.clerk_a)
    no_mobile = make_member(world, name="李静", mobile=None)
    s.commit()
    clerk = world.actor(world.clerk_a)
    walk("sms without a mobile", message_consent.grant, s, clerk, no_mobile.id, MessageChannel.sms,
         now=now)  # fmt: skip
    walk("wechat without an openid", message_consent.grant, s, clerk, member.id,
         MessageChannel.wechat, now=now, address="不是")  # fmt: skip
    walk("withdraw what was never given", message_consent.withdraw, s, clerk, member.id,
         MessageChannel.sms, now=now)  # fmt: skip
    walk("messages to an erased member", message_consent.grant, s, world.actor(world.manager_a),
         erased.id, MessageChannel.sms, now=now)  # fmt: skip


def _walk_outlook(walk: Walk, world: World, member: Member, now: datetime) -> None:
    """How soon a member will buy again: a known outlook, the words why, by whom."""
    s, today = world.session, now.date()

    def set_(by: Staff, value: str, reason: str) -> Any:
        return outlook.set_outlook(s, world.actor(by), member.id, value, reason, today=today,
                                   now=now)  # fmt: skip

    walk("outlook unknown", set_, world.clerk_a, "soon", "会员说的")
    walk("outlook why", set_, world.clerk_a, "beyond", " ")
    walk("outlook by whom", set_, world.clerk_a2, "beyond", "会员说的")


def _walk_the_admin_console(walk: Walk, world: World, left: Staff, now: datetime) -> None:
    """Accounts and stores as an admin (and a manager) changes them."""
    s = world.session
    admin_staff = make_staff(s, username="admin.walk", role=Role.admin, store=None)
    admin, manager = world.actor(admin_staff), Actor.of(world.manager_a, via="test")

    def store(**values: str) -> Any:
        data = {"store_code": "N001", "store_name": "新店", "region": "华东"} | values
        return stores.create_store(s, admin, stores.StoreForm(**data))

    walk("stores are an admin's", stores.create_store, s, manager,
         stores.StoreForm("N001", "新店", "华东"))  # fmt: skip
    walk("store code form", store, store_code="N 1")
    walk("store code taken", store, store_code=world.store_a.code)
    walk("store phone", store, store_phone="call us")
    walk("store name long", store, store_name="店" * 121)
    walk("store gone", stores.get_store, s, 999_999)

    def account(actor: Actor = admin, **values: Any) -> Any:
        data = {"name": "新人", "role": "clerk", "store_id": world.store_a.id,
                "username": "new.two"} | values  # fmt: skip
        return staff.create_account(s, actor, staff.Account(**data))

    walk("username form", account, username="new two")
    walk("username taken", account, username=world.clerk_a.username)
    walk("no such store", account, store_id=999_999)
    walk("role above", account, manager, role="store_manager")
    make_member(world, owner=world.clerk_a)
    walk("members first", staff.close_account, s, admin, world.clerk_a.id, now=now)
    walk("closed account", staff.reset_password, s, admin, left.id, now=now)
    walk("password short", staff.choose_password, s, world.clerk_a.id, "short", "short")
    walk("passwords differ", staff.choose_password, s, world.clerk_a.id,
         "long-enough-one", "long-enough-two")  # fmt: skip

    def same_again() -> None:
        world.clerk_a2.password_hash = hash_password("the-same-password")
        staff.choose_password(s, world.clerk_a2.id, "the-same-password", "the-same-password")

    walk("password unchanged", same_again)


def _walk_complaints(walk: Walk, world: World, now: datetime) -> None:
    s = world.session
    clerk, manager = world.actor(world.clerk_a), world.actor(world.manager_a)

    def record(actor: Actor = clerk, **values: Any) -> Any:
        data = {"what": "态度差", "cause": "service", "severity": "high",
                "channel": "in_person", "walk_in_name": "路人"} | values  # fmt: skip
        return complaints.record(s, actor, complaints.ComplaintIn(**data), now=now)

    walk("complaint unseen", complaints.path_of, s, world.actor(world.clerk_b), 999_999)
    walk("complaint by head office", record, world.actor(world.supervisor))
    walk("complaint who", record, walk_in_name=" ")
    walk("complaint phone", record, walk_in_phone="call me")
    walk("complaint text", lambda: record(what=" "))
    walk("complaint about", record, about_staff_id=world.clerk_b.id)
    member = make_member(world, name="投诉人")
    by_member = record(member_id=member.id).id
    walk_in = record().id
    s.commit()
    clerk = world.actor(world.clerk_a)

    def close(actor: Actor, complaint_id: int, satisfaction: str = "satisfied",
              note: str = "好") -> Any:  # fmt: skip
        return complaints.close(s, actor, complaint_id, satisfaction=satisfaction, note=note,
                                now=now)  # fmt: skip

    walk("close before the visit", close, clerk, by_member)
    walk("close a walk-in's", close, clerk, walk_in)
    walk("close without a note", close, manager, walk_in, note=" ")
    walk("hand over as a clerk", complaints.hand_over, s, clerk, by_member, world.clerk_a2.id,
         now=now)  # fmt: skip
    step = complaints.path_of(s, clerk, by_member).step
    assert step is not None
    checkpoints.record_result(s, clerk, step.id, checkpoints.ResultIn(
        version=step.version, channel="phone", adherence="as_directed"),
        today=now.date(), now=now)  # fmt: skip
    close(manager, walk_in)
    complaints.hand_over(s, world.actor(world.manager_a), by_member, world.clerk_a2.id, now=now)
    s.commit()
    walk("close dissatisfied", close, world.actor(world.clerk_a2), by_member, "dissatisfied")
    moved_away = record(member_id=make_member(world, name="搬走的").id).id
    dropped = complaints.path_of(s, clerk, moved_away).step
    assert dropped is not None
    lifecycle.stop(s, clerk, dropped.plan_id, "会员已搬走", today=now.date())
    walk("close without the visit", close, clerk, moved_away)
    walk("close twice", close, world.actor(world.manager_a), walk_in)
    walk("hand over twice", complaints.hand_over, s, world.actor(world.manager_a), by_member,
         world.clerk_a.id, now=now)  # fmt: skip


# A character's name and the file format of an answer, the same in both languages.
LATIN_OK = {"NUL", "JSON"}


CODE_WORD = re.compile(r"\b[a-z]+_[a-z_]+\b")


def said_twice(texts: list[str]) -> list[str]:
    """ "开始日期：开始日期须在…", "lecture lecture": a word printed twice."""
    twice = re.compile(r"^(\w{2,})[：:] ?\1|\b(\w+) \2\b")
    return [t for t in texts if twice.search(t)]


def shown(language: str, refusal: CareplanError) -> list[str]:
    return visible(f"<p>{error_text(gettext_for(language), refusal)}</p>")


# A protocol file's problems (ProtocolIssue, not refusals): each bad file once.
def _bad_protocol_texts(good: str) -> dict[str, str]:
    step = "  - key: medication_guidance\n"
    assert step in good
    return {
        "big": "x" * (protocols.MAX_FILE_BYTES + 1),
        "alias": "a: &x 1\nb: *x\n",
        "tag": "a: !!binary aGk=\n",
        "key not text": "1: x\n",
        "duplicate key": "id: a\nid: b\n",
        "not yaml": "a: [1\n",
        "not a mapping": "- 1\n",
        "unknown field": good.replace("version: 3", "version: 3\ncolour: red", 1),
        "missing": good.replace("version: 3\n", "", 1),
        "no zh": re.sub(r"zh: 骨质疏松慢病追踪", "zh: ''", good, count=1),
        "no en": good.replace("  en: Osteoporosis care plan\n", "", 1),
        "bad key": good.replace(step, "  - key: W1 start\n", 1),
        "icd": good.replace("icd10: M81", "icd10: bone", 1),
        "bound": good.replace("version: 3", "version: 0", 1),
        "measurement": good.replace("measurements: [", "measurements: [cholesterol_x, ", 1),
        "item twice": good.replace("key: upright_30min", "key: dose_explained", 1),
        "two offsets": good.replace(step, step + "    day: 3\n", 1),
        "opens early": good.replace(step, step + "    opens_days_before: 2\n", 1),
        "drug class": good.replace("calcium_vitamin_d]", "nonsense]", 1),
        "refill": good.replace(step, step + "    refill: {drug_class: statins}\n", 1),
        "escalation": re.sub(r"\n  cost:\n(    .*\n){3}", "\n", good, count=1),
        "routine": good.replace(
            "version: 3",
            "version: 3\nroutine: {per_month: 1, "
            "title: {zh: 甲, en: A}, guidance: {zh: 甲, en: A}}",
            1,
        ),
        "rhythm": good.replace(
            "version: 3",
            "version: 3\nduration_months: 3\nroutine: {per_month: 1, every_days: 3, "
            "title: {zh: 甲, en: A}, guidance: {zh: 甲, en: A}}",
            1,
        ),
        "series": good.replace(
            "version: 3",
            "version: 3\nduration_months: 3\nroutine: [{at_end: true, "
            "title: {zh: 甲, en: A}, guidance: {zh: 甲, en: A}}, {every_days: 7, "
            "title: {zh: 乙, en: B}, guidance: {zh: 乙, en: B}}]",
            1,
        ),
        "no series": good.replace("version: 3", "version: 3\nduration_months: 3\nroutine: []", 1),
        "health data": good.replace("version: 3", "version: 3\nhealth_data: false", 1),
        "key twice": good.replace("key: take_on_time", "key: medication_guidance", 1),
        "order": good.replace("week: 2", "week: 1", 1),
        "expiry": good.replace(step, step + "    grace_days: 5\n    expiry_days: 3\n", 1),
    }


def walk_protocol_problems(world: World, tmp: Path) -> list[protocols.ProtocolIssue]:
    good = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    met: list[protocols.ProtocolIssue] = []
    for name, text in _bad_protocol_texts(good).items():
        with pytest.raises(protocols.ProtocolFileError) as refused:
            protocols.parse_protocol(text, f"{name}.yaml")
        met += refused.value.issues
    for data, call in (
        (b"\xff\xfe", lambda d: protocols.check_upload(world.session, d, "gbk.yaml")),
        (good.replace("medication", "meds", 1).encode(),
         lambda d: protocols.check_upload(world.session, d, "changed.yaml")),
    ):  # fmt: skip
        with pytest.raises(protocols.ProtocolFileError) as refused:
            call(data)
        met += refused.value.issues
    (tmp / "a.yaml").write_text(good, encoding="utf-8")
    (tmp / "b.yaml").write_text(good, encoding="utf-8")
    with pytest.raises(protocols.ProtocolFileError) as refused:
        protocols.read_files([tmp / "a.yaml", tmp / "b.yaml", tmp])  # tmp: a folder
    return met + refused.value.issues + _template_problems(world)


def _template_problems(world: World) -> list[protocols.ProtocolIssue]:
    """The message templates' own problems, each from a bad file (careplan messages check)."""
    good = (ROOT / "protocols" / "messages" / "templates.yaml").read_text(encoding="utf-8")
    met: list[protocols.ProtocolIssue] = []
    for old, new in (
        ("{due}", "{when}"),  # a variable not declared; a declared one unused
        ("{store}药师届时", "{store药师届时"),  # a brace without its pair
        ("  - key: refill\n", "  - key: step_nudge\n"),  # a key twice, a reason uncovered
    ):
        with pytest.raises(protocols.ProtocolFileError) as refused:
            message_templates.parse_templates(good.replace(old, new, 1), "templates.yaml")
        met += refused.value.issues
    templates = message_templates.parse_templates(good, "templates.yaml")
    first = templates.by_key["step_reminder"]
    templates = message_templates.Templates({"refill": first}, "templates.yaml")
    met += _named_template_missing(world, templates)
    return met


def _named_template_missing(world: World, templates: Any) -> list[protocols.ProtocolIssue]:
    """A published step naming a template the file lacks."""
    from careplan.plans.protocol_schema import Remind

    shipped = {p.definition.id: p for p in shipped_protocols()}["osteoporosis"].definition
    first, *rest = shipped.checkpoints
    first = first.model_copy(update={"remind": Remind(days_before=2, template="no_such")})
    definition = shipped.model_copy(update={"version": 90, "checkpoints": (first, *rest)})
    loaded = protocols.LoadedProtocol(definition, "x", protocols.content_hash(definition), {})
    protocols.publish(world.session, [loaded])
    try:
        return message_templates.unknown_step_templates(world.session, templates)
    finally:
        world.session.rollback()


def protocol_problem_reads_wrong(issue: protocols.ProtocolIssue) -> bool:
    """The Chinese sentence keeps no Latin word but the file's own ids: field names of
    the schema, the values it quotes, the place in the file, and YAML / UTF-8 / ICD-10."""
    zh, en = gettext_for("zh"), gettext_for("en")
    ids = {w for v in (*map(str, issue.params.values()), issue.where)
           for w in re.findall(r"[A-Za-z]{2,}", v)}  # fmt: skip
    ids |= {"YAML", "UTF", "ICD", "KiB", "zh", "en", "name"} | protocol_field_names()
    said_zh, said_en = zh(issue.key, **issue.params), en(issue.key, **issue.params)
    words = re.sub(r"[A-Za-z]+(_[A-Za-z]+)+", "", said_zh)  # a field's id: opens_days_before
    return (
        said_zh == issue.key
        or bool(set(english_left([words])) - ids)
        or bool(
            chinese_left([said_en]) and not chinese_left([str(v) for v in issue.params.values()])
        )
    )


def protocol_field_names() -> set[str]:
    from careplan.plans import protocol_schema

    return {
        name for model in vars(protocol_schema).values()
        if isinstance(model, type) and issubclass(model, BaseModel)
        for name in model.model_fields
    }  # fmt: skip


def walk_the_pages(client: TestClient, world: World, language: str) -> dict[str, str]:
    """Form and API refusals as the reader meets them: the page's own error area."""
    world.manager_a.language = language
    world.session.commit()
    client.cookies.clear()
    token = sign_in_page(client, "manager.a")
    pages = {}
    for name, values in (
        ("mobile", {"mobile": "12345"}),
        ("card pattern", {"card_number": "A B"}),
        ("card length", {"card_number": "A1"}),
        ("birthday", {"birthday": "1850-01-01"}),
        ("email", {"email": "nobody"}),
    ):
        data = {"csrf_token": token, "name": "孙丽", "card_number": "Z7001"} | values
        r = client.post("/members", data=data)
        assert r.status_code == 422, (name, r.status_code)
        pages[name] = r.text
    r = client.post(
        "/api/v1/members",
        content=b"{not json",
        headers={"Content-Type": "application/json"} | api_sign_in(client, "manager.a"),
    )
    assert r.status_code == 422 and r.json()["error"]["key"] == "not valid JSON", r.text
    pages["complaint"] = client.post(
        "/complaints", data={"csrf_token": token, "member_id": "", "walk_in_name": "张",
                             "cause": "service", "severity": "high",
                             "complaint_channel": "in_person", "what": " "}
    ).text  # fmt: skip
    pages["lecture"] = client.post(
        "/lectures", data={"csrf_token": token, "title_zh": "讲座", "capacity": "many"}
    ).text
    return pages


def test_every_refusal_is_met_and_reads_in_the_readers_language(
    client: TestClient, world: World, clock: TravelClock, caught: list[CareplanError],
    tmp_path: Path,
):  # fmt: skip
    walk = Walk(world)
    walk_the_domain(walk, world, clock, tmp_path)
    assert not walk.not_refused, f"these were not refused: {walk.not_refused}"
    pages = {lang: walk_the_pages(client, world, lang) for lang in ("zh", "en")}

    problems = walk_protocol_problems(world, tmp_path)
    met = {refusal.message for refusal in caught} | {p.key for p in problems}
    never = sorted(domain_keys() - met)
    assert not never, f"refusals the walk never met (add a trigger): {never}; {walk.said}"

    # A protocol schema's own refusals are problems of a file, checked as such above.
    protocol_keys = {p.key for p in problems}
    one_each = {r.message: r for r in caught if r.message not in protocol_keys}.values()
    wrong = []
    for refusal in one_each:
        zh, en = shown("zh", refusal), shown("en", refusal)
        if set(english_left(zh)) - LATIN_OK or chinese_left(en) or said_twice(zh + en):
            wrong.append((refusal.message, zh, en))
        if ascii_punctuation(zh):  # "开始日期: …" where "开始日期：…" belongs
            wrong.append((refusal.message, zh, en))
        if any(CODE_WORD.search(t) for t in en):  # "as_of cannot be...": a field's id
            wrong.append((refusal.message, zh, en))
    wrong += [(p.key, p.params) for p in problems if protocol_problem_reads_wrong(p)]
    assert not wrong, "\n".join(map(str, wrong))
    for name, html in pages["zh"].items():
        assert 'role="alert"' in html and not set(english_left(visible(html))) - LATIN_OK, name
        assert not ascii_punctuation(visible(html)), name
    for name, html in pages["en"].items():
        assert not chinese_left(visible(html)), name


def test_the_api_keeps_english_and_adds_the_key_without_pydantic_words(
    client: TestClient, world: World
):
    headers = api_sign_in(client, "clerk.a")
    r = client.post("/api/v1/members", json={"name": "孙丽", "card_number": "AB CD"},
                    headers=headers)  # fmt: skip
    error = r.json()["error"]
    assert r.status_code == 422 and error["field"] == "card_number"
    assert error["key"] == "letters, digits and hyphens only" and error["params"] == {}
    assert error["message"] == "card_number: letters, digits and hyphens only"
    assert "pattern" not in r.text and "String should" not in r.text
    r = client.post("/api/v1/members", content=b"{not json", headers=headers |
                    {"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 422 and r.json()["error"]["key"] == "not valid JSON"
