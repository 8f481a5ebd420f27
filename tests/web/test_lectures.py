"""The lecture pages: scheduling (bad input named, nothing written), registering past
capacity, the sign-in sheet read back from its PDF, and the calendar file."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from careplan.models import Lecture, LectureSeat
from careplan.vocab import SeatStatus
from tests.factories import TravelClock, World, make_member, sign_in_page
from tests.pdf import flat, text

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


def test_the_form_asks_for_names_not_keys_and_english_is_optional(
    client: TestClient, world: World
) -> None:
    token = sign_in_page(client, "manager.a")
    page = client.get("/lectures").text
    assert "fall_prevention" not in page.replace('value="fall_prevention"', "")  # no key shown
    assert "防跌倒指导" in page and "骨质疏松" in page  # the topic and condition by name
    assert 'name="title_en" maxlength="160" value=""' in page  # not required
    r = schedule(client, world, token, title_en="", conditions="M81")
    assert r.status_code == 303
    shown = client.get(r.headers["location"]).text
    assert "防跌倒健康讲座" in shown and "防跌倒健康讲座 /" not in shown
    assert "面向患有以下病种的会员" in shown and "骨质疏松" in shown


def test_a_topic_no_protocol_names_is_refused_naming_the_field(
    client: TestClient, world: World
) -> None:
    token = sign_in_page(client, "manager.a")
    r = schedule(client, world, token, topic="made_up")
    assert r.status_code == 422
    assert "主题：请从列表中选择讲座主题" in r.text
    r = schedule(client, world, token, title_zh="")
    assert "标题（中文）：请填写讲座的中文标题" in r.text
    assert world.session.scalar(select(func.count()).select_from(Lecture)) == 0


def test_the_waitlisted_are_told_their_place_check_in_on_the_day_then_held(
    client: TestClient, world: World, clock: TravelClock
) -> None:
    seated, waiting = make_member(world, name="赵一"), make_member(world, name="钱二")
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    url = schedule(client, world, token).headers["location"]  # type: ignore[attr-defined]
    client.post(f"{url}/register", data={"csrf_token": token, "member_id": seated.id})
    r = client.post(f"{url}/register", data={"csrf_token": token, "member_id": waiting.id})
    told = client.get(r.headers["location"]).text
    assert "讲座已满：会员正在候补，排第 1 位" in told and "已报名：" not in told
    assert "候补中，排第 1 位" in told
    assert "签到：赵一" not in told  # not the lecture's day: no check-in offered
    member_page = client.get(f"/members/{waiting.id}").text
    assert "候补中，排第 1 位" in member_page

    clock.advance(days=14, hours=5)  # 2024-03-20 15:00 in Shanghai, during the lecture
    token = sign_in_page(client, "manager.a")  # a fortnight later: a new day's sign-in
    on_the_day = client.get(url).text
    assert "今天举办" in on_the_day and "签到：赵一" in on_the_day
    seat_id = world.session.scalar(select(LectureSeat.id).where(LectureSeat.member_id == seated.id))
    r = client.post(f"{url}/seats/{seat_id}/check-in", data={"csrf_token": token})
    assert r.status_code == 303

    clock.advance(days=1)  # the next day: held, with its attendance; no check-in
    token = sign_in_page(client, "manager.a")
    held = client.get(url).text
    assert "已举办 · 出席 1 人（报名 1 人）" in held and "已安排" not in held
    assert "签到：" not in held and "取消报名" not in held
    assert "已举办 · 出席 1 人（报名 1 人）" in client.get("/lectures").text


def test_inviting_says_what_was_recorded_in_an_invitations_words_and_keeps_the_filters(
    client: TestClient, world: World
) -> None:
    old, older, young = (make_member(world, name=n) for n in ("孙老", "周老", "吴少"))
    for m, born in ((old, 1950), (older, 1945), (young, 1990)):
        m.chronic_conditions, m.birthday = ["骨质疏松"], date(born, 5, 1)
    world.session.commit()
    token = sign_in_page(client, "manager.a")
    lecture = schedule(client, world, token, protocols="")  # for anyone with the condition
    url = lecture.headers["location"]  # type: ignore[attr-defined]
    first = client.get(f"{url}/invite").text  # the lecture's condition, ticked by name
    assert 'value="M81" checked> 骨质疏松' in first and "吴少" in first
    filters = "filtered=1&conditions=M81&min_age=60"
    listed = client.get(f"{url}/invite?{filters}").text
    assert "孙老" in listed and "吴少" not in listed

    form = {"csrf_token": token, "query": filters, "member_id": [old.id, older.id]}
    refused = client.post(f"{url}/invite", data=form)  # no channel picked: none assumed
    assert refused.status_code == 422
    assert "邀请方式：请从列表中选择" in refused.text and "吴少" not in refused.text
    r = client.post(f"{url}/invite", data=form | {"channel": "message"})
    assert r.status_code == 303
    location = r.headers["location"]
    assert "conditions=M81" in location and "min_age=60" in location
    page = client.get(location).text
    assert "已记录：邀请了 2 位会员（短信/微信邀请）。" in page
    assert "吴少" not in page and 'value="60"' in page  # the same list, filters kept
    assert "短信/微信邀请 · " in page and "电话回访" not in page
    assert "未报名的会员 2 位：待邀请 0 位，已邀请 2 位" in page  # the invited are not "to invite"
    r = client.post(f"{url}/invite", data=form | {"channel": "phone"})
    again = client.get(r.headers["location"]).text
    assert "已记录：邀请了 0 位会员（电话邀请）。其中 2 位此前已邀请过" in again


def test_a_clerk_of_another_store_does_not_see_the_lecture(
    client: TestClient, world: World
) -> None:
    token = sign_in_page(client, "manager.a")
    url = schedule(client, world, token).headers["location"]  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in_page(client, "clerk.b")
    assert client.get(url).status_code == 404
