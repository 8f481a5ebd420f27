"""What goes on a guidance sheet, which sheets a day needs, and the record of each print."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from careplan.errors import Forbidden, InvalidInput, NotFound
from careplan.jobs import lease, runs
from careplan.models import ChangeLog, Checkpoint, Member, SheetBatch, SheetPrint
from careplan.sheets import sheets
from careplan.vocab import BatchState, Channel, Paper
from tests.factories import (
    NOW,
    TODAY,
    World,
    enrolled_steps,
    make_member,
    record_bone_density,
    step_guidance,
)

LEASE = timedelta(minutes=2)
START = date(2024, 2, 1)  # week steps fall due on 02-07, 02-14, 02-21, 02-28, 03-13, 03-27


def _at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


def _enrolled(world: World, member: Member) -> dict[str, Checkpoint]:
    return enrolled_steps(world, member, start=START, assignee=world.pharmacist_a)


def _done(world: World, cp: Checkpoint, day: date, t_score: float | None = None) -> None:
    record_bone_density(world, cp, world.pharmacist_a, now=_at(day), t_score=t_score)


def _guidance(key: str, language: str) -> str:
    return step_guidance("osteoporosis", key, language)


def test_a_sheet_carries_this_steps_guidance_allergies_readings_and_the_next_contact(
    world: World,
):
    member = make_member(world, name="王秀英", allergies=("青霉素", "磺胺类"))
    member.regular_medicines = [{"name": "阿仑膦酸钠片", "dose": "70mg", "schedule": "每周一次"}]
    steps = _enrolled(world, member)
    _done(world, steps["medication_guidance"], date(2024, 2, 7), t_score=-2.7)
    _done(world, steps["fall_prevention"], date(2024, 2, 28), t_score=-2.5)

    actor = world.actor(world.clerk_a)
    (sheet,) = sheets.build_sheets(world.session, actor, [steps["fall_prevention"].id], now=NOW)

    assert sheet.language == "zh"
    assert (sheet.member_name, sheet.card_number) == ("王秀英", member.card_number)
    assert sheet.allergies == ("青霉素", "磺胺类")
    assert sheet.medicines[0]["name"] == "阿仑膦酸钠片"
    assert sheet.guidance == _guidance("fall_prevention", "zh")
    assert (sheet.step_number, sheet.steps_total) == (4, 6)
    (trend,) = sheet.trends
    assert [(r.on, r.shown, r.at_this_step) for r in trend.readings] == [
        (date(2024, 2, 7), "-2.7", False),
        (date(2024, 2, 28), "-2.5", True),
    ]
    assert sheet.next_contact is not None
    assert (sheet.next_contact.on, sheet.next_contact.channel) == (date(2024, 3, 13), Channel.phone)
    assert (sheet.store_name, sheet.staff_name) == (world.store_a.name, world.pharmacist_a.name)
    assert sheet.printed_at.utcoffset() == timedelta(hours=8)  # the chain's local time
    assert len(sheet.code) == 9 and sheet.code[4] == "-"


def test_the_language_is_the_members_unless_one_is_asked_for(world: World):
    member = make_member(world, name="Mary Smith")
    member.language = "en"
    steps = _enrolled(world, member)
    actor = world.actor(world.clerk_a)
    ids = [steps["diet_guidance"].id]

    (own,) = sheets.build_sheets(world.session, actor, ids, now=NOW)
    (asked,) = sheets.build_sheets(world.session, actor, ids, now=NOW, language="zh")

    assert (own.language, own.guidance) == ("en", _guidance("diet_guidance", "en"))
    assert (asked.language, asked.guidance) == ("zh", _guidance("diet_guidance", "zh"))
    with pytest.raises(InvalidInput) as bad:
        sheets.build_sheets(world.session, actor, ids, now=NOW, language="fr")
    assert bad.value.field == "language"


def test_once_consent_is_withdrawn_no_health_data_is_printed(world: World):
    member = make_member(world)
    steps = _enrolled(world, member)
    _done(world, steps["medication_guidance"], date(2024, 2, 7), t_score=-2.7)
    member.health_consent = False  # withdrawn after enrolment
    (sheet,) = sheets.build_sheets(
        world.session, world.actor(world.clerk_a), [steps["take_on_time"].id], now=NOW
    )
    assert (sheet.allergies, sheet.medicines, sheet.trends) == ((), (), ())


def test_the_last_step_has_no_next_contact(world: World):
    steps = _enrolled(world, make_member(world))
    (sheet,) = sheets.build_sheets(
        world.session, world.actor(world.clerk_a), [steps["medication_review"].id], now=NOW
    )
    assert sheet.next_contact is None


def test_another_stores_checkpoint_is_not_found(world: World):
    steps = _enrolled(world, make_member(world))
    with pytest.raises(NotFound):
        sheets.build_sheets(
            world.session, world.actor(world.clerk_b), [steps["take_on_time"].id], now=NOW
        )


def test_a_day_s_contacts_are_open_or_done_that_day_by_person_then_oldest_first(world: World):
    a = _enrolled(world, make_member(world, name="甲"))
    b = _enrolled(world, make_member(world, name="乙"))
    _done(world, b["diet_guidance"], TODAY)  # recorded today: a contact of today
    day = TODAY  # 2024-03-01: week 3 is overdue (due 02-21), week 4 overdue (due 02-28)

    manager = world.actor(world.manager_a)
    found = sheets.todays_contacts(world.session, manager, store_id=world.store_a.id, on=day)

    assert found == [
        a["diet_guidance"].id,
        b["diet_guidance"].id,
        a["fall_prevention"].id,
        b["fall_prevention"].id,
    ]
    mine = sheets.todays_contacts(
        world.session,
        world.actor(world.pharmacist_a),
        store_id=world.store_a.id,
        on=day,
        staff_id=world.pharmacist_a.id,
    )
    assert mine == found
    assert (
        sheets.todays_contacts(
            world.session,
            manager,
            store_id=world.store_a.id,
            on=day,
            staff_id=world.clerk_a2.id,
        )
        == []
    )


def test_only_a_manager_prints_the_whole_store_or_a_colleagues_day(world: World):
    clerk = world.actor(world.clerk_a)
    store = world.store_a.id
    with pytest.raises(Forbidden):
        sheets.todays_contacts(world.session, clerk, store_id=store, on=TODAY)
    with pytest.raises(Forbidden):
        sheets.todays_contacts(
            world.session, clerk, store_id=store, on=TODAY, staff_id=world.pharmacist_a.id
        )
    with pytest.raises(NotFound):
        sheets.todays_contacts(world.session, world.actor(world.clerk_b), store_id=store, on=TODAY)


def test_the_member_page_prints_the_step_the_member_is_in_now(world: World):
    steps = _enrolled(world, make_member(world))
    plan_id = steps["take_on_time"].plan_id
    actor = world.actor(world.clerk_a)

    assert sheets.current_checkpoint(world.session, actor, plan_id, date(2024, 2, 1)).key == (
        "medication_guidance"
    )
    _done(world, steps["medication_guidance"], date(2024, 2, 5))
    # Week 2 opens on 02-08; before that, the last step done is the one to hand over.
    assert sheets.current_checkpoint(world.session, actor, plan_id, date(2024, 2, 6)).key == (
        "medication_guidance"
    )
    assert sheets.current_checkpoint(world.session, actor, plan_id, date(2024, 2, 9)).key == (
        "take_on_time"
    )


def test_each_print_is_recorded_with_who_and_when_and_logged(world: World):
    steps = _enrolled(world, make_member(world))
    actor = world.actor(world.clerk_a)
    found = sheets.build_sheets(world.session, actor, [steps["diet_guidance"].id], now=NOW)

    (row,) = sheets.record_prints(world.session, actor, found, paper=Paper.a5, now=NOW)

    assert (row.code, row.printed_by_id, row.printed_at, row.paper) == (
        found[0].code,
        world.clerk_a.id,
        NOW,
        Paper.a5,
    )
    assert sheets.find_print(world.session, actor, row.code.replace("-", "").lower()) == row
    with pytest.raises(NotFound):
        sheets.find_print(world.session, world.actor(world.clerk_b), row.code)
    logged = world.session.scalars(
        select(ChangeLog).where(ChangeLog.entity == "sheet_print", ChangeLog.entity_id == row.id)
    ).all()
    assert [e.actor_id for e in logged] == [world.clerk_a.id]


def _queued(world: World) -> SheetBatch:
    _enrolled(world, make_member(world))
    return sheets.create_batch(
        world.session,
        world.actor(world.manager_a),
        store_id=world.store_a.id,
        on=TODAY,
        paper=Paper.a4,
        now=NOW,
    )


def test_a_batch_records_its_prints_only_when_its_pdf_is_made(world: World, session_factory):
    batch = _queued(world)
    world.session.commit()
    seen: list[int] = []

    def render(found, paper, progress):
        for n in range(1, len(found) + 1):
            progress(n)
            seen.append(n)
        return b"%PDF-fake"

    assert runs.run_sheet_batch(session_factory, batch.id, render, token="t", clock=lambda: NOW,
                                lease=LEASE)  # fmt: skip

    world.session.refresh(batch)
    assert (batch.state, batch.done, batch.total) == (BatchState.done, 2, 2)
    assert seen == [1, 2]
    prints = world.session.scalars(select(SheetPrint).where(SheetPrint.batch_id == batch.id))
    assert [p.printed_by_id for p in prints] == [world.manager_a.id] * 2


def test_a_failed_batch_records_nothing_and_says_so(world: World, session_factory):
    batch = _queued(world)
    world.session.commit()

    def render(found, paper, progress):
        progress(1)
        raise RuntimeError("printer on fire")

    with pytest.raises(RuntimeError):
        runs.run_sheet_batch(session_factory, batch.id, render, token="t", clock=lambda: NOW,
                             lease=LEASE)  # fmt: skip

    world.session.refresh(batch)
    assert batch.state is BatchState.failed and "printer on fire" in (batch.error or "")
    assert world.session.scalars(select(SheetPrint)).all() == []
    assert not lease.stalled(batch, NOW + timedelta(hours=1))  # failed is final, not stalled


def test_a_batch_no_consumer_took_for_a_quarter_of_an_hour_is_given_up(
    world: World, session_factory
):
    """Its page says printing stopped: it must not print later, after the person printed
    again."""
    batch = _queued(world)
    world.session.commit()
    assert not lease.stalled(batch, NOW + timedelta(minutes=14))
    later = NOW + timedelta(minutes=16)
    assert lease.stalled(batch, later)
    assert not runs.run_sheet_batch(session_factory, batch.id, lambda *_: b"", token="t",
                                    clock=lambda: later, lease=LEASE)  # fmt: skip
    assert world.session.scalars(select(SheetPrint)).all() == []


def test_a_sheet_shows_the_tracked_medicine_supply_from_the_till(world: World):
    """Osteoporosis tracks bisphosphonates: bought 01-01 and 02-05 for 28 days each.
    From the index date 01-01 to today 03-01 is 61 days; 01-01..01-28 and 02-05..03-01
    are covered (28 + 26 = 54, 89%); the second box lasts to 03-03, within a week."""
    from decimal import Decimal

    from careplan.adherence.purchases import PurchaseIn, record_purchase

    member = make_member(world, name="王秀英")
    steps = _enrolled(world, member)
    manager = world.actor(world.manager_a)
    for day in (date(2024, 1, 1), date(2024, 2, 5)):
        bought = PurchaseIn(
            product_code="A70", product_name="阿仑膦酸钠片", drug_class="bisphosphonates",
            quantity=1, days_supply=28, purchased_on=day, amount=Decimal("58.00"),
        )  # fmt: skip
        record_purchase(world.session, manager, member.id, bought, today=TODAY, now=NOW)
    actor = world.actor(world.clerk_a)
    (sheet,) = sheets.build_sheets(world.session, actor, [steps["fall_prevention"].id], now=NOW)
    (supply,) = sheet.supply
    # The member reads the medicine they bought, not its pharmacological class (issue 21).
    assert (supply.title, supply.covered_days, supply.days, supply.percent) == (
        "阿仑膦酸钠片",
        54,
        61,
        89,
    )
    assert (supply.lasts_until, supply.refill_soon) == (date(2024, 3, 3), True)

    member.health_consent = False  # what was bought tells of a condition
    (sheet,) = sheets.build_sheets(world.session, actor, [steps["fall_prevention"].id], now=NOW)
    assert sheet.supply == ()


def test_the_same_batch_asked_twice_at_once_is_one_batch(world: World):
    """A double click on 打印 (or a second tab) made two batches of the same sheets, and
    every member two prints (a QA walk)."""
    first = _queued(world)
    manager = world.actor(world.manager_a)

    def ask(now: datetime, paper: Paper = Paper.a4) -> SheetBatch:
        return sheets.create_batch(world.session, manager, store_id=world.store_a.id,
                                   on=TODAY, paper=paper, now=now)  # fmt: skip

    assert ask(NOW + timedelta(seconds=1)).id == first.id
    other_paper = ask(NOW + timedelta(seconds=2), Paper.a5)
    assert other_paper.id != first.id  # another paper: asked anew
    first.state = BatchState.failed
    again = ask(NOW + timedelta(seconds=3))  # after a failure: asked again
    assert again.id not in (first.id, other_paper.id)
    later = ask(NOW + sheets.SAME_REQUEST_WITHIN * 2)  # a minute on: printed again, on purpose
    assert later.id not in (first.id, other_paper.id, again.id)
