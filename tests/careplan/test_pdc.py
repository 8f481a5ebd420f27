"""PDC on hand-worked cases, each checked to the day (docs/pdc.md works the same ones).

The period is the first quarter of 2024 — 91 days, February having 29."""

from __future__ import annotations

from datetime import date

import pytest

from careplan.adherence.pdc import Fill, Gap, coverage, runs_out_on

START, END = date(2024, 1, 1), date(2024, 3, 31)


def d(month: int, day: int) -> date:
    return date(2024, month, day)


def test_fills_back_to_back_leave_only_the_last_day_uncovered() -> None:
    c = coverage([Fill(d(1, 1), 30), Fill(d(1, 31), 30), Fill(d(3, 1), 30)], START, END)
    assert (c.index_on, c.days_in_period, c.covered_days) == (d(1, 1), 91, 90)
    assert c.gaps == [Gap(d(3, 31), d(3, 31))]
    assert c.runs_out_on == d(3, 31)
    assert c.pdc == pytest.approx(90 / 91) and c.adherent


def test_early_refills_are_shifted_to_the_day_after_the_supply_ends() -> None:
    # Bought on Jan 20 and Feb 15 while tablets were left: they start Jan 31 and Mar 1.
    c = coverage([Fill(d(1, 1), 30), Fill(d(1, 20), 30), Fill(d(2, 15), 30)], START, END)
    assert c.covered_days == 90  # not 90 + the 11 + 15 overlapping days counted twice
    assert c.gaps == [Gap(d(3, 31), d(3, 31))]
    assert c.runs_out_on == d(3, 31)


def test_a_gap_between_fills_is_reported_with_its_days() -> None:
    c = coverage([Fill(d(1, 1), 30), Fill(d(2, 15), 30)], START, END)
    assert c.covered_days == 60
    assert c.gaps == [Gap(d(1, 31), d(2, 14)), Gap(d(3, 16), d(3, 31))]
    assert [g.days for g in c.gaps] == [15, 16]
    assert c.pdc == pytest.approx(60 / 91) and c.adherent is False
    assert c.runs_out_on == d(3, 16)


def test_supply_past_the_period_end_is_cut_off_but_the_run_out_date_is_not() -> None:
    c = coverage([Fill(d(1, 1), 90), Fill(d(3, 1), 90)], START, END)
    assert c.covered_days == 91 and c.pdc == 1.0 and c.gaps == []
    assert c.runs_out_on == date(2024, 6, 29)  # shifted to Mar 31, 90 days: Jun 28 the last


def test_a_single_fill_starts_the_period_at_its_date_and_is_not_pqa_eligible() -> None:
    c = coverage([Fill(d(2, 1), 30)], START, END)
    assert (c.index_on, c.days_in_period, c.covered_days) == (d(2, 1), 60, 30)
    assert c.gaps == [Gap(d(3, 2), d(3, 31))]
    assert c.pdc == 0.5 and not c.eligible


def test_fills_before_the_period_do_not_count_and_no_fill_gives_no_pdc() -> None:
    c = coverage([Fill(date(2023, 12, 20), 30), Fill(d(2, 1), 30)], START, END)
    assert c.index_on == d(2, 1) and c.covered_days == 30
    empty = coverage([Fill(date(2023, 12, 20), 30)], START, END)
    assert empty.pdc is None and empty.adherent is None and empty.gaps == []
    assert runs_out_on([Fill(date(2023, 12, 20), 30)]) == date(2024, 1, 19)


def test_a_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="ends before"):
        coverage([], END, START)


def test_the_worked_example_of_docs_pdc_md() -> None:
    c = coverage([Fill(d(1, 1), 30), Fill(d(1, 20), 30), Fill(d(3, 15), 30)], START, END)
    assert (c.covered_days, c.days_in_period) == (77, 91)
    assert c.pdc == pytest.approx(0.846, abs=0.001) and c.adherent
    assert c.gaps == [Gap(d(3, 1), d(3, 14))] and c.gaps[0].days == 14
    assert c.runs_out_on == d(4, 14)
