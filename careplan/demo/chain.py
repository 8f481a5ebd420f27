"""A small demo chain: 2 stores, a handful of staff, 60 members, 48 with plans at every stage.

Built through the same service functions the API uses, so the demo obeys every rule.
Deterministic for a given seed and 'today'.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor
from careplan.adherence import drug_classes, purchases
from careplan.adherence.drug_classes import MappingIn
from careplan.adherence.purchases import PurchaseIn
from careplan.config import get_settings
from careplan.lectures import lectures
from careplan.members import archive
from careplan.members.archive import Medicine, MemberCreate
from careplan.members.health_records import HealthCheckIn
from careplan.models import CarePlan, Checkpoint, Member, Staff, Store
from careplan.outreach import build, consent, wiring
from careplan.plans import checkpoints, lifecycle
from careplan.plans.checkpoints import ResultIn
from careplan.staff import StaffIn, create_staff
from careplan.value import grades
from careplan.vocab import (
    Adherence,
    Channel,
    CheckpointState,
    MessageChannel,
    Role,
    Sex,
    StopReason,
)

DEMO_PASSWORD = "careplan-demo"
STORES = (
    ("SH001", "益康大药房·徐汇店", "华东", "上海市徐汇区漕溪北路88号", "021-64001234"),
    ("SH002", "益康大药房·浦东店", "华东", "上海市浦东新区张杨路500号", "021-58005678"),
)
STAFF = (
    ("admin", "系统管理员", Role.admin, None),
    ("duzhi", "周督导", Role.supervisor, None),
    ("xh.manager", "王店长", Role.store_manager, "SH001"),
    ("xh.pharmacist", "李药师", Role.pharmacist, "SH001"),
    ("xh.clerk1", "张丽", Role.clerk, "SH001"),
    ("xh.clerk2", "陈静", Role.clerk, "SH001"),
    ("pd.manager", "刘店长", Role.store_manager, "SH002"),
    ("pd.pharmacist", "赵药师", Role.pharmacist, "SH002"),
    ("pd.clerk1", "孙敏", Role.clerk, "SH002"),
    ("pd.clerk2", "吴芳", Role.clerk, "SH002"),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = (
    "秀英",
    "桂兰",
    "建国",
    "淑珍",
    "国强",
    "玉梅",
    "志明",
    "凤英",
    "德华",
    "丽华",
    "建华",
    "美玲",
    "红梅",
    "振国",
    "春花",
)
AREAS = ("漕溪小区", "田林新村", "康健苑", "梅陇三村", "金杨新村", "潍坊小区")
PROTOCOL_MEDICINES = {
    "osteoporosis": (
        "骨质疏松",
        Medicine(name="阿仑膦酸钠片", dose="70mg", schedule="每周一次，晨起空腹"),
    ),
    "hypertension": ("高血压", Medicine(name="氨氯地平片", dose="5mg", schedule="每日一次，早晨")),
    "diabetes_t2": (
        "2型糖尿病",
        Medicine(name="二甲双胍片", dose="0.5g", schedule="每日三次，随餐"),
    ),
    "post_purchase": ("关节炎", Medicine(name="氨糖软骨素", dose="2粒", schedule="每日两次")),
    "follow_up_333": ("高血脂", Medicine(name="阿托伐他汀钙片", dose="20mg", schedule="每晚一次")),
}
ALLERGIES = ((), (), ("青霉素",), ("磺胺类",), ("阿司匹林",))


# What members buy besides their tracked medicine (no drug class): code, name, price range.
OTHER_PRODUCTS = (
    ("OTC-VC", "维生素C片", 18, 35),
    ("OTC-CA", "钙片", 45, 128),
    ("OTC-GM", "感冒灵颗粒", 15, 32),
    ("OTC-KZ", "医用口罩", 10, 25),
    ("HB-GQ", "枸杞", 30, 88),
    ("HB-XYS", "西洋参", 168, 680),
    ("DEV-SZ", "血糖试纸", 88, 160),
    ("DEV-XYJ", "电子血压计", 199, 399),
)
# How often a member comes in a year besides the refills, and how much a basket holds:
# (weight, visits low-high, products low-high). Most come now and then; a few are the
# store's big spenders (the spend tiers' A and the quadrant's top right).
SHOPPERS = (
    (30, (0, 2), (1, 1)),
    (35, (3, 8), (1, 2)),
    (25, (8, 16), (1, 3)),
    (10, (16, 30), (2, 4)),
)


def is_empty(session: Session) -> bool:
    return session.scalar(select(Store.id).limit(1)) is None


def seed(
    session: Session, *, today: date, now: datetime, members_per_clerk: int = 8, rng_seed: int = 7
) -> dict[str, int]:
    rng = random.Random(rng_seed)
    stores = {
        code: Store(code=code, name=n, region=r, address=a, phone=p) for code, n, r, a, p in STORES
    }
    session.add_all(stores.values())
    session.flush()
    staff = {
        u: create_staff(
            session, StaffIn(username=u, name=n, role=role, store_code=code, password=DEMO_PASSWORD)
        )
        for u, n, role, code in STAFF
    }
    owners = [s for s in staff.values() if s.role in (Role.clerk, Role.pharmacist)]
    counts = {"stores": len(stores), "staff": len(staff), "members": 0, "plans": 0}
    _product_classes(session, staff["duzhi"], now)
    card = 880000
    enrolled: list[tuple[Actor, int]] = []
    for owner in owners:
        actor = Actor.of(owner, via="system")
        session.info["actor"] = actor
        for _ in range(members_per_clerk):
            card += 1
            enrolled.append((actor, _member_with_plan(session, actor, rng, card, today, now)))
            counts["members"] += 1
            counts["plans"] += 1
    for owner in owners:  # after the others, so their names and plans stay as they were
        session.info["actor"] = actor = Actor.of(owner, via="system")
        card += 1
        _lapsed_member(session, actor, random.Random(card), card, today, now)
        card += 1
        _new_member(session, actor, random.Random(card), card, now)
        counts["members"] += 2
    # The lecture held three weeks ago comes before the steps are worked, so the steps it
    # fulfilled show as "fulfilled by lecture" rather than as calls.
    counts["lectures"] = _lectures(session, staff["xh.manager"], stores["SH001"], today, now)
    for actor, plan_id in enrolled:
        session.info["actor"] = actor
        _work_past_steps(session, actor, plan_id, rng, today, now)
    counts["messages"] = _messages(session, enrolled, now)
    counts["referrals"] = _relationships(session, staff["xh.manager"], stores["SH001"], now)
    return counts


def _relationships(session: Session, manager: Staff, store: Store, now: datetime) -> int:
    """A spread of relationship grades in 徐汇店: a few members brought friends (60), one
    closes sales for the store (80) and one is devoted (100), as the manager judged; the
    rest stand where their purchases (20) and the lecture (40) put them."""
    actor = Actor.of(manager, via="system")
    session.info["actor"] = actor
    stmt = select(Member).where(Member.home_store_id == store.id).order_by(Member.id)
    members = list(session.scalars(stmt))
    pairs = [(members[1], members[0]), (members[2], members[0]), (members[4], members[3])]
    for member, referrer in pairs:
        archive.refer(session, actor, member, referrer.card_number, now=now)
    grades.set_grade(session, actor, members[3].id, 80, "介绍了两位朋友并成交", now=now)
    grades.set_grade(session, actor, members[5].id, 100, "员工家属，铁杆顾客", now=now)
    return len(pairs)


def _messages(session: Session, enrolled: list[tuple[Actor, int]], now: datetime) -> int:
    """Three members in four agreed to SMS when they joined; today's messages are built
    (they leave when the sending window opens, through the log provider)."""
    for n, (actor, plan_id) in enumerate(enrolled):
        if n % 4:
            session.info["actor"] = actor
            member_id = session.get_one(CarePlan, plan_id).member_id
            consent.grant(session, actor, member_id, MessageChannel.sms, now=now)
    session.info["actor"] = Actor.system("demo")
    return build.build_day(session, wiring.context(get_settings(), now=now)).added


DEMO_CLASSES = {  # the demo's products (P-<protocol>) and the class each belongs to
    "osteoporosis": "bisphosphonates",
    "hypertension": "calcium_channel_blockers",
    "diabetes_t2": "biguanides",
    "post_purchase": "glucosamine",
    "follow_up_333": "statins",
}


def _product_classes(session: Session, supervisor: Staff, now: datetime) -> None:
    actor = Actor.of(supervisor, via="system")
    session.info["actor"] = actor
    for protocol_id, drug_class in DEMO_CLASSES.items():
        name = PROTOCOL_MEDICINES[protocol_id][1].name
        drug_classes.set_class(
            session, actor, MappingIn(f"P-{protocol_id}", name, drug_class), now=now
        )


def _lectures(session: Session, manager: Staff, store: Store, today: date, now: datetime) -> int:
    """A fall-prevention lecture held three weeks ago (attendance figures, and the plan
    steps it fulfilled) and one next week with a waitlist, both at the first store."""
    actor = Actor.of(manager, via="system")
    session.info["actor"] = actor
    local = get_settings().zone
    on_osteoporosis = select(CarePlan.member_id).where(CarePlan.protocol_id == "osteoporosis")
    audience = list(  # members on the osteoporosis plan first: the lecture is for them
        session.scalars(
            select(Member.id)
            .where(Member.home_store_id == store.id)
            .order_by(Member.id.not_in(on_osteoporosis), Member.id)
        )
    )

    def lecture(day: date, capacity: int, scheduled: datetime) -> int:
        starts = datetime(day.year, day.month, day.day, 14, 0, tzinfo=local)
        data = lectures.LectureIn(
            title_zh="骨质疏松与防跌倒健康讲座",
            title_en="Osteoporosis and fall prevention",
            topic="fall_prevention",
            conditions=["骨质疏松"],
            protocols=["osteoporosis"],
            speaker="李药师",
            store_id=store.id,
            venue="门店二楼健康教室",
            starts_at=starts,
            ends_at=starts + timedelta(hours=1, minutes=30),
            capacity=capacity,
            register_by=starts - timedelta(hours=20),
        )
        return lectures.create_lecture(session, actor, data, now=scheduled).id

    past_day = today - timedelta(days=21)
    past = lecture(past_day, 12, now - timedelta(days=30))
    seats = [
        lectures.register(session, actor, past, m, now=now - timedelta(days=28))
        for m in audience[:10]
    ]
    held = datetime(past_day.year, past_day.month, past_day.day, 14, 5, tzinfo=local)
    for seat in seats[:7]:  # three did not come
        lectures.check_in(session, actor, past, seat.id, now=held)
    upcoming = lecture(today + timedelta(days=7), 8, now)
    for m in audience[:10]:  # two more than the seats: a waitlist
        lectures.register(session, actor, upcoming, m, now=now)
    lectures.mark_invited(session, actor, upcoming, audience[10:14], Channel.phone, now=now)
    return 2


def _member_with_plan(
    session: Session,
    actor: Actor,
    rng: random.Random,
    card: int,
    today: date,
    now: datetime,
) -> int:
    protocol_id = rng.choice(list(PROTOCOL_MEDICINES))
    condition, medicine = PROTOCOL_MEDICINES[protocol_id]
    age = rng.randint(52, 84)
    member = archive.create_member(
        session,
        actor,
        MemberCreate(
            card_number=f"M{card}",
            name=rng.choice(SURNAMES) + rng.choice(GIVEN),
            sex=rng.choice([Sex.female, Sex.female, Sex.male]),
            birthday=date(today.year - age, rng.randint(1, 12), rng.randint(1, 28)),
            mobile=f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
            residential_area=rng.choice(AREAS),
            chronic_conditions=[condition],
            drug_allergies=list(rng.choice(ALLERGIES)),
            regular_medicines=[medicine],
            hobbies=[rng.choice(["象棋", "钓鱼", "养花", "太极", "广场舞"])],
            health_consent=True,
        ),
        now=now,
    )
    start = today - timedelta(days=rng.randint(0, 75))
    plan = lifecycle.enroll(
        session,
        actor,
        member_id=member.id,
        protocol_id=protocol_id,
        start=start,
        today=today,
        now=now,
    )
    box = PurchaseIn(
        product_code=f"P-{protocol_id}",
        product_name=medicine.name,
        quantity=1,
        days_supply=30,
        purchased_on=start,
        amount=Decimal("58.00"),
    )
    purchases.record_purchase(session, actor, member.id, box, today=today, now=now)
    refill = start + timedelta(days=30 + rng.choice([-3, 0, 0, 2, 6, 12]))  # some late
    while refill <= today and rng.random() < 0.8:  # most come back for more
        again = box.model_copy(update={"purchased_on": refill})
        purchases.record_purchase(session, actor, member.id, again, today=today, now=now)
        refill += timedelta(days=30 + rng.choice([-3, 0, 0, 2, 6, 12]))
    # Its own generator, so the members, plans and steps stay as they were.
    _other_purchases(session, actor, member.id, random.Random(f"{card}-{age}"), today, now)
    _joined(member, random.Random(f"{card}-joined"), start, now)
    return plan.id


def _joined(member: Member, rng: random.Random, before: date, now: datetime) -> None:
    """Members joined over the last two and a half years (the archive says so, and the
    analysis counts new members per month), each before their plan began; one in five on
    the day it began (the newest of them are welcomed by message)."""
    days = (now.date() - before).days + (0 if rng.random() < 0.2 else rng.randint(1, 900))
    member.created_at = member.updated_at = now - timedelta(days=days, minutes=rng.randint(0, 600))


def _plain_member(
    session: Session, actor: Actor, rng: random.Random, card: int, now: datetime
) -> Member:
    """A member registered with the essentials only: no health data, no plan."""
    return archive.create_member(
        session, actor,
        MemberCreate(card_number=f"M{card}", name=rng.choice(SURNAMES) + rng.choice(GIVEN),
                     sex=rng.choice([Sex.female, Sex.male]),
                     mobile=f"13{rng.randint(0, 9)}{rng.randint(10_000_000, 99_999_999)}",
                     residential_area=rng.choice(AREAS)),
        now=now,
    )  # fmt: skip


def _new_member(
    session: Session, actor: Actor, rng: random.Random, card: int, now: datetime
) -> None:
    """One member per clerk registered in the last three days, no plan yet, who agreed to
    SMS: today's welcome messages are theirs."""
    member = _plain_member(session, actor, rng, card, now)
    member.created_at = member.updated_at = now - timedelta(hours=rng.randint(1, 60))
    consent.grant(session, actor, member.id, MessageChannel.sms, now=now)


