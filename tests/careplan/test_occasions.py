"""Greeting occasions: lunar festivals move every year; 29 February still gets a day."""

from __future__ import annotations

from datetime import date, datetime

from careplan.members.archive import completeness
from careplan.members.occasions import anniversary_in, festivals_between, member_occasions
from careplan.members.pinyin import name_initials
from careplan.models import Member
from careplan.plans.worklist import in_best_call_hours
from tests.factories import World, make_member


def test_the_festivals_follow_the_lunar_calendar():
    found = festivals_between(date(2026, 1, 1), date(2026, 12, 31))
    assert [(f.zh, f.on) for f in found] == [
        ("春节", date(2026, 2, 17)),
        ("端午节", date(2026, 6, 19)),
        ("中秋节", date(2026, 9, 25)),
        ("重阳节", date(2026, 10, 18)),
    ]


def test_a_week_across_new_year_finds_next_years_spring_festival():
    assert [f.key for f in festivals_between(date(2025, 1, 25), date(2025, 1, 31))] == [
        "spring_festival"
    ]


def test_a_29_february_birthday_falls_on_the_28th_in_common_years():
    assert anniversary_in(date(1960, 2, 29), date(2026, 2, 25), date(2026, 3, 3)) == date(
        2026, 2, 28
    )
    assert anniversary_in(date(1960, 2, 29), date(2028, 2, 25), date(2028, 3, 3)) == date(
        2028, 2, 29
    )


def test_only_the_owners_members_birthdays_and_anniversaries_this_week(world: World):
    mine = make_member(world, name="甲")
    mine.birthday = date(1950, 3, 3)
    mine.special_dates = [{"kind": "wedding_anniversary", "date": "1975-03-05"}]
    theirs = make_member(world, owner=world.clerk_a2, name="乙")
    theirs.birthday = date(1950, 3, 3)
    world.session.flush()
    actor = world.actor(world.clerk_a)
    found = member_occasions(
        world.session, actor, owner_id=world.clerk_a.id, first=date(2024, 3, 1),
        last=date(2024, 3, 7),
    )  # fmt: skip
    assert [(o.kind, o.member_name, o.age) for o in found] == [
        ("birthday", "甲", 74),
        ("wedding_anniversary", "甲", None),
    ]


def test_best_call_hours_are_11_to_12_and_16_to_17():
    at = [datetime(2024, 3, 1, h, m) for h, m in ((10, 59), (11, 0), (11, 59), (12, 0), (16, 30))]
    assert [in_best_call_hours(t) for t in at] == [False, True, True, False, True]


def test_pinyin_initials_cover_both_readings_of_a_surname():
    assert name_initials("王秀英").split()[0] == "wxy"
    assert set(name_initials("曾国藩").split()) == {"zgf", "cgf"}
    assert name_initials("Li Wei") == "lw"


def test_profile_completeness_counts_the_four_parts():
    empty = Member(name="王", medical_history=[], drug_allergies=[], regular_medicines=[],
                   chronic_conditions=[], hobbies=[])  # fmt: skip
    assert completeness(empty).percent == 0
    assert "drug_allergies" in completeness(empty).missing
    empty.drug_allergies = ["无"]
    empty.mobile = "13800138000"
    assert completeness(empty).percent == round(100 * 2 / 17)
