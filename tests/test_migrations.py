"""One Alembic history: up, down and up again on both databases, with no drift."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from careplan import migrate
from careplan.db import make_engine
from careplan.models import Base
from tests.databases import drop_database, new_database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migrations_go_up_down_and_up_with_no_drift_from_the_models(kind, tmp_path):
    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        migrate.check(url)  # raises if the models and migrations disagree
        engine = make_engine(url)
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
        migrate.downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        assert "checkpoints" in inspect(engine).get_table_names()
        engine.dispose()
    finally:
        drop_database(token)


def _before_the_split() -> str:
    """The revision before the logs split into a chain per person."""
    from alembic.script import ScriptDirectory

    split = ScriptDirectory.from_config(migrate.alembic_config()).get_revision("d7a4c1e9b201")
    assert split is not None and isinstance(split.down_revision, str)
    return split.down_revision


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_change_log_entries_from_before_the_chain_are_sealed_in_order(kind, tmp_path):
    """Sealed in order as one chain; when the logs split into a chain per person they
    become the system's chain with their seals untouched, and it goes on after them."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.models import ChangeLog, Store
    from careplan.models.base import JsonType, UTCDateTime
    from careplan.staff import StaffIn, create_staff
    from careplan.trust.change_log import log_action
    from careplan.trust.ledger import verify_all
    from careplan.vocab import Role

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url, "67476c1901db")  # the last revision without chains
        engine = make_engine(url)
        log = sa.table(
            "change_log", sa.column("at", UTCDateTime()), sa.column("actor_id"),
            sa.column("via"), sa.column("entity"), sa.column("entity_id"),
            sa.column("action"), sa.column("changes", JsonType),
        )  # fmt: skip
        with engine.begin() as conn:
            conn.execute(
                log.insert(),
                [
                    {"at": datetime(2024, 3, 1, 2, i, 30, 123456, tzinfo=UTC), "actor_id": None,
                     "via": "cli", "entity": "member", "entity_id": i, "action": "create",
                     "changes": {"name": [None, f"会员{i}"], "allergies": [None, ["青霉素"]]}}
                    for i in range(3)
                ],
            )  # fmt: skip
        seals = sa.text("SELECT id, seq, prev_hash, hash FROM change_log ORDER BY id")
        migrate.upgrade(url, _before_the_split())
        with engine.connect() as conn:
            one_chain = conn.execute(seals).all()
        migrate.upgrade(url)
        with engine.connect() as conn:
            assert conn.execute(seals).all() == one_chain
        with make_session_factory(engine)() as session:
            changes, accesses = verify_all(session)
            assert (changes.broken, changes.entries, changes.chains) == (None, 3, 1)
            assert (accesses.broken, accesses.entries) == (None, 0)
            session.info["actor"] = Actor.system("test")
            session.add(Store(code="M001", name="迁移店", region="华东"))
            session.flush()
            staff = create_staff(session, StaffIn(
                username="m.clerk", name="迁移", role=Role.clerk, store_code="M001",
                password="a-long-enough-password"))  # fmt: skip
            session.info["actor"] = Actor.of(staff, via="test")
            log_action(session, "member", 1, "update", {"name": ["会员1", "会员一"]})
            session.commit()
            chained = session.execute(
                sa.select(ChangeLog.chain, ChangeLog.seq).where(ChangeLog.id > one_chain[-1].id)
            ).all()
            assert (0, 4) in chained and chained[-1] == (staff.id, 1)
            assert [r.broken for r in verify_all(session)] == [None, None]
        engine.dispose()
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_going_back_to_one_chain_refuses_a_log_whose_chains_do_not_hold(kind, tmp_path):
    """Going down seals every entry again as one chain: over a gap it would hide it."""
    import sqlalchemy as sa

    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.trust.change_log import log_action

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            session.info["actor"] = Actor.system("test")
            for n in range(3):
                log_action(session, "member", n, "update", {"name": ["甲", "乙"]})
            session.commit()
        with engine.begin() as conn:  # someone with the owner's rights
            if kind == "postgresql":
                conn.execute(sa.text("ALTER TABLE change_log DISABLE TRIGGER USER"))
            else:
                conn.execute(sa.text("DROP TRIGGER change_log_no_delete"))
            conn.execute(sa.text("DELETE FROM change_log WHERE seq = 2"))
        engine.dispose()
        with pytest.raises(RuntimeError, match="chain 0 breaks at seq 3"):
            migrate.downgrade(url, _before_the_split())
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_open_duplicate_escalations_are_merged_before_one_per_reason_is_enforced(kind, tmp_path):
    from datetime import UTC, date, datetime

    import sqlalchemy as sa

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url, "153fe634ff79")  # before one open escalation per reason
        engine = make_engine(url)
        at = [datetime(2024, 3, d, 2, tzinfo=UTC) for d in (1, 2, 3, 4)]
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO stores (id, code, name, region, address, phone, created_at, "
                    "updated_at) VALUES (1, 'A001', '徐汇店', '华东', '', '', :t, :t)"
                ),
                {"t": at[0]},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO staff (id, username, name, phone, role, store_id, active, "
                    "language, password_hash, created_at, updated_at) VALUES (1, 'c', '李', '', "
                    "'clerk', 1, true, 'zh', '', :t, :t)"
                ),
                {"t": at[0]},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO members (id, card_number, home_store_id, owner_id, language, "
                    "name, medical_history, drug_allergies, regular_medicines, "
                    "chronic_conditions, hobbies, "
                    "special_dates, health_consent, created_at, updated_at) VALUES (1, 'T1', 1, 1, "
                    "'zh', '王', '[]', '[]', '[]', '[]', '[]', '[]', true, :t, :t)"
                ),
                {"t": at[0]},
            )
            for i, (reason, status) in enumerate(
                [
                    ("side_effects", "open"),
                    ("side_effects", "open"),
                    ("cost", "open"),
                    ("side_effects", "open"),
                ],
                start=1,
            ):
                conn.execute(
                    sa.text(
                        "INSERT INTO escalations (id, member_id, store_id, reason, role, "
                        "action_zh, action_en, due_on, status, raised_by_id, raised_at, "
                        "resolution) VALUES "
                        "(:i, 1, 1, :r, 'pharmacist', '', '', :d, :s, 1, :t, '')"
                    ),
                    {"i": i, "r": reason, "s": status, "d": date(2024, 3, i), "t": at[i - 1]},
                )
        migrate.upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT id, status, reports, resolution FROM escalations ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, "open", 3, ""),
            (2, "resolved", 1, "merged into escalation 1"),
            (3, "open", 1, ""),
            (4, "resolved", 1, "merged into escalation 1"),
        ]
        engine.dispose()
    finally:
        drop_database(token)