def _lapsed_member(
    session: Session, actor: Actor, rng: random.Random, card: int, today: date, now: datetime
) -> None:
    """One member per clerk who came once, long ago, and has not been back or called since:
    the long-inactive list's (长期未消费) to call."""
    member = _plain_member(session, actor, rng, card, now)
    bought = today - timedelta(days=rng.randint(200, 330))  # in the year, quiet for 180 days
    # Gifts bought once (ginseng, a blood-pressure meter for the family): the quadrant of
    # big baskets on few visits, whom a call might bring back.
    code, name, low, high = rng.choice(OTHER_PRODUCTS[-3:])
    price = Decimal(rng.randint(low * 100, high * 100)) / 100
    line = PurchaseIn(product_code=code, product_name=name, quantity=3, purchased_on=bought,
                      amount=price * 3)  # fmt: skip
    purchases.record_purchase(session, actor, member.id, line, today=today, now=now)
    _joined(member, rng, bought, now)


def _other_purchases(
    session: Session, actor: Actor, member_id: int, rng: random.Random, today: date, now: datetime
) -> None:
    lines = other_lines(rng, today)
    if lines:
        purchases.record_purchases(session, actor, member_id, lines, today=today, now=now)


def other_lines(rng: random.Random, today: date) -> list[PurchaseIn]:
    """One member's visits over the last year besides the refills, as varied as a real
    store's: how many, on which days and how much each member spends differ (SHOPPERS)."""
    weights = [w for w, _, _ in SHOPPERS]
    _, (few, many), (least, most) = rng.choices(SHOPPERS, weights=weights)[0]
    days = sorted(
        {today - timedelta(days=rng.randint(0, 364)) for _ in range(rng.randint(few, many))}
    )
    lines = []
    for day in days:
        for code, name, low, high in rng.sample(OTHER_PRODUCTS, rng.randint(least, most)):
            quantity = rng.choice((1, 1, 1, 2, 3))
            price = Decimal(rng.randint(low * 100, high * 100)) / 100
            lines.append(PurchaseIn(product_code=code, product_name=name, quantity=quantity,
                                    purchased_on=day, amount=price * quantity))  # fmt: skip
    return lines


