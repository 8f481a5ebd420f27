"""The admin console's rules, decided in careplan/: who may run accounts, stores and
protocols; one-time passwords; what blocks a move or a close; what is logged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from careplan import stores
from careplan.access import Actor, may_administer
from careplan.errors import Conflict, Forbidden, InvalidInput
from careplan.models import AuthSession, ChangeLog, ProtocolVersion, Staff
from careplan.plans import protocols
from careplan.sessions import open_session, staff_for_token
from careplan.sign_in import verify
from careplan.staff import (
    ONE_TIME_ALPHABET,
    Account,
    change_account,
    choose_password,
    close_account,
    create_account,
    one_time_password,
    reset_password,
)
from careplan.stores import StoreForm
from careplan.vocab import Role
from tests.factories import NOW, ROOT, World, make_member, make_staff


@pytest.fixture
def admin_staff(world: World) -> Staff:
    return make_staff(world.session, username="admin.t", role=Role.admin, store=None)


@pytest.fixture
def admin(world: World, admin_staff: Staff) -> Actor:
    return world.actor(admin_staff)


def test_only_an_admin_administers(world: World, admin: Actor):
    assert may_administer(admin)
    for staff in (world.clerk_a, world.manager_a, world.supervisor):
        assert not may_administer(Actor.of(staff, via="test"))
    with pytest.raises(Forbidden):
        stores.create_store(world.session, world.actor(world.supervisor),
                            StoreForm("S9", "督导开的店", "华东"))  # fmt: skip


def test_one_time_passwords_are_long_unambiguous_and_never_repeat():
    seen = {one_time_password() for _ in range(200)}
    assert len(seen) == 200
    for password in seen:
        assert len(password) == 19 and set(password) <= set(ONE_TIME_ALPHABET + "-")
        assert not set(password) & set("01ilo")


def test_a_store_manager_opens_no_account_at_or_above_their_rank(world: World):
    manager = world.actor(world.manager_a)
    with pytest.raises(Forbidden):
        create_account(world.session, manager,
                       Account("新店长", "store_manager", world.store_a.id, "new.m"))  # fmt: skip
    with pytest.raises(Forbidden):  # nor at another store
        create_account(world.session, manager, Account("新人", "clerk", world.store_b.id, "new.c"))
    staff, password = create_account(
        world.session, manager, Account("新人", "clerk", world.store_a.id, "new.c")
    )
    assert staff.must_change_password and verify(password, staff.password_hash)


def test_usernames_differ_by_more_than_case(world: World, admin: Actor):
    with pytest.raises(Conflict) as refused:
        create_account(world.session, admin, Account("重名", "clerk", world.store_a.id, "Clerk.A"))
    assert refused.value.field == "username" and refused.value.params == {"username": "Clerk.A"}


def test_head_office_roles_need_no_store_and_store_roles_do(world: World, admin: Actor):
    staff, _ = create_account(world.session, admin, Account("督导二", "supervisor", None, "sup2"))
    assert staff.store_id is None
    with pytest.raises(InvalidInput) as refused:
        create_account(world.session, admin, Account("店员", "pharmacist", None, "ph2"))
    assert refused.value.field == "store_id"


def test_members_keep_their_owner_at_their_store(world: World, admin_staff: Staff):
    make_member(world, owner=world.clerk_a)
    admin = world.actor(admin_staff)
    to_b = Account("测试员工", "clerk", world.store_b.id)
    with pytest.raises(Conflict) as refused:
        change_account(world.session, admin, world.clerk_a.id, to_b)
    assert refused.value.field == "store_id" and refused.value.params == {"n": 1}
    with pytest.raises(Conflict) as refused:
        change_account(world.session, admin, world.clerk_a.id,
                       Account("测试员工", "supervisor", None))  # fmt: skip
    assert refused.value.field == "role"
    # A new name, or a role at the same store, moves no member: allowed.
    change_account(world.session, admin, world.clerk_a.id,
                   Account("张丽", "pharmacist", world.store_a.id))  # fmt: skip
    assert world.clerk_a.name == "张丽" and world.clerk_a.role is Role.pharmacist
    with pytest.raises(Conflict):
        close_account(world.session, admin, world.clerk_a.id, now=NOW)
    assert world.clerk_a.active


def test_a_reset_ends_every_session_and_a_close_too(world: World, admin: Actor):
    token = open_session(world.session, world.clerk_a2, kind="web", hours=12, now=NOW)
    password = reset_password(world.session, admin, world.clerk_a2.id, now=NOW)
    assert verify(password, world.clerk_a2.password_hash) and world.clerk_a2.must_change_password
    assert staff_for_token(world.session, token, now=NOW, kind="web") is None
    ended = world.session.scalar(
        select(AuthSession).where(AuthSession.staff_id == world.clerk_a2.id)
    )
    assert ended is not None and ended.ended_by_id == admin.staff_id

    choose_password(world.session, world.clerk_a2.id, "a-password-of-hers", "a-password-of-hers")
    assert not world.clerk_a2.must_change_password
    close_account(world.session, admin, world.clerk_a2.id, now=NOW + timedelta(hours=1))
    assert not world.clerk_a2.active
    with pytest.raises(Conflict):
        reset_password(world.session, admin, world.clerk_a2.id, now=NOW)
    entries = world.session.scalars(
        select(ChangeLog).where(
            ChangeLog.entity == "staff", ChangeLog.entity_id == world.clerk_a2.id
        )
    ).all()
    reset = next(e for e in entries if e.action == "update" and "must_change_password" in e.changes)
    assert reset.actor_id == admin.staff_id and reset.action == "update"
    assert reset.changes["password_hash"] == [None, "(changed)"]  # never the hash


@pytest.mark.parametrize(
    ("password", "repeat", "field"),
    [
        ("short", "short", "new_password"),
        ("long-enough-pass", "other-long-pass", "repeat_password"),
    ],
)
def test_a_chosen_password_is_long_enough_and_typed_twice(
    world: World, password: str, repeat: str, field: str
):
    with pytest.raises(InvalidInput) as refused:
        choose_password(world.session, world.clerk_a.id, password, repeat)
    assert refused.value.field == field


def test_store_codes_are_unique_whatever_their_case(world: World, admin: Actor):
    with pytest.raises(Conflict) as refused:
        stores.create_store(world.session, admin, StoreForm("a001", "又一家", "华东"))
    assert refused.value.field == "store_code"
    store = stores.create_store(world.session, admin, StoreForm("C001", "新店", "华北"))
    stores.update_store(world.session, admin, store.id, StoreForm("c001", "新店", "华北"))
    assert store.code == "c001"  # its own code, in another case, is no clash


def test_an_upload_publishes_once_in_the_change_log_and_only_for_head_office(
    world: World, admin_staff: Staff
):
    text = (ROOT / "protocols" / "hypertension.yaml").read_text(encoding="utf-8")
    v9 = text.replace("version: 2", "version: 9").encode()
    with pytest.raises(Forbidden):
        protocols.publish_upload(world.session, world.actor(world.manager_a), v9, "h.yaml")
    admin = world.actor(admin_staff)
    loaded = protocols.publish_upload(world.session, admin, v9, "h.yaml")
    assert loaded.ref == "hypertension v9"
    row = world.session.scalar(
        select(ProtocolVersion).where(
            ProtocolVersion.protocol_id == "hypertension", ProtocolVersion.version == 9
        )
    )
    assert row is not None
    protocols.publish_upload(world.session, admin, v9, "h.yaml")  # the same again: no-op
    logged = world.session.scalars(
        select(ChangeLog).where(
            ChangeLog.entity == "protocol_version", ChangeLog.entity_id == row.id
        )
    ).all()
    assert [(e.action, e.actor_id) for e in logged] == [("publish", admin.staff_id)]
    with pytest.raises(protocols.ProtocolFileError) as refused:
        protocols.check_upload(world.session, b"\xff\xfe not text", "x.yaml")
    assert str(refused.value.issues[0]).startswith("x.yaml:1: cannot read file:")
