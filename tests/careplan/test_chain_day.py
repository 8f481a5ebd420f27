"""'Today' is the chain's day (careplan.clock), never the server's or UTC's (issue 21)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from careplan.members.archive import MemberCreate, create_member
from tests.factories import World


def test_a_member_registered_before_8_in_shanghai_is_verified_on_the_chains_day(world: World):
    early = datetime(2024, 3, 1, 23, 30, tzinfo=UTC)  # 07:30 on 2 March in Shanghai
    member = create_member(
        world.session, world.actor(world.clerk_a),
        MemberCreate(card_number="TZ0730", name="早到的"), now=early,
    )  # fmt: skip
    assert member.last_verified_on == date(2024, 3, 2)
