"""A member's last sign of life, kept as purchases, step results and contact attempts are
written (careplan/members/last_seen.py), and the two readings of "long inactive" that
depend on it: the probes of the three records (activity.inactive, any day) and the kept
day read from an index (activity.quiet, today) name the same members."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import or_, select

from careplan.adherence.purchases import PurchaseIn, record_purchase
from careplan.adherence.till_import import import_csv
from careplan.models import Member
from careplan.plans import checkpoints
from careplan.plans.checkpoints import ResultIn
from careplan.plans.outcomes import AttemptIn, record_attempt
from careplan.value import activity
from careplan.vocab import Adherence, Channel
from tests.factories import NOW, World, enrolled_steps, make_member

TODAY = NOW.date()  # 2024-03-01
LONG_AGO = datetime(2022, 1, 1, tzinfo=UTC)
TILL_HEADER = (
    "card_number,product_code,product_name,drug_class,quantity,days_supply,purchased_on,"
    "store_code,amount"
)


def joined(world: World, name: str, when: datetime = LONG_AGO) -> Member:
    member = make_member(world, name=name)
    member.created_at = when
    world.session.flush()
    return member


@pytest.fixture
def chain(world: World) -> dict[str, Member]:
    """Members whose last sign of life came by each of the ways one comes."""
    s, clerk = world.session, world.actor(world.clerk_a)
    m = {name: joined(world, name) for name in
         ("never", "by_hand", "by_till", "step_done", "called", "died")}  # fmt: skip
    m["new"] = joined(world, "new", NOW - timedelta(days=10))
    line = PurchaseIn(product_code="P1", product_name="钙片", quantity=1,
                      purchased_on=date(2023, 5, 1), amount=Decimal("30"))  # fmt: skip
    record_purchase(s, clerk, m["by_hand"].id, line, today=TODAY, now=NOW)
    rows = [f"{m['by_till'].card_number},A70,阿仑膦酸钠片,bisphosphonates,1,28,{day},"
            f"{world.store_a.code},58.00" for day in ("2023-12-01", "2023-08-01")]  # fmt: skip
    import_csv(s, world.actor(world.manager_a), "\n".join([TILL_HEADER, *rows]).encode(),
               file_name="till.csv", today=TODAY, now=NOW)  # fmt: skip
    step = next(iter(enrolled_steps(world, m["step_done"], start=date(2024, 2, 1)).values()))
    done = ResultIn(version=step.version, channel=Channel.phone, adherence=Adherence.as_directed,
                    contacted_on=date(2024, 2, 20))  # fmt: skip
    checkpoints.record_result(s, clerk, step.id, done, today=TODAY, now=NOW)
    call = next(iter(enrolled_steps(world, m["called"], start=date(2024, 2, 1)).values()))
    record_attempt(s, clerk, call.id, AttemptIn(), today=TODAY, now=NOW)
    m["died"].died_on = date(2023, 1, 1)
    s.flush()
    s.expire_all()
    return m


def test_each_record_moves_the_members_last_sign_of_life(world: World, chain):
    seen = {name: world.session.get_one(Member, m.id).last_seen_on for name, m in chain.items()}
    assert seen == {
        "never": None, "by_hand": date(2023, 5, 1),
        "by_till": date(2023, 12, 1),  # the file's latest day, whatever the lines' order
        "step_done": date(2024, 2, 20),  # the day of the contact, not of typing it
        "called": TODAY, "died": None, "new": None,
    }  # fmt: skip


@pytest.mark.parametrize("days", [30, 90, 180, 365, 800])
def test_the_kept_day_and_the_records_name_the_same_inactive_members(
    world: World, chain, days: int
):
    names = {m.id: name for name, m in chain.items()}

    def found(condition) -> set[str]:
        return {names[i] for i in world.session.scalars(select(Member.id).where(condition))}

    probed = found(activity.inactive(TODAY, days))
    assert probed == found(or_(*activity.quiet(TODAY, days)))
    if days == 180:
        assert probed == {"never", "by_hand"}  # the dead and the newly joined are not
    if days == 30:
        assert probed == {"never", "by_hand", "by_till"}
