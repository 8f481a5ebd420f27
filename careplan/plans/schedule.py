"""Date rules: when a step opens, is due, turns overdue and is missed.

Small pure functions that take `today` as an argument, so tests can travel in time.
Nothing here is stored as a status: overdue is a comparison of dates made when asked,
so it is right the moment a date passes, with no batch job to wait for.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING

from careplan.vocab import CheckpointState, CheckpointStatus

if TYPE_CHECKING:
    from careplan.plans.protocol_schema import Protocol, Routine, Step, StepCommon, Text


def add_months(start: date, months: int) -> date:
    """Calendar months, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def nominal_due_day(step: Step) -> float:
    """Roughly how many days after the start a step is due; only to check the order."""
    if step.day is not None:
        return step.day
    if step.week is not None:
        return 7 * step.week - 1
    assert step.month is not None
    return step.month * 30.44


@dataclass(frozen=True)
class StepDates:
    open_on: date
    due_on: date
    overdue_on: date  # first day it counts as overdue
    missed_on: date | None  # first day it counts as missed (expired), if it can expire

    def shifted(self, days: int) -> StepDates:
        d = timedelta(days=days)
        return replace(
            self,
            open_on=self.open_on + d,
            due_on=self.due_on + d,
            overdue_on=self.overdue_on + d,
            missed_on=self.missed_on + d if self.missed_on else None,
        )


def grace_of(protocol: Protocol, step: StepCommon) -> int:
    return protocol.defaults.grace_days if step.grace_days is None else step.grace_days


def expiry_of(protocol: Protocol, step: StepCommon) -> int | None:
    return protocol.defaults.expiry_days if step.expiry_days is None else step.expiry_days


def _window(protocol: Protocol, step: StepCommon, open_on: date, due_on: date) -> StepDates:
    grace = grace_of(protocol, step)
    expiry = expiry_of(protocol, step)
    return StepDates(
        open_on=open_on,
        due_on=due_on,
        overdue_on=due_on + timedelta(days=grace + 1),
        # An expiry inside the grace period would make a step missed before it is
        # overdue; the protocol check refuses that, and max() keeps the order anyway.
        missed_on=due_on + timedelta(days=max(expiry, grace) + 1) if expiry is not None else None,
    )


def step_dates(protocol: Protocol, step: Step, start: date) -> StepDates:
    """`week: N` is the plan's Nth week: open from day 7(N-1), due by day 7N-1."""
    if step.week is not None:
        open_on = start + timedelta(days=7 * (step.week - 1))
        due_on = start + timedelta(days=7 * step.week - 1)
    elif step.day is not None:
        due_on = start + timedelta(days=step.day)
        open_on = due_on - timedelta(days=step.opens_days_before)
    else:
        assert step.month is not None
        due_on = add_months(start, step.month)
        open_on = due_on - timedelta(days=step.opens_days_before)
    return _window(protocol, step, open_on, due_on)


@dataclass(frozen=True)
class PlannedStep:
    key: str
    seq: int
    title: Text
    dates: StepDates
    routine: bool = False


def routine_dates(
    protocol: Protocol, routine: Routine, after: date, end: date
) -> list[tuple[str, StepDates]]:
    """The series' contacts after `after` until `end`: `per_month` evenly spaced in each
    month, or one every `every_days` days. Keys are `<key_prefix>_<MM>_<n>`: the month
    after `after` the contact falls in, and its number within that month."""
    if routine.every_days is not None or routine.at_end:
        return _keyed(protocol, routine, after, _series_days(routine, after, end))
    assert routine.per_month is not None
    out: list[tuple[str, StepDates]] = []
    month = 1
    while True:
        period_start = add_months(after, month - 1) + timedelta(days=1)
        period_end = add_months(after, month)
        length = (period_end - period_start).days + 1
        for i in range(routine.per_month):
            due_on = period_start + timedelta(days=round((i + 1) * length / routine.per_month) - 1)
            if due_on > end:
                return out
            key = f"{routine.key_prefix}_{month:02d}_{i + 1}"
            out.append((key, _window(protocol, routine, due_on, due_on)))
        month += 1


def _series_days(routine: Routine, after: date, end: date) -> list[date]:
    """`at_end`: one contact on the plan's last day; else one every `every_days`."""
    if routine.at_end:
        return [end] if end > after else []
    assert routine.every_days is not None
    every = timedelta(days=routine.every_days)
    count = (end - after) // every
    return [after + every * k for k in range(1, count + 1)]


def _keyed(
    protocol: Protocol, routine: Routine, after: date, days: list[date]
) -> list[tuple[str, StepDates]]:
    """Key each day by the month after `after` it falls in and its number there."""
    out: list[tuple[str, StepDates]] = []
    month, number = 1, 0
    for due_on in days:
        while due_on > add_months(after, month):
            month, number = month + 1, 0
        number += 1
        key = f"{routine.key_prefix}_{month:02d}_{number}"
        out.append((key, _window(protocol, routine, due_on, due_on)))
    return out


def plan_schedule(protocol: Protocol, start: date) -> list[PlannedStep]:
    """Every step of a new plan with its dates, fixed steps first, then the routine tail
    (its series merged in date order, calls before visits on the same day)."""
    steps = [
        PlannedStep(s.key, i, s.title, step_dates(protocol, s, start))
        for i, s in enumerate(protocol.checkpoints)
    ]
    end = plan_end(protocol, start)
    if protocol.tails and end is not None:
        after = steps[-1].dates.due_on
        tail = [
            (dates.due_on, n, key, series.title, dates)
            for n, series in enumerate(protocol.tails)
            for key, dates in routine_dates(protocol, series, after, end)
        ]
        tail.sort(key=lambda t: (t[0], t[1]))
        steps += [
            PlannedStep(key, len(steps) + j, title, dates, routine=True)
            for j, (_, _, key, title, dates) in enumerate(tail)
        ]
    return steps


def plan_end(protocol: Protocol, start: date) -> date | None:
    if protocol.duration_months is None:
        return None
    return add_months(start, protocol.duration_months)


def checkpoint_status(
    state: CheckpointState,
    open_on: date,
    overdue_on: date,
    missed_on: date | None,
    late: bool,
    today: date,
    held_until: date | None = None,
) -> CheckpointStatus:
    """`held_until`: the member agreed on a call to come on a day; until that day plus
    the step's grace is over, a step past its own grace is visit_agreed, not overdue.
    A step that expires is missed on its day all the same (an agreed day is before it)."""
    if state is CheckpointState.done:
        return CheckpointStatus.done_late if late else CheckpointStatus.done
    if state is not CheckpointState.pending:
        return CheckpointStatus(state.value)
    if missed_on is not None and today >= missed_on:
        return CheckpointStatus.missed
    if today >= overdue_on:
        if held_until is not None and today < held_until:
            return CheckpointStatus.visit_agreed
        return CheckpointStatus.overdue
    if today >= open_on:
        return CheckpointStatus.due
    return CheckpointStatus.upcoming
