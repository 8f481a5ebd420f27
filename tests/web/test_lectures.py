"""The lecture pages: scheduling (bad input named, nothing written), registering past
capacity, the sign-in sheet read back from its PDF, and the calendar file."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.models import Lecture, LectureSeat
from careplan.vocab import SeatStatus
from tests.conftest import World, make_member
from tests.pdf import flat, text
from tests.web.conftest import sign_in_page

FORM = {
    "title_zh": "防跌倒健康讲座",
    "title_en": "Fall prevention talk",
    "topic": "fall_prevention",
    "conditions": "osteoporosis",
    "protocols": "osteoporosis",
    "speaker": "李药师",
    "venue": "二楼会议室",
    "capacity": "1",
    "starts_at": "2024-03-20T14:00",
    "ends_at": "2024-03-20T15:30",
    "register_by": "2024-03-19T18:00",
}


def schedule(client: TestClient, world: World, token: str, **changes: str) -> object:
    data = FORM | {"store_id": str(world.store_a.id), "csrf_token": token} | changes
    return client.post("/lectures", data=data)


def test_a_lecture_ending_before_it_starts_is_refused_in_chinese_and_not_saved(
    client: TestClient, world: World
) -> None:
    token = sign_in_page(client, "manager.a")
    r = schedule(client, world, token, ends_at="2024-03-20T13:00")
    assert r.status_code == 422
    assert "结束：须晚于开始时间" in r.text  # the field, then why (said once)
    assert 'value="防跌倒健康讲座"' in r.text  # what was typed is kept
    assert world.session.scalar(select(func.count()).select_from(Lecture)) == 0


def test_schedule_register_past_capacity_sign_in_sheet_and_calendar(
    client: TestClient, world: World
) -> None:
    first, second = make_member(world, name="赵一"), make_member(world, name="钱二")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    r = schedule(client, world, token)
    assert r.status_code == 303
    url = r.headers["location"]
    for member in (first, second):
        r = client.post(f"{url}/register", data={"csrf_token": token, "member_id": member.id})
        assert r.status_code == 303, r.text
    page = client.get(url)
    assert "1 / 1" in page.text and "候补" in page.text
    seats = dict(world.session.execute(select(LectureSeat.member_id, LectureSeat.status)).all())
    assert seats == {first.id: SeatStatus.registered, second.id: SeatStatus.waitlisted}

    pdf = client.get(f"{url}/sign-in.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    sheet = flat(text(pdf.content))
    assert "防跌倒健康讲座" in sheet and "签到表" in sheet
    assert "2024年3月20日14:00–15:30" in sheet  # one day: its date once
    assert "赵一" in sheet and "钱二" not in sheet  # the waitlist has no seat to sign

    ics = client.get(f"{url}/lecture.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    body = ics.text
    assert "DTSTART:20240320T060000Z" in body and "DTEND:20240320T073000Z" in body
    assert "SUMMARY:防跌倒健康讲座 / Fall prevention talk" in body
    assert "STATUS:CONFIRMED" in body


def test_a_clerk_of_another_store_does_not_see_the_lecture(
    client: TestClient, world: World
) -> None:
    token = sign_in_page(client, "manager.a")
    url = schedule(client, world, token).headers["location"]  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in_page(client, "clerk.b")
    assert client.get(url).status_code == 404
