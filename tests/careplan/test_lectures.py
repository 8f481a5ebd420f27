"""Health lectures: seats and the waitlist, cancelling, check-in fulfilling a step, bad
input refused with nothing written, and no overbooking under concurrent registrations."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.errors import CareplanError, Conflict, InvalidInput, NotFound
from careplan.lectures import lectures
from careplan.members.archive import MemberCreate, create_member
from careplan.models import ChangeLog, CheckpointResult, Lecture, LectureSeat, Staff, Store
from careplan.plans import checkpoints, protocols
from careplan.plans.checkpoints import ResultIn
from careplan.vocab import (
    Adherence,
    Channel,
    CheckpointState,
    LecturePhase,
    LectureStatus,
    Role,
    SeatStatus,
)
from tests.factories import (
    HASHED,
    NOW,
    ROOT,
    World,
    enrolled_steps,
    make_member,
    make_staff,
    shipped_protocols,
)

START = datetime(2024, 3, 20, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai


def lecture_in(store: Store, **changes: object) -> lectures.LectureIn:
    fields: dict[str, object] = {
        "title_zh": "防跌倒健康讲座",
        "title_en": "Fall prevention talk",
        "topic": "fall_prevention",
        "conditions": ["osteoporosis"],
        "protocols": ["osteoporosis"],
        "speaker": "李药师",
        "store_id": store.id,
        "venue": "二楼会议室",
        "starts_at": START,
        "ends_at": START + timedelta(hours=1, minutes=30),
        "capacity": 2,
        "register_by": START - timedelta(days=1),
    }
    return lectures.LectureIn.model_validate(fields | changes)


def new_lecture(world: World, **changes: object) -> Lecture:
    actor = world.actor(world.manager_a)
    return lectures.create_lecture(
        world.session, actor, lecture_in(world.store_a, **changes), now=NOW
    )


def test_seats_fill_then_the_waitlist_and_a_cancellation_promotes_the_first_waiting(
    world: World,
) -> None:
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    people = [make_member(world, name=n) for n in ("甲", "乙", "丙", "丁")]
    seats = [
        lectures.register(world.session, actor, lecture.id, m.id, now=NOW + timedelta(minutes=i))
        for i, m in enumerate(people)
    ]
    assert [s.status for s in seats] == [
        SeatStatus.registered, SeatStatus.registered, SeatStatus.waitlisted, SeatStatus.waitlisted,
    ]  # fmt: skip

    assert lectures.waitlist_place(world.session, seats[3]) == 2  # behind 丙
    assert lectures.waitlist_place(world.session, seats[0]) is None  # has a seat

    promoted = lectures.cancel_seat(world.session, actor, lecture.id, seats[0].id, now=NOW)

    assert lectures.waitlist_places(world.session, lecture.id) == {seats[3].id: 1}  # moved up
    assert promoted is seats[2]  # the first to ask, not the last
    assert seats[2].status is SeatStatus.registered and seats[2].promoted_at == NOW
    assert seats[3].status is SeatStatus.waitlisted
    assert seats[0].status is SeatStatus.cancelled and seats[0].ended_by_id == world.clerk_a.id
    logged = world.session.scalars(
        select(ChangeLog).where(
            ChangeLog.entity == "lecture_seat", ChangeLog.entity_id == seats[2].id
        )
    ).all()
    assert any(e.changes.get("status") == ["waitlisted", "registered"] for e in logged)
    assert all(e.actor_id == world.clerk_a.id for e in logged)


def test_no_double_registration_and_more_capacity_moves_the_waitlist_up(world: World) -> None:
    lecture = new_lecture(world, capacity=1)
    actor = world.actor(world.clerk_a)
    first, second = make_member(world, name="甲"), make_member(world, name="乙")
    lectures.register(world.session, actor, lecture.id, first.id, now=NOW)
    waiting = lectures.register(world.session, actor, lecture.id, second.id, now=NOW)
    with pytest.raises(Conflict) as err:
        lectures.register(world.session, actor, lecture.id, first.id, now=NOW)
    assert err.value.field == "member_id"

    manager = world.actor(world.manager_a)
    lectures.update_lecture(
        world.session, manager, lecture.id, lecture_in(world.store_a, capacity=2), now=NOW
    )
    assert waiting.status is SeatStatus.registered
    with pytest.raises(InvalidInput) as err:
        lectures.update_lecture(
            world.session, manager, lecture.id, lecture_in(world.store_a, capacity=1), now=NOW
        )
    assert err.value.field == "capacity"


def test_a_cancelled_lecture_releases_everyone_with_a_record(world: World) -> None:
    lecture = new_lecture(world, capacity=1)
    clerk = world.actor(world.clerk_a)
    a, b = make_member(world, name="甲"), make_member(world, name="乙")
    lectures.register(world.session, clerk, lecture.id, a.id, now=NOW)
    lectures.register(world.session, clerk, lecture.id, b.id, now=NOW)
    manager = world.actor(world.manager_a)
    with pytest.raises(InvalidInput):
        lectures.cancel_lecture(world.session, manager, lecture.id, "  ", now=NOW)

    released = lectures.cancel_lecture(world.session, manager, lecture.id, "讲师生病", now=NOW)

    assert {s.member_id for s in released} == {a.id, b.id}
    assert all(s.status is SeatStatus.released and s.ended_at == NOW for s in released)
    assert lecture.status is LectureStatus.cancelled and lecture.cancel_reason == "讲师生病"
    told = lectures.mark_told(world.session, clerk, lecture.id, released[0].id, now=NOW)
    assert told.told_by_id == world.clerk_a.id
    entries = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "lecture_seat")
    ).all()
    assert sum(e.changes.get("status") == ["registered", "released"] for e in entries) == 1
    assert sum(e.changes.get("status") == ["waitlisted", "released"] for e in entries) == 1
    with pytest.raises(Conflict):
        lectures.register(world.session, clerk, lecture.id, make_member(world).id, now=NOW)


def test_check_in_fulfils_the_open_step_that_names_the_topic(world: World) -> None:
    member = make_member(world)
    # Week 4 (fall prevention) is due 2024-03-20, the lecture's day, when the plan starts 02-22.
    steps = enrolled_steps(world, member, start=date(2024, 2, 22))
    fall = steps["fall_prevention"]
    assert fall.due_on == date(2024, 3, 20)
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    seat = lectures.register(world.session, actor, lecture.id, member.id, now=NOW)
    with pytest.raises(Conflict):  # not the day yet
        lectures.check_in(world.session, actor, lecture.id, seat.id, now=NOW)

    lectures.check_in(world.session, actor, lecture.id, seat.id, now=START)

    assert seat.checked_in_at == START and seat.checked_in_by_id == world.clerk_a.id
    assert fall.state is CheckpointState.done and fall.completed_on == date(2024, 3, 20)
    assert fall.late is False
    result = world.session.scalar(
        select(CheckpointResult).where(CheckpointResult.checkpoint_id == fall.id)
    )
    assert result is not None and result.fulfilled_by == "防跌倒健康讲座"
    assert result.adherence is None and result.channel is Channel.in_store
    others = [cp for key, cp in steps.items() if key != "fall_prevention"]
    assert all(cp.state is CheckpointState.pending for cp in others)


def test_check_in_only_on_the_lectures_day_in_the_chains_time_zone(world: World) -> None:
    # START is 14:00 in Shanghai on 03-20; 16:30 UTC on 03-19 is already 00:30 on 03-20
    # there, and 15:59 UTC on 03-20 is 23:59 there: both the lecture's day.
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    seat = lectures.register(world.session, actor, lecture.id, make_member(world).id, now=NOW)
    assert lectures.phase(lecture, NOW) is LecturePhase.upcoming
    early, late = (
        datetime(2024, 3, 19, 16, 30, tzinfo=UTC),
        datetime(2024, 3, 20, 15, 59, tzinfo=UTC),
    )
    assert not lectures.check_in_open(lecture, datetime(2024, 3, 19, 15, 59, tzinfo=UTC))
    assert lectures.check_in_open(lecture, early) and lectures.check_in_open(lecture, late)
    assert lectures.phase(lecture, early) is LecturePhase.today
    assert lectures.phase(lecture, late) is LecturePhase.held  # over, check-in still open
    next_day = datetime(2024, 3, 20, 16, 0, tzinfo=UTC)
    assert not lectures.check_in_open(lecture, next_day)
    with pytest.raises(Conflict) as err:
        lectures.check_in(world.session, actor, lecture.id, seat.id, now=next_day)
    assert err.value.field == "seat_id" and seat.checked_in_at is None
    lectures.check_in(world.session, actor, lecture.id, seat.id, now=late)
    assert seat.checked_in_at == late


def test_check_in_after_the_grace_period_completes_the_step_late(world: World) -> None:
    member = make_member(world)
    steps = enrolled_steps(world, member, start=date(2024, 2, 8))  # week 4 due 03-06
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    seat = lectures.register(world.session, actor, lecture.id, member.id, now=NOW)
    lectures.check_in(world.session, actor, lecture.id, seat.id, now=START)
    fall = steps["fall_prevention"]
    assert fall.state is CheckpointState.done and fall.late is True


def test_a_late_check_in_re_anchors_the_later_steps_exactly_as_a_late_call_does(
    world: World,
) -> None:
    # A version where the lecture step re-anchors: both ways of completing it late must
    # move the plan's later steps by the same delay (checkpoints.complete_step decides).
    text = (ROOT / "protocols" / "osteoporosis.yaml").read_text(encoding="utf-8")
    text = text.replace("version: 3", "version: 4", 1).replace(
        "    lecture_topic: fall_prevention\n",
        "    lecture_topic: fall_prevention\n    reanchor: true\n",
    )
    protocols.publish(world.session, [protocols.parse_protocol(text, "v4.yaml")])
    by_lecture, by_call = make_member(world, name="甲"), make_member(world, name="乙")
    lectured = enrolled_steps(world, by_lecture, start=date(2024, 2, 8))  # week 4 due 03-06
    called = enrolled_steps(world, by_call, start=date(2024, 2, 8))
    before = called["medication_review"].due_on
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    seat = lectures.register(world.session, actor, lecture.id, by_lecture.id, now=NOW)
    lectures.check_in(world.session, actor, lecture.id, seat.id, now=START)
    cp = called["fall_prevention"]
    checkpoints.record_result(
        world.session, actor, cp.id,
        ResultIn(version=cp.version, channel=Channel.in_store, adherence=Adherence.as_directed,
                 contacted_on=date(2024, 3, 20)),
        today=date(2024, 3, 20), now=START,
    )  # fmt: skip
    shift = (date(2024, 3, 20) - date(2024, 3, 6)).days
    assert lectured["fall_prevention"].late and called["fall_prevention"].late
    for key in ("doctor_and_exercise", "medication_review"):
        assert lectured[key].due_on == called[key].due_on
    assert called["medication_review"].due_on == before + timedelta(days=shift)


def test_walk_in_is_registered_and_checked_in_at_once_even_when_full(world: World) -> None:
    lecture = new_lecture(world, capacity=1)
    actor = world.actor(world.clerk_a)
    lectures.register(world.session, actor, lecture.id, make_member(world, name="甲").id, now=NOW)
    walker = make_member(world, name="乙", mobile="13800000001")
    seat = lectures.register(world.session, actor, lecture.id, walker.id, now=START, walk_in=True)
    assert seat.status is SeatStatus.registered and seat.walk_in
    assert seat.checked_in_at == START
    found = lectures.find_for_check_in(world.session, actor, lecture.id, "13800000001")
    assert [s.id for s in found] == [seat.id]


def test_reminders_and_attendance_figures(world: World) -> None:
    lecture = new_lecture(world, capacity=5)
    actor = world.actor(world.clerk_a)
    seats = [
        lectures.register(world.session, actor, lecture.id, make_member(world, name=n).id, now=NOW)
        for n in ("甲", "乙", "丙", "丁")
    ]
    lectures.mark_reminded(world.session, actor, lecture.id, seats[0].id, now=NOW)
    assert [s.id for s in lectures.reminder_list(world.session, actor, lecture.id)] == [
        s.id for s in seats[1:]
    ]
    for seat in seats[:3]:
        lectures.check_in(world.session, actor, lecture.id, seat.id, now=START)
    per_lecture, per_store = lectures.attendance(
        world.session, world.actor(world.manager_a), until=START + timedelta(days=1)
    )
    assert per_lecture[lecture.id].attended == 3 and per_lecture[lecture.id].registered == 4
    assert per_lecture[lecture.id].no_show_rate == 0.25
    assert per_store[world.store_a.id].attendance_rate == 0.75


def test_invitation_list_by_condition_and_age_and_marking_invited(world: World) -> None:
    lecture = new_lecture(world)
    actor = world.actor(world.clerk_a)
    old = make_member(world, name="老")
    old.chronic_conditions, old.birthday = ["骨质疏松"], date(1950, 5, 1)  # as staff type it
    also = make_member(world, name="也")
    also.chronic_conditions, also.birthday = ["Osteoporosis "], date(1949, 5, 1)
    young = make_member(world, name="少")
    young.chronic_conditions, young.birthday = ["osteoporosis"], date(1990, 5, 1)
    other = make_member(world, name="别")
    other.chronic_conditions, other.birthday = ["hypertension"], date(1950, 5, 1)
    world.session.flush()
    audience = lectures.Audience(conditions=("osteoporosis",), min_age=60)

    listed = lectures.invitation_list(world.session, actor, lecture.id, audience, today=NOW.date())
    assert {m.id for m, _ in listed} == {old.id, also.id}  # the protocol's names match
    also.chronic_conditions = ["高血压"]
    world.session.flush()

    with pytest.raises(InvalidInput) as err:  # nobody is visited at home for a talk
        lectures.mark_invited(
            world.session, actor, lecture.id, [old.id], Channel.home_visit, now=NOW
        )
    assert err.value.field == "invitation_channel"
    lectures.mark_invited(world.session, actor, lecture.id, [old.id], Channel.phone, now=NOW)
    listed = lectures.invitation_list(world.session, actor, lecture.id, audience, today=NOW.date())
    assert listed[0][1] is not None and listed[0][1].invited_by_id == world.clerk_a.id
    lectures.register(world.session, actor, lecture.id, old.id, now=NOW)
    listed = lectures.invitation_list(world.session, actor, lecture.id, audience, today=NOW.date())
    assert listed == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"ends_at": START - timedelta(minutes=1)}, "ends_at"),
        ({"capacity": 0}, "capacity"),
        ({"register_by": START + timedelta(hours=1)}, "register_by"),
        ({"title_zh": ""}, "title_zh"),
        ({"topic": "Fall Prevention"}, "topic"),
        ({"topic": "no_protocol_names_this"}, "topic"),
        ({"conditions": ["脱发"]}, "conditions"),
        ({"protocols": ["no_such_protocol"]}, "protocols"),
    ],
)
def test_bad_lectures_are_refused_naming_the_field_and_nothing_is_written(
    world: World, changes: dict[str, object], field: str
) -> None:
    from careplan.validation import parse

    before = world.session.scalar(select(func.count()).select_from(Lecture))
    data = lecture_in(world.store_a).model_dump() | changes
    with pytest.raises(InvalidInput) as err:
        lectures.create_lecture(
            world.session, world.actor(world.manager_a), parse(lectures.LectureIn, data), now=NOW
        )
    assert err.value.field == field
    assert world.session.scalar(select(func.count()).select_from(Lecture)) == before


def test_the_form_picks_from_what_the_protocols_name_and_keeps_condition_codes(
    world: World,
) -> None:
    choices = lectures.lecture_choices(world.session)
    topics = {t.key: t.name for t in choices.topics}
    fall = topics["fall_prevention"]
    assert fall is not None and "防跌倒" in fall.zh and "骨质疏松" in fall.zh  # step, protocol
    assert topics[lectures.GENERAL_TOPIC] is None  # words from the catalogue, key made here
    assert {c.code: c.name.zh for c in choices.conditions}["M81"] == "骨质疏松"
    assert "osteoporosis" in {p.id for p in choices.protocols}
    # Any of a condition's names is kept as its code; English is optional.
    lecture = new_lecture(world, title_en="", conditions=["骨质疏松", "Osteoporosis"])
    assert lecture.conditions == ["M81"] and lecture.title_en == ""
    assert lecture.title_in("en") == "防跌倒健康讲座"
    general = new_lecture(world, topic=lectures.GENERAL_TOPIC)
    assert general.topic == "general"


def test_a_member_of_a_store_the_user_may_not_see_is_not_found(world: World) -> None:
    lecture = new_lecture(world)
    theirs = make_member(world, owner=world.clerk_b, name="外店")
    with pytest.raises(NotFound) as err:
        lectures.register(world.session, world.actor(world.clerk_a), lecture.id, theirs.id, now=NOW)
    assert err.value.field == "member_id"
    assert world.session.scalar(select(func.count()).select_from(LectureSeat)) == 0
    # Nor may store B's clerk see store A's lecture at all.
    with pytest.raises(NotFound):
        lectures.get_lecture(world.session, world.actor(world.clerk_b), lecture.id)


def test_a_clerk_may_not_schedule_and_a_manager_only_for_their_store(world: World) -> None:
    with pytest.raises(CareplanError):
        lectures.create_lecture(
            world.session, world.actor(world.clerk_a), lecture_in(world.store_a), now=NOW
        )
    with pytest.raises(NotFound) as err:
        lectures.create_lecture(
            world.session, world.actor(world.manager_a), lecture_in(world.store_b), now=NOW
        )
    assert err.value.field == "store_id"


# --- Concurrency: real connections, each registration its own transaction ------------------


@dataclass
class Race:
    """A store, its clerks, a lecture with `capacity` seats and members to register."""

    lecture_id: int
    clerks: list[Staff]
    member_ids: list[int]


def race(factory: sessionmaker[Session], *, clerks: int, members: int, capacity: int) -> Race:
    """Set up a race for seats on a committed database; clerks can sign in (PASSWORD)."""
    with factory() as s:
        s.info["actor"] = Actor.system("test")
        protocols.publish(s, shipped_protocols())
        store = Store(code="C001", name="并发店", region="华东")
        s.add(store)
        s.flush()
        staff = [
            make_staff(s, username=f"c.clerk{i}", role=Role.clerk, store=store)
            for i in range(clerks)
        ]
        manager = make_staff(s, username="c.manager", role=Role.store_manager, store=store)
        for person in (*staff, manager):
            person.password_hash = HASHED
        s.info["actor"] = Actor.of(manager, via="test")
        lecture = lectures.create_lecture(
            s, s.info["actor"], lecture_in(store, capacity=capacity), now=NOW
        )
        s.info["actor"] = Actor.of(staff[0], via="test")
        member_ids = [
            create_member(
                s, s.info["actor"], MemberCreate(card_number=f"C{i:05d}", name=f"会员{i}"), now=NOW
            ).id
            for i in range(members)
        ]
        s.commit()
        return Race(lecture.id, staff, member_ids)


def seats_by_status(factory: sessionmaker[Session], lecture_id: int) -> dict[SeatStatus, int]:
    with factory() as s:
        stmt = (
            select(LectureSeat.status, func.count())
            .where(LectureSeat.lecture_id == lecture_id)
            .group_by(LectureSeat.status)
        )
        return {status: n for status, n in s.execute(stmt)}


def test_fifty_concurrent_registrations_for_twenty_seats(
    committed_db: sessionmaker[Session],
) -> None:
    factory = committed_db
    setup = race(factory, clerks=1, members=50, capacity=20)
    actor, lecture_id = Actor.of(setup.clerks[0], via="test"), setup.lecture_id

    errors: list[BaseException] = []
    go = threading.Barrier(50)

    def take(member_id: int) -> None:
        try:
            go.wait()
            with factory() as s:
                s.info["actor"] = actor
                lectures.register(s, actor, lecture_id, member_id, now=NOW)
                s.commit()
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(m,)) for m in setup.member_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    counts = seats_by_status(factory, lecture_id)
    assert counts == {SeatStatus.registered: 20, SeatStatus.waitlisted: 30}
