"""/api/v1/lectures — scheduling, seats and the waitlist, the day, invitations, figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import BackgroundTasks, Query
from pydantic import BaseModel, Field

from careplan.config import get_settings
from careplan.jobs import tasks
from careplan.lectures import lectures
from careplan.lectures.lectures import Audience, LectureIn
from careplan.models import Lecture, LectureSeat
from careplan.outreach import build, wiring
from careplan.vocab import Channel
from web.api.present import lecture_out, seat_out
from web.api.schemas import (
    AttendanceOut,
    CancelledLectureOut,
    InvitationOut,
    LectureOut,
    SeatCancelledOut,
    SeatOut,
)
from web.deps import CurrentActor, DbSession, Now
from web.routing import router

api = router(prefix="/lectures", tags=["lectures"])


def counted(session: DbSession, lecture: Lecture) -> LectureOut:
    return lecture_out(lecture, lectures.seat_counts(session, [lecture.id])[lecture.id])


@api.get("", response_model=list[LectureOut])
def list_(
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    store_id: int | None = None,
    since: datetime | None = None,
) -> list[LectureOut]:
    """Lectures ending after `since` (default: 30 days ago), soonest first."""
    shown = lectures.list_lectures(
        session, actor, since=since or clock.now - timedelta(days=30), store_id=store_id
    )
    counts = lectures.seat_counts(session, [x.id for x in shown])
    return [lecture_out(x, counts[x.id]) for x in shown]


@api.post("", response_model=LectureOut, status_code=201)
def create(body: LectureIn, session: DbSession, actor: CurrentActor, clock: Now) -> LectureOut:
    return counted(session, lectures.create_lecture(session, actor, body, now=clock.now))


@api.get("/attendance", response_model=AttendanceOut)
def attendance(
    session: DbSession, actor: CurrentActor, clock: Now, since: datetime | None = None
) -> AttendanceOut:
    """Attendance and no-show rates of the lectures held, per lecture and per store."""
    per_lecture, per_store = lectures.attendance(session, actor, until=clock.now, since=since)
    return AttendanceOut.of(per_lecture, per_store)


@api.get("/{lecture_id}", response_model=LectureOut)
def read(lecture_id: int, session: DbSession, actor: CurrentActor) -> LectureOut:
    return counted(session, lectures.get_lecture(session, actor, lecture_id))


@api.put("/{lecture_id}", response_model=LectureOut)
def update(
    lecture_id: int, body: LectureIn, session: DbSession, actor: CurrentActor, clock: Now
) -> LectureOut:
    """Change a lecture; more seats move the waitlist up."""
    lecture = lectures.update_lecture(session, actor, lecture_id, body, now=clock.now)
    return counted(session, lecture)


class CancelIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


@api.post("/{lecture_id}/cancel", response_model=CancelledLectureOut)
def cancel(
    lecture_id: int, body: CancelIn, session: DbSession, actor: CurrentActor, clock: Now
) -> CancelledLectureOut:
    """Cancel the lecture; everyone holding a seat or a waitlist place is released and
    listed, to be told (POST …/seats/{id}/told when they are)."""
    released = lectures.cancel_lecture(session, actor, lecture_id, body.reason, now=clock.now)
    lecture = lectures.get_lecture(session, actor, lecture_id)
    return CancelledLectureOut(
        lecture=counted(session, lecture), released=[seat_out(s) for s in released]
    )


@api.get("/{lecture_id}/seats", response_model=list[SeatOut])
def roster(lecture_id: int, session: DbSession, actor: CurrentActor) -> list[SeatOut]:
    """Registered first, then the waitlist in order, then those who left."""
    return [seat_out(s) for s in lectures.roster(session, actor, lecture_id)]


@api.get("/{lecture_id}/reminders", response_model=list[SeatOut])
def reminders(lecture_id: int, session: DbSession, actor: CurrentActor) -> list[SeatOut]:
    """Registered and not yet reminded: the calls to make the day before."""
    return [seat_out(s) for s in lectures.reminder_list(session, actor, lecture_id)]


class RegisterIn(BaseModel):
    member_id: int
    walk_in: bool = False


@api.post(
    "/{lecture_id}/seats",
    response_model=SeatOut,
    status_code=201,
    responses={409: {"description": "already registered or waiting, closed, or cancelled"}},
)
def register(
    lecture_id: int, body: RegisterIn, session: DbSession, actor: CurrentActor, clock: Now
) -> SeatOut:
    """A seat if one is free, else a waitlist place (see `status`). A walk-in is seated
    and checked in at once."""
    seat = lectures.register(
        session, actor, lecture_id, body.member_id, now=clock.now, walk_in=body.walk_in
    )
    return seat_out(seat)


@api.post("/{lecture_id}/seats/{seat_id}/cancel", response_model=SeatCancelledOut)
def cancel_seat(
    lecture_id: int, seat_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> SeatCancelledOut:
    promoted = lectures.cancel_seat(session, actor, lecture_id, seat_id, now=clock.now)
    seat = session.get_one(LectureSeat, seat_id)  # access checked by cancel_seat
    return SeatCancelledOut(seat=seat_out(seat), promoted=seat_out(promoted) if promoted else None)


@api.post("/{lecture_id}/seats/{seat_id}/remind", response_model=SeatOut)
def remind(
    lecture_id: int, seat_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> SeatOut:
    return seat_out(lectures.mark_reminded(session, actor, lecture_id, seat_id, now=clock.now))


@api.post("/{lecture_id}/seats/{seat_id}/check-in", response_model=SeatOut)
def check_in(
    lecture_id: int, seat_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> SeatOut:
    """The member is here; an open plan step naming the lecture's topic is completed."""
    return seat_out(lectures.check_in(session, actor, lecture_id, seat_id, now=clock.now))


