"""Proportion of Days Covered (PDC), as the Pharmacy Quality Alliance defines it, from
the fills (purchases) of one drug class. Pure date arithmetic: no database here.

The rules (worked through in docs/pdc.md):
- The measured period starts at the index date, the first fill inside the period, and
  ends at the period's last day; fills before the period are not counted.
- Each day counts once: a fill bought while earlier supply lasts starts the day after
  that supply ends (it is "shifted forward").
- Supply reaching past the period's end is cut off there.
- PDC = days covered / days from the index date to the end, both inclusive; a member is
  adherent at PDC >= 80%. PQA counts a member in its measure only with at least two fills
  on different dates (`eligible`); one fill still gets a PDC here, flagged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

ADHERENT_PERCENT = 80
ADHERENT = ADHERENT_PERCENT / 100
DAY = timedelta(days=1)


@dataclass(frozen=True, order=True)
class Fill:
    on: date
    days_supply: int


@dataclass(frozen=True)
class Gap:
    """Days without medicine, first and last inclusive."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Coverage:
    period_start: date
    period_end: date
    index_on: date | None = None  # the first fill in the period
    days_in_period: int = 0  # index date to period end, inclusive
    covered_days: int = 0
    fills: int = 0
    gaps: list[Gap] = field(default_factory=list)
    runs_out_on: date | None = None  # first day without medicine after the period's fills

    @property
    def pdc(self) -> float | None:
        return self.covered_days / self.days_in_period if self.days_in_period else None

    @property
    def adherent(self) -> bool | None:
        return None if self.pdc is None else is_adherent(self.pdc)

    @property
    def eligible(self) -> bool:
        """PQA's denominator: at least two fills on different dates in the period."""
        return self.fills >= 2


def _segments(fills: Iterable[Fill]) -> list[tuple[date, date]]:
    """Each fill's covered days after shifting: (first, last), in order, no overlaps."""
    segments: list[tuple[date, date]] = []
    supplied_until: date | None = None  # last day covered so far
    for fill in sorted(fills):
        if fill.days_supply <= 0:
            continue
        first = fill.on if supplied_until is None else max(fill.on, supplied_until + DAY)
        last = first + (fill.days_supply - 1) * DAY
        segments.append((first, last))
        supplied_until = last
    return segments


def coverage(fills: Iterable[Fill], start: date, end: date) -> Coverage:
    """PDC, gaps and run-out date of one drug class over [start, end]."""
    if end < start:
        raise ValueError("the period ends before it starts")
    in_period = [f for f in fills if start <= f.on <= end and f.days_supply > 0]
    if not in_period:
        return Coverage(period_start=start, period_end=end)
    segments = _segments(in_period)
    index_on = segments[0][0]
    covered, gaps = 0, []
    expected = index_on  # the next day that should be covered
    for first, last in segments:
        if first > end:
            break
        if first > expected:
            gaps.append(Gap(expected, first - DAY))
        covered += (min(last, end) - first).days + 1
        expected = last + DAY
    if expected <= end:
        gaps.append(Gap(expected, end))
    return Coverage(
        period_start=start,
        period_end=end,
        index_on=index_on,
        days_in_period=(end - index_on).days + 1,
        covered_days=covered,
        fills=len({f.on for f in in_period}),
        gaps=gaps,
        runs_out_on=segments[-1][1] + DAY,
    )


def runs_out_on(fills: Iterable[Fill]) -> date | None:
    """The first day without medicine, counting every fill ever (shifted as above)."""
    segments = _segments(fills)
    return segments[-1][1] + DAY if segments else None


def is_adherent(pdc: float) -> bool:
    """The member took enough: PDC at or above the threshold (PQA's 80%)."""
    return pdc >= ADHERENT