def _work_past_steps(
    session: Session, actor: Actor, plan_id: int, rng: random.Random, today: date, now: datetime
) -> None:
    """Most past steps done (some late), a few left open to show up as overdue."""
    for cp in list(
        session.scalars(
            select(Checkpoint).where(Checkpoint.plan_id == plan_id).order_by(Checkpoint.seq)
        )
    ):
        if cp.state is not CheckpointState.pending or cp.due_on >= today or rng.random() < 0.2:
            continue
        delay = rng.choice([0, 0, 0, 1, 2, 5])
        contacted = min(today, cp.due_on + timedelta(days=delay))
        stopped = rng.random() < 0.05
        step = lifecycle.step_of(lifecycle.protocol_of(cp.plan), cp.key)
        allowed = lifecycle.allowed_channels(lifecycle.protocol_of(cp.plan), step)
        channel = Channel.home_visit if Channel.home_visit in allowed else allowed[0]
        measurements = [_reading(kind, rng, contacted, now) for kind in step.measurements]
        checkpoints.record_result(
            session,
            actor,
            cp.id,
            ResultIn(
                version=cp.version,
                channel=channel,
                adherence=Adherence.stopped
                if stopped
                else rng.choice([Adherence.as_directed] * 4 + [Adherence.missed_doses]),
                stop_reason=StopReason.side_effects if stopped else None,
                checklist={item.key: True for item in step.checklist},
                contacted_on=contacted,
                measurements=measurements,
                notes="会员状态良好" if not stopped else "会员反映胃部不适，已停药",
            ),
            today=today,
            now=now,
        )
        if stopped:
            return


def _reading(kind: str, rng: random.Random, on: date, now: datetime) -> HealthCheckIn:
    values = {
        "blood_pressure": {"systolic": rng.randint(118, 165), "diastolic": rng.randint(70, 98)},
        "fasting_glucose": {"value": round(rng.uniform(5.2, 9.5), 1)},
        "postprandial_glucose": {"value": round(rng.uniform(6.5, 13.0), 1)},
        "hba1c": {"value": round(rng.uniform(5.8, 8.9), 1)},
        "bone_density": {"t_score": round(rng.uniform(-3.4, -1.2), 1)},
        "weight": {"value": round(rng.uniform(48, 82), 1)},
        "heart_rate": {"value": rng.randint(58, 92)},
    }[kind]
    measured = datetime(on.year, on.month, on.day, 2, 30, tzinfo=UTC)  # 10:30 in Shanghai
    return HealthCheckIn(kind=kind, values=values, measured_at=min(measured, now))
