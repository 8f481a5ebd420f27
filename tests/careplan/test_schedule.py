"""Date rules, with time travel: every shipped protocol's dates for chosen start dates."""

from __future__ import annotations

from datetime import date

import pytest

from careplan.plans.protocol_schema import Protocol
from careplan.plans.schedule import add_months, checkpoint_status, plan_schedule
from careplan.vocab import CheckpointState, CheckpointStatus
from tests.factories import shipped_protocols


def shipped(protocol_id: str) -> Protocol:
    return next(p.definition for p in shipped_protocols() if p.definition.id == protocol_id)


def dues(protocol_id: str, start: date) -> dict[str, tuple[str, str]]:
    return {
        s.key: (s.dates.open_on.isoformat(), s.dates.due_on.isoformat())
        for s in plan_schedule(shipped(protocol_id), start)
    }


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: clamped to the 29th
        (date(2023, 1, 31), 1, date(2023, 2, 28)),
        (date(2024, 1, 31), 3, date(2024, 4, 30)),
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 11, 15), 3, date(2025, 2, 15)),  # across the year end
    ],
)
def test_month_offsets_are_calendar_months_clamped_to_the_months_end(start, months, expected):
    assert add_months(start, months) == expected


def test_week_n_opens_on_day_7n_minus_7_and_is_due_by_day_7n_minus_1():
    d = dues("osteoporosis", date(2024, 3, 4))
    assert d["medication_guidance"] == ("2024-03-04", "2024-03-10")  # week 1: days 0..6
    assert d["take_on_time"] == ("2024-03-11", "2024-03-17")  # week 2: days 7..13
    assert d["doctor_and_exercise"] == ("2024-04-08", "2024-04-14")  # week 6: days 35..41


def test_osteoporosis_steps_fall_in_weeks_1_2_3_4_6_8_from_a_31_january_start():
    d = dues("osteoporosis", date(2024, 1, 31))
    assert [due for _, due in d.values()] == [
        "2024-02-06",
        "2024-02-13",
        "2024-02-20",
        "2024-02-27",
        "2024-03-12",
        "2024-03-26",
    ]


def test_post_purchase_days_3_7_14_21_28_then_four_routine_contacts_a_month():
    d = dues("post_purchase", date(2023, 1, 31))
    assert [
        d[k][1]
        for k in ("day3_thanks", "day7_visit", "day14_visit", "day21_review", "day28_effects")
    ] == ["2023-02-03", "2023-02-07", "2023-02-14", "2023-02-21", "2023-02-28"]
    routine = [k for k in d if k.startswith("routine_")]
    assert routine[:4] == ["routine_01_1", "routine_01_2", "routine_01_3", "routine_01_4"]
    assert d["routine_01_4"][1] == "2023-03-28"  # a month after day 28
    # Six months of plan: the tail stops at the plan's end (31 Jul 2023).
    assert max(due for _, due in d.values()) <= "2023-07-31"
    assert len(routine) == 20


def test_333_calls_at_3_days_3_weeks_and_3_months_in_a_leap_year():
    d = dues("follow_up_333", date(2024, 2, 29))
    assert d["day3_call"][1] == "2024-03-03"
    assert d["week3_call"][1] == "2024-03-21"
    assert d["month3_call"] == ("2024-05-26", "2024-05-29")  # opens three days early


def test_hypertension_monthly_steps_clamp_from_a_31_january_start():
    d = dues("hypertension", date(2024, 1, 31))
    assert d["start_guidance"][1] == "2024-02-03"
    assert d["month1_diet"][1] == "2024-02-29"
    assert d["month2_exercise"][1] == "2024-03-31"
    assert d["month3_review"][1] == "2024-04-30"
    assert [d[k][1] for k in d if k.startswith("monthly_")] == [
        "2024-05-30",
        "2024-06-30",
        "2024-07-30",
    ]


def test_diabetes_hba1c_at_months_3_and_6():
    d = dues("diabetes_t2", date(2023, 8, 31))
    assert d["month3_hba1c"] == ("2023-11-25", "2023-11-30")
    assert d["month6_hba1c"] == ("2024-02-24", "2024-02-29")  # leap February


def test_a_step_is_due_then_overdue_after_grace_then_missed_after_expiry():
    step = plan_schedule(shipped("osteoporosis"), date(2024, 3, 4))[1]  # week 2, grace 2
    d = step.dates
    assert (d.due_on, d.overdue_on, d.missed_on) == (
        date(2024, 3, 17),
        date(2024, 3, 20),
        date(2024, 4, 1),
    )

    def on(day: date) -> CheckpointStatus:
        return checkpoint_status(
            CheckpointState.pending, d.open_on, d.overdue_on, d.missed_on, False, day
        )

    assert on(date(2024, 3, 10)) is CheckpointStatus.upcoming
    assert on(date(2024, 3, 11)) is CheckpointStatus.due
    assert on(date(2024, 3, 19)) is CheckpointStatus.due  # within the grace days
    assert on(date(2024, 3, 20)) is CheckpointStatus.overdue  # the moment the date passes
    assert on(date(2024, 3, 31)) is CheckpointStatus.overdue
    assert on(date(2024, 4, 1)) is CheckpointStatus.missed


def test_recorded_states_win_over_dates():
    args = (date(2024, 1, 1), date(2024, 1, 5), date(2024, 1, 10))
    late = checkpoint_status(CheckpointState.done, *args, True, date(2025, 1, 1))
    assert late is CheckpointStatus.done_late
    assert (
        checkpoint_status(CheckpointState.paused, *args, False, date(2025, 1, 1))
        is CheckpointStatus.paused
    )
