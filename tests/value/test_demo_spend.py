"""The demo chain looks like a real store on /value/spend: members spend different
amounts on different numbers of days over the last year, so the scatter has a dot per
member spread over the quadrants and the tiers A and B are a few big spenders; the same
seed gives the same purchases."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from careplan.access import Actor
from careplan.demo import chain
from careplan.models import Purchase, Staff
from careplan.plans import protocols
from careplan.value import snapshot, tiers
from careplan.vocab import ValuePeriod
from tests.factories import shipped_protocols

TODAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 2, tzinfo=UTC)


def test_the_demo_purchases_come_from_a_seeded_random():
    assert chain.other_lines(random.Random("880001-60"), TODAY) == chain.other_lines(
        random.Random("880001-60"), TODAY
    )
    many = [chain.other_lines(random.Random(f"{card}-70"), TODAY) for card in range(880001, 880049)]
    assert len({len(lines) for lines in many}) > 10  # members differ


def test_the_demo_spend_chart_and_tiers_look_like_a_real_store(
    session: Session, session_factory: sessionmaker[Session]
):
    protocols.publish(session, shipped_protocols())
    chain.seed(session, today=TODAY, now=NOW)
    per_member = session.execute(
        select(
            Purchase.member_id,
            func.count(func.distinct(Purchase.purchased_on)),
            func.sum(Purchase.amount),
        ).group_by(Purchase.member_id)
    ).all()
    days = {d for _, d, _ in per_member}
    spends = sorted(s for _, _, s in per_member)
    assert len(per_member) == 54 and len(days) >= 10  # from one visit to a few dozen
    assert spends[-1] > 20 * spends[0]  # a big spender and a small one
    oldest = session.scalar(select(func.min(Purchase.purchased_on)))
    assert oldest is not None and TODAY - timedelta(days=365) < oldest < TODAY - timedelta(days=200)
    session.commit()

    snapshot.refresh(session_factory, as_of=TODAY, now=NOW)
    manager = session.scalars(select(Staff).where(Staff.username == "xh.manager")).one()
    actor = Actor.of(manager, via="web")
    scope = tiers.resolve_scope(session, actor, "store", manager.store_id, None)
    view = tiers.spend_view(session, actor, scope, ValuePeriod.last_12_months)
    assert view is not None and view.cuts.buyers == 27  # 24 with a plan, 3 who lapsed
    dots = view.chart.dots
    assert len(dots) == 27 and len(set(dots)) >= 22  # one dot per member, few on top of another
    assert all(group.members > 0 for group in view.quadrants), view.quadrants  # each has some
    a, b, c = view.tiers
    assert 1 <= a.members <= 2 and 1 <= b.members <= 6 and c.members >= 16