@api.post("/{lecture_id}/seats/{seat_id}/told", response_model=SeatOut)
def told(
    lecture_id: int, seat_id: int, session: DbSession, actor: CurrentActor, clock: Now
) -> SeatOut:
    return seat_out(lectures.mark_told(session, actor, lecture_id, seat_id, now=clock.now))


@api.get("/{lecture_id}/invitations", response_model=list[InvitationOut])
def invitation_list(
    lecture_id: int,
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    conditions: Annotated[list[str] | None, Query()] = None,
    protocols: Annotated[list[str] | None, Query()] = None,
    store_id: int | None = None,
    min_age: Annotated[int | None, Query(ge=0, le=150)] = None,
    max_age: Annotated[int | None, Query(ge=0, le=150)] = None,
) -> list[InvitationOut]:
    """Members matching the audience who hold no seat, with any invitation already made."""
    audience = Audience(tuple(conditions or ()), tuple(protocols or ()), store_id, min_age, max_age)
    listed = lectures.invitation_list(session, actor, lecture_id, audience, today=clock.today)
    return [
        InvitationOut(
            member_id=m.id,
            card_number=m.card_number,
            name=m.name,
            mobile=m.mobile,
            invited_at=i.invited_at if i else None,
            channel=i.channel if i else None,
        )
        for m, i in listed
    ]


class InviteIn(BaseModel):
    member_ids: list[int] = Field(min_length=1, max_length=1000)
    channel: Channel = Channel.phone


class InvitedOut(BaseModel):
    added: int


@api.post("/{lecture_id}/invitations", response_model=InvitedOut)
def invite(
    lecture_id: int,
    body: InviteIn,
    session: DbSession,
    actor: CurrentActor,
    clock: Now,
    background: BackgroundTasks,
) -> InvitedOut:
    """Record invitations; a member invited already keeps the first. Invitations by
    message (SMS/WeChat) go to the outbox, to members who agreed to the channel."""
    context = wiring.context(get_settings(), now=clock.now, by=actor.staff_id)
    added, built = build.invite_to_lecture(
        session, actor, lecture_id, body.member_ids, body.channel, context
    )
    background.add_task(tasks.queue_messages, built.ids)  # once committed
    return InvitedOut(added=added)
