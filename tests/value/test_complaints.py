"""Complaints: recorded, visited by the member's clerk from the worklist, handed over,
closed with the member's satisfaction, counted per store and person."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.models import ChangeLog, Complaint, Escalation, Ownership
from careplan.plans import lifecycle, worklist
from careplan.plans.checkpoints import ResultIn, record_result
from careplan.value import complaints
from careplan.value.complaints import ComplaintIn
from careplan.vocab import ComplaintState, OwnershipReason
from tests.factories import NOW, TODAY, World, make_member

SERVICE = {"cause": "service", "severity": "high", "channel": "in_person"}


def complaint_of(world: World, staff, member_id=None, **kw) -> Complaint:
    fields = SERVICE | {"what": "店员态度差", "member_id": member_id} | kw
    return complaints.record(world.session, world.actor(staff), ComplaintIn(**fields), now=NOW)


def visit(world: World, complaint: Complaint, staff) -> None:
    step = complaint_step(world, complaint)
    record_result(world.session, world.actor(staff), step.id, ResultIn(
        version=step.version, channel="phone", notes="已道歉"),  # a visit asks no adherence
        today=TODAY, now=NOW)  # fmt: skip


def complaint_step(world: World, complaint: Complaint):
    path = complaints.path_of(world.session, world.actor(world.manager_a), complaint.id)
    assert path.step is not None
    return path.step


def due_items(world: World, staff) -> list:
    actor = world.actor(staff)
    wl = worklist.build(world.session, actor, worklist.WorklistQuery(staff.id, tab="due"),
                        today=TODAY)  # fmt: skip
    return wl.items


def test_the_whole_path_record_visit_on_the_owners_worklist_then_close(world: World):
    # A member without health consent: a complaint visit holds no health data.
    member = make_member(world, consent=False)
    complaint = complaint_of(world, world.pharmacist_a, member.id, place="收银台",
                             on_the_spot="店长当场道歉")  # fmt: skip
    step = complaint_step(world, complaint)
    assert (step.open_on, step.due_on) == (TODAY, TODAY + timedelta(days=1))  # high: next day
    assert [i.checkpoint.id for i in due_items(world, world.clerk_a)] == [step.id]

    # A second complaint while the visit is open shares it.
    second = complaint_of(world, world.clerk_a, member.id, cause="product", severity="low")
    assert second.follow_up_id == complaint.follow_up_id
    assert complaints.path_of(world.session, world.actor(world.clerk_a), second.id).sharing == [
        complaint.id
    ]

    with pytest.raises(InvalidInput) as before_visit:
        complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                         satisfaction="satisfied", note="好", now=NOW)  # fmt: skip
    assert before_visit.value.field == "satisfaction"

    visit(world, complaint, world.clerk_a)
    path = complaints.path_of(world.session, world.actor(world.clerk_a), complaint.id)
    assert path.visit is not None and path.visit.recorded_by_id == world.clerk_a.id
    assert path.may_close
    complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                     satisfaction="satisfied", note="会员表示满意", now=NOW)  # fmt: skip
    assert complaint.state is ComplaintState.closed and complaint.closed_by_id == world.clerk_a.id
    logged = world.session.scalars(
        select(ChangeLog.action).where(ChangeLog.entity == "complaint",
                                       ChangeLog.entity_id == complaint.id)
        .order_by(ChangeLog.id)  # PostgreSQL returns no order unless asked
    ).all()  # fmt: skip
    assert logged == ["create", "update"]


def test_a_dissatisfied_member_is_the_managers_to_close(world: World):
    member = make_member(world)
    complaint = complaint_of(world, world.clerk_a, member.id)
    visit(world, complaint, world.clerk_a)
    with pytest.raises(Forbidden) as refused:
        complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                         satisfaction="dissatisfied", note="仍不满意", now=NOW)  # fmt: skip
    assert refused.value.field == "satisfaction"
    complaints.close(world.session, world.actor(world.manager_a), complaint.id,
                     satisfaction="dissatisfied", note="店长约见会员", now=NOW)  # fmt: skip
    assert complaint.closed_by_id == world.manager_a.id


def test_a_walk_in_gets_no_visit_and_the_manager_closes_it(world: World):
    complaint = complaint_of(world, world.clerk_a, walk_in_name="路人张先生", walk_in_phone="")
    assert complaint.follow_up_id is None and complaint.store_id == world.store_a.id
    assert due_items(world, world.clerk_a) == []
    with pytest.raises(Forbidden):
        complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                         satisfaction="neutral", note="", now=NOW)  # fmt: skip
    complaints.close(world.session, world.actor(world.manager_a), complaint.id,
                     satisfaction="neutral", note="已退款", now=NOW)  # fmt: skip
    assert complaint.state is ComplaintState.closed


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"what": " "}, "what"),
        ({"cause": "weather"}, "cause"),
        ({"severity": ""}, "severity"),
        ({"channel": "fax"}, "complaint_channel"),
        ({"walk_in_name": ""}, "walk_in_name"),
        ({"walk_in_phone": "call me"}, "walk_in_phone"),
        ({"received_on": TODAY + timedelta(days=1)}, "received_on"),
        ({"place": "店" * 81}, "place"),
    ],
)
def test_refusals_name_the_field_and_write_nothing(world: World, fields, field):
    base = {"walk_in_name": "路人"} | fields
    with pytest.raises(InvalidInput) as refused:
        complaint_of(world, world.clerk_a, **base)
    assert refused.value.field == field
    assert world.session.scalars(select(Complaint)).all() == []


def test_about_staff_of_another_store_is_refused(world: World):
    with pytest.raises(InvalidInput) as refused:
        complaint_of(world, world.clerk_a, walk_in_name="路人", about_staff_id=world.clerk_b.id)
    assert refused.value.field == "about_staff_id"


def test_a_service_complaint_hands_the_member_and_the_visit_to_another_clerk(world: World):
    member = make_member(world)
    complaint = complaint_of(world, world.clerk_a, member.id, about_staff_id=world.clerk_a.id)
    with pytest.raises(Forbidden):
        complaints.hand_over(world.session, world.actor(world.clerk_a), complaint.id,
                             world.clerk_a2.id, now=NOW)  # fmt: skip
    complaints.hand_over(world.session, world.actor(world.manager_a), complaint.id,
                         world.clerk_a2.id, note="服务投诉，换专员", now=NOW)  # fmt: skip
    assert (complaint.handed_from_id, complaint.handed_to_id) == (world.clerk_a.id,
                                                                   world.clerk_a2.id)  # fmt: skip
    assert member.owner_id == world.clerk_a2.id
    assert complaint_step(world, complaint).assignee_id == world.clerk_a2.id
    history = world.session.scalars(
        select(Ownership).where(Ownership.member_id == member.id).order_by(Ownership.id)
    ).all()
    assert [h.reason for h in history] == [OwnershipReason.registered, OwnershipReason.escalation]
    assert history[1].note == "服务投诉，换专员" and history[1].changed_by_id == world.manager_a.id
    path = complaints.path_of(world.session, world.actor(world.manager_a), complaint.id)
    assert path.handover is not None and not path.may_hand_over
    # The new clerk works the visit and may close.
    assert due_items(world, world.clerk_a) == []
    visit(world, complaint, world.clerk_a2)
    assert complaints.path_of(world.session, world.actor(world.clerk_a2), complaint.id).may_close


def test_a_product_complaint_is_not_a_hand_over(world: World):
    member = make_member(world)
    complaint = complaint_of(world, world.clerk_a, member.id, cause="product")
    with pytest.raises(Forbidden):
        complaints.hand_over(world.session, world.actor(world.manager_a), complaint.id,
                             world.clerk_a2.id, now=NOW)  # fmt: skip


def test_another_stores_clerk_sees_nothing_and_a_supervisor_only_reads(world: World):
    member = make_member(world)
    complaint = complaint_of(world, world.clerk_a, member.id)
    with pytest.raises(NotFound):
        complaints.path_of(world.session, world.actor(world.clerk_b), complaint.id)
    assert complaints.list_complaints(
        world.session, world.actor(world.clerk_b), complaints.ComplaintFilter()) == []  # fmt: skip
    with pytest.raises(NotFound):
        complaint_of(world, world.clerk_b, member.id)
    seen = complaints.list_complaints(
        world.session, world.actor(world.supervisor), complaints.ComplaintFilter())  # fmt: skip
    assert [c.id for c in seen] == [complaint.id]
    with pytest.raises(Forbidden):
        complaint_of(world, world.supervisor, walk_in_name="路人")


def test_lists_put_open_first_and_the_figures_count_per_store_and_person(world: World):
    member = make_member(world)
    about = {"about_staff_id": world.clerk_a.id}
    first = complaint_of(world, world.clerk_a, member.id, **about)
    visit(world, first, world.clerk_a)
    complaints.close(world.session, world.actor(world.clerk_a), first.id,
                     satisfaction="satisfied", note="满意", now=NOW)  # fmt: skip
    walk_in = complaint_of(world, world.clerk_a, walk_in_name="路人", cause="environment")
    complaint_of(world, world.clerk_b, walk_in_name="路人乙")
    actor = world.actor(world.manager_a)
    listed = complaints.list_complaints(world.session, actor, complaints.ComplaintFilter())
    assert [c.id for c in listed] == [walk_in.id, first.id]
    by_cause = complaints.ComplaintFilter(cause=complaints.ComplaintCause.environment)
    assert [c.id for c in complaints.list_complaints(world.session, actor, by_cause)] == [
        walk_in.id
    ]

    chain = complaints.figures_by_store(world.session, world.actor(world.supervisor),
                                        start=TODAY, end=TODAY)  # fmt: skip
    a = chain[world.store_a.id]
    assert (a.count, a.open, a.closed, a.satisfied_share) == (2, 1, 1, 1.0)
    assert chain[world.store_b.id].satisfied_share is None
    people = complaints.figures_by_staff(world.session, actor, world.store_a.id,
                                         start=TODAY, end=TODAY)  # fmt: skip
    assert people[world.clerk_a.id].count == 1 and people[None].count == 1
    assert world.store_b.id not in complaints.figures_by_store(
        world.session, actor, start=TODAY, end=TODAY)  # fmt: skip


def test_the_visit_needs_no_adherence_and_keeps_none_sent_by_a_client(world: World):
    """A complaint visit is not an adherence check: nothing about medicine is needed, and a
    'stopped' answer an API client sends anyway raises no escalation and is not kept."""
    member = make_member(world, consent=False)
    complaint = complaint_of(world, world.manager_a, member.id)
    step = complaint_step(world, complaint)
    result = record_result(world.session, world.actor(world.clerk_a), step.id, ResultIn(
        version=step.version, channel="phone", adherence="stopped", stop_reason="service",
        notes="会员已满意"), today=TODAY, now=NOW)  # fmt: skip
    assert result.adherence is None and result.stop_reason is None
    assert result.notes == "会员已满意"
    assert world.session.scalars(select(Escalation)).all() == []
    closed = complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                              satisfaction="satisfied", note="回访后满意", now=NOW)  # fmt: skip
    assert closed.state is ComplaintState.closed


def test_a_stopped_follow_up_leaves_the_complaint_to_the_manager_to_close(world: World):
    """The member moved away and the visit's plan was stopped: the visit will never be
    made, so the complaint is not stuck open: the store manager closes it (any
    satisfaction as far as known), the clerk cannot alone, and the page says why."""
    member = make_member(world)
    complaint = complaint_of(world, world.manager_a, member.id)
    step = complaint_step(world, complaint)
    lifecycle.stop(world.session, world.actor(world.clerk_a), step.plan_id, "会员已搬走",
                   today=TODAY)  # fmt: skip
    clerk_path = complaints.path_of(world.session, world.actor(world.clerk_a), complaint.id)
    assert clerk_path.dropped and clerk_path.dropped_why == "会员已搬走"
    assert not clerk_path.may_close  # the owner may close only after a visit
    with pytest.raises(Forbidden) as refused:
        complaints.close(world.session, world.actor(world.clerk_a), complaint.id,
                         satisfaction="satisfied", note="搬走了", now=NOW)  # fmt: skip
    assert refused.value.field == "role"
    manager_path = complaints.path_of(world.session, world.actor(world.manager_a), complaint.id)
    assert manager_path.may_close and manager_path.may_close_dissatisfied
    closed = complaints.close(world.session, world.actor(world.manager_a), complaint.id,
                              satisfaction="neutral", note="搬离，电话致歉", now=NOW)  # fmt: skip
    assert closed.state is ComplaintState.closed and closed.satisfaction == "neutral"
    # A new complaint of the member gets a new visit, not the dropped one.
    again = complaint_of(world, world.manager_a, member.id)
    assert again.follow_up_id not in (None, complaint.follow_up_id)


def test_while_the_visit_waits_even_the_manager_waits_for_it(world: World):
    member = make_member(world)
    complaint = complaint_of(world, world.manager_a, member.id)
    assert not complaints.path_of(world.session, world.actor(world.manager_a), complaint.id).dropped
    with pytest.raises(InvalidInput) as refused:
        complaints.close(world.session, world.actor(world.manager_a), complaint.id,
                         satisfaction="satisfied", note="好", now=NOW)  # fmt: skip
    assert refused.value.field == "satisfaction"
