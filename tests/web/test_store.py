"""The store manager's staff page: each person's load, hand-overs and holiday cover."""

from __future__ import annotations

import re
from datetime import date

from fastapi.testclient import TestClient

from careplan.checkpoints import CheckpointFilter, count_checkpoints
from careplan.vocab import CheckpointStatus
from tests.conftest import World, enrolled_steps, make_member
from tests.web.conftest import TravelClock, sign_in_page


def staff_row(page: str, name: str) -> list[str]:
    """The cells of one person's row of the staff table, as text."""
    row = next(r for r in page.split("<tr>") if f">{name}</a>" in r)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in row.split("</td>")[:-1]]


def test_the_staff_page_shows_each_persons_open_and_overdue_steps(
    client: TestClient, world: World, clock: TravelClock
):
    world.clerk_a.name, world.clerk_a2.name = "李娜", "王芳"
    behind = make_member(world, owner=world.clerk_a)
    enrolled_steps(world, behind, start=date(2024, 2, 1), assignee=world.clerk_a)
    world.session.commit()
    actor = world.actor(world.manager_a)

    def count(status: CheckpointStatus) -> int:
        f = CheckpointFilter(status=status, staff_id=world.clerk_a.id)
        return count_checkpoints(world.session, actor, f, today=clock.today)

    overdue, due = count(CheckpointStatus.overdue), count(CheckpointStatus.due)
    assert overdue > 0
    sign_in_page(client, "manager.a")
    page = client.get("/store/staff").text
    assert "待办步骤" in page and "已逾期" in page
    # name, role, members, open steps, overdue, status
    assert staff_row(page, "李娜")[2:5] == ["1", str(due + overdue), str(overdue)]
    assert staff_row(page, "王芳")[2:5] == ["0", "0", "0"]
    assert f'href="/?staff={world.clerk_a.id}&amp;tab=overdue"' in page