# The revision the previous release shipped: every migration after it must apply to a
# database a chain has filled (on SQLite a table copy must not trip over the rows that
# refer to it).
RELEASED = "153fe634ff79"


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_new_migrations_go_down_and_up_on_a_filled_database(kind, tmp_path):
    from careplan import clock
    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.demo import chain
    from careplan.models import Checkpoint, Staff
    from careplan.plans import protocols
    from careplan.trust.ledger import verify_all
    from tests.factories import shipped_protocols

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            session.info["actor"] = Actor.system("test")
            protocols.publish(session, shipped_protocols())
            chain.seed(session, today=clock.today(), now=clock.now())
            session.commit()
            steps = session.query(Checkpoint).count()
            assert verify_all(session)[0].chains > 1
        engine.dispose()
        migrate.downgrade(url, RELEASED)
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as session:
            assert session.query(Checkpoint).count() == steps
            assert session.query(Staff).filter_by(must_change_password=False).count() == 10
            # Down, the chains were sealed again as one; up, that one is the system's.
            assert [(r.broken, r.chains) for r in verify_all(session)] == [(None, 1), (None, 0)]
        engine.dispose()
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_old_wrong_number_flags_the_phone_unless_verified_since(kind, tmp_path):
    """Before a8c2e4f6b1d3 a wrong number was an attempt that left the step open; now it
    flags the phone for the next verification. The migration flags the members whose
    latest wrong-number attempt is newer than their archive's last verification."""
    from datetime import UTC, date, datetime, timedelta

    import sqlalchemy as sa

    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.models import ContactAttempt, Member
    from careplan.plans import lifecycle
    from careplan.vocab import AttemptOutcome
    from tests.factories import make_member, make_world

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        at = datetime(2024, 5, 2, 3, 0, tzinfo=UTC)
        with make_session_factory(engine)() as s:
            s.info["actor"] = Actor.system("test")
            world = make_world(s)
            s.info["actor"] = world.actor(world.clerk_a)
            ids = {}
            for name, verified in (("旧错号", date(2024, 5, 1)), ("已核实", date(2024, 5, 3))):
                member = make_member(world, name=name, mobile="13800138000")
                member.last_verified_on = verified
                before = at - timedelta(days=1)
                plan = lifecycle.enroll(s, world.actor(world.clerk_a), member_id=member.id,
                                        protocol_id="osteoporosis", start=date(2024, 4, 29),
                                        today=date(2024, 5, 1), now=before)  # fmt: skip
                cp = lifecycle.checkpoints_of(s, plan)[0]
                s.add(ContactAttempt(checkpoint_id=cp.id, staff_id=world.clerk_a.id,
                                     attempted_at=at, channel="phone",
                                     outcome=AttemptOutcome.wrong_number))  # fmt: skip
                ids[name] = member.id
            clerk = world.clerk_a.id
            s.commit()
        migrate.downgrade(url, "f4c6d8e0a1b3")
        migrate.upgrade(url)
        with make_session_factory(engine)() as s:
            old = s.get_one(Member, ids["旧错号"])
            assert old.phone_flagged_at == at and old.phone_flagged_by_id == clerk
            assert s.get_one(Member, ids["已核实"]).phone_flagged_at is None
            kept = s.scalars(sa.select(ContactAttempt.outcome)).all()
            assert kept == [AttemptOutcome.wrong_number] * 2  # still read as they were
        engine.dispose()
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_last_sign_of_life_is_filled_from_what_was_recorded(kind, tmp_path):
    """f25e6a8c0d14 adds members.last_seen_on and fills it from the purchases, step
    results and contact attempts already there (a call's day in UTC), so the long-
    inactive list is right from the first day."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.models import CheckpointResult, ContactAttempt, Member, Purchase
    from careplan.plans import lifecycle
    from careplan.vocab import AttemptOutcome
    from tests.factories import make_member, make_world

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            s.info["actor"] = Actor.system("test")
            world = make_world(s)
            clerk = world.clerk_a.id
            members = {n: make_member(world, name=n) for n in ("买过", "做过", "打过", "从未")}
            for name in ("做过", "打过"):
                plan = lifecycle.enroll(s, world.actor(world.clerk_a), protocol_id="osteoporosis",
                                        member_id=members[name].id, start=date(2024, 4, 1),
                                        today=date(2024, 4, 1),
                                        now=datetime(2024, 4, 1, tzinfo=UTC))  # fmt: skip
                cp = lifecycle.checkpoints_of(s, plan)[0]
                if name == "做过":
                    s.add(CheckpointResult(checkpoint_id=cp.id, recorded_by_id=clerk,
                                           recorded_at=datetime(2024, 4, 9, tzinfo=UTC),
                                           contacted_on=date(2024, 4, 8), channel="phone",
                                           checklist={}, late=False))  # fmt: skip
                else:  # 23:30 UTC on 4 May: the 4th, as the rule counts a call's day
                    s.add(ContactAttempt(checkpoint_id=cp.id, staff_id=clerk, channel="phone",
                                         attempted_at=datetime(2024, 5, 4, 23, 30, tzinfo=UTC),
                                         outcome=AttemptOutcome.unreachable))  # fmt: skip
            for day in (date(2024, 3, 1), date(2024, 2, 1)):
                s.add(Purchase(member_id=members["买过"].id, store_id=world.store_a.id,
                               product_code="P1", product_name="钙片", quantity=1,
                               purchased_on=day, amount=Decimal("9.90"), recorded_by_id=clerk,
                               recorded_at=datetime(2024, 3, 2, tzinfo=UTC)))  # fmt: skip
            ids = {name: m.id for name, m in members.items()}
            s.commit()
        migrate.downgrade(url, "f25d4b6c8e03")
        migrate.upgrade(url)
        with make_session_factory(engine)() as s:
            seen = {name: s.get_one(Member, i).last_seen_on for name, i in ids.items()}
        assert seen == {"买过": date(2024, 3, 1), "做过": date(2024, 4, 8),
                        "打过": date(2024, 5, 4), "从未": None}  # fmt: skip
        engine.dispose()
    finally:
        drop_database(token)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_member_with_two_live_contact_plans_keeps_the_newest_before_one_is_enforced(
    kind, tmp_path
):
    from careplan.access import Actor
    from careplan.db import make_session_factory
    from careplan.models import CarePlan, Checkpoint
    from careplan.plans import lifecycle
    from careplan.vocab import CheckpointState, PlanStatus
    from tests.factories import NOW, TODAY, make_member, make_world

    url, token = new_database(kind, tmp_path)
    try:
        migrate.upgrade(url, "f25e6a8c0d14")  # before one live contact plan per member
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            s.info["actor"] = Actor.system("test")
            world = make_world(s)
            member = make_member(world)
            clerk = world.actor(world.clerk_a)
            for protocol_id in ("contact_beyond", "contact_two_months"):  # the race's leftover
                lifecycle.enroll(s, clerk, member_id=member.id, protocol_id=protocol_id,
                                 start=TODAY, today=TODAY, now=NOW)  # fmt: skip
            s.commit()
        migrate.upgrade(url)
        with make_session_factory(engine)() as s:
            plans = {p.protocol_id: p for p in s.query(CarePlan).all()}
            assert plans["contact_two_months"].status is PlanStatus.active
            older = plans["contact_beyond"]
            assert older.status is PlanStatus.stopped and older.stopped_on is not None
            states = {cp.state for cp in s.query(Checkpoint).filter_by(plan_id=older.id)}
            assert states == {CheckpointState.cancelled}
        engine.dispose()
    finally:
        drop_database(token)
