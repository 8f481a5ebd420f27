"""The worklist through the ASGI app, on both databases: due and overdue steps with their
counts, and the week's birthdays and festivals."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from tests.factories import (
    TravelClock,
    World,
    enrolled,
    make_member,
    sign_in_page,
    steps_by_status,
)


def test_the_worklist_shows_due_and_overdue_steps_with_counts(
    client: TestClient, world: World, clock: TravelClock
):
    old = enrolled(world, clock, start=date(2024, 2, 5), name="李桂兰")
    new = enrolled(world, clock, start=date(2024, 3, 4), name="张建国")
    enrolled(world, clock, start=date(2024, 3, 4), owner=world.clerk_a2, name="别人的")
    by_old = steps_by_status(world, old, clock.today)
    by_new = steps_by_status(world, new, clock.today)
    # The counts are calls: members with a step in the tab (issue 21: one row per member).
    due = sum(1 for by in (by_old, by_new) if by.get("due"))
    overdue = sum(1 for by in (by_old, by_new) if by.get("overdue"))
    assert due >= 1 and overdue >= 1
    sign_in_page(client, "clerk.a")
    page = client.get("/").text
    assert f'id="count-due">{due}<' in page
    assert f'id="count-overdue">{overdue}<' in page
    assert "张建国" in page and "别人的" not in page
    assert "11:00–12:00" in page  # best call hours
    page = client.get("/?tab=overdue").text
    oldest = min(cp.due_on for cp in by_old["overdue"])
    days = (clock.today - oldest).days
    assert f"已逾期 {days} 天" in page
    assert "李桂兰" in page
    filtered = client.get("/?tab=overdue&protocol=hypertension").text
    assert "李桂兰" not in filtered


def test_birthdays_and_festivals_this_week_are_greeting_tasks(
    client: TestClient, world: World, clock: TravelClock
):
    member = make_member(world, name="周凤英")
    member.birthday = date(1950, 3, 9)
    world.session.commit()
    clock.now = clock.now.replace(month=9, day=14)  # 中秋 2024 is 17 September
    sign_in_page(client, "clerk.a")
    page = client.get("/").text
    assert 'id="count-occasions">1<' in page
    page = client.get("/?tab=occasions").text
    assert "中秋节" in page
    assert "周凤英" not in page  # her birthday is in March
    clock.now = clock.now.replace(month=3, day=6)
    page = client.get("/?tab=occasions").text
    assert "周凤英" in page and "满 74 岁" in page
