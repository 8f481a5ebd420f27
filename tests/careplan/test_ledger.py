"""The change log and the access log are append-only and hash-chained, one chain per
person: verification finds an edited, deleted, moved or forged entry and names its chain
and place, and against heads kept from an earlier run a chain cut short or resealed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from careplan.models import ChangeLog
from careplan.models.change_log import CHANGE_FIELDS
from careplan.trust.ledger import content_hash, link, verify_all
from tests.factories import NOW, World, enrolled_steps, make_member, record_bone_density


def _history(world: World) -> None:
    """A member, a plan and two readings: a few dozen chained entries, in three chains
    (the system's set-up, the clerk who registers and enrols, the pharmacist)."""
    member = make_member(world)
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))
    cp = steps["medication_guidance"]
    record_bone_density(world, cp, world.pharmacist_a, now=NOW, t_score=-2.7)
    world.session.flush()


def _lift_append_only(session: Session) -> None:
    """What someone with the database's owner rights could do; careplan never does."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ALTER TABLE change_log DISABLE TRIGGER USER"))
    else:
        for trigger in ("no_update", "no_delete", "erase_only"):
            session.execute(text(f"DROP TRIGGER change_log_{trigger}"))


def _chains(session: Session) -> dict[int, list[int]]:
    """Each chain's seq numbers, in order."""
    rows = session.execute(select(ChangeLog.chain, ChangeLog.seq).order_by(ChangeLog.id))
    chains: dict[int, list[int]] = {}
    for chain, seq in rows:
        chains.setdefault(chain, []).append(seq)
    return chains


def _entry(session: Session, chain: int, seq: int) -> ChangeLog:
    return session.scalars(
        select(ChangeLog).where(ChangeLog.chain == chain, ChangeLog.seq == seq)
    ).one()


def _before(session: Session, chain: int) -> int:
    """Entries in the chains verify walks before this one."""
    return session.scalar(select(func.count()).where(ChangeLog.chain < chain)) or 0


def _where(chain: int, seq: int) -> ColumnElement[bool]:
    return (ChangeLog.chain == chain) & (ChangeLog.seq == seq)


def test_each_person_has_a_chain_and_the_database_refuses_to_change_an_entry(world: World):
    _history(world)
    clerk, pharmacist = world.clerk_a.id, world.pharmacist_a.id
    changes, accesses = verify_all(world.session)
    chains = _chains(world.session)
    assert changes.broken is None and changes.entries == sum(map(len, chains.values())) > 10
    assert set(chains) == {0, clerk, pharmacist} and changes.chains == 3
    assert all(seqs == list(range(1, len(seqs) + 1)) for seqs in chains.values())
    actors = world.session.execute(select(ChangeLog.chain, ChangeLog.actor_id).distinct()).all()
    assert set(actors) == {(0, None), (clerk, clerk), (pharmacist, pharmacist)}
    assert accesses.broken is None
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(update(ChangeLog).where(_where(clerk, 3)).values(via="x"))
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(update(ChangeLog).where(_where(clerk, 3)).values(chain=pharmacist))
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(ChangeLog.__table__.delete().where(_where(clerk, 3)))


def test_an_edited_entry_is_found_at_its_place_in_its_chain(world: World):
    _history(world)
    _lift_append_only(world.session)
    clerk = world.clerk_a.id
    entry = _entry(world.session, clerk, 7)
    forged = dict(entry.changes) | {"forged": [None, True]}
    world.session.execute(update(ChangeLog).where(_where(clerk, 7)).values(changes=forged))
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None
    assert (changes.broken.chain, changes.broken.seq, changes.broken.entry_id) == (
        clerk,
        7,
        entry.id,
    )
    assert "edited" in changes.broken.reason
    assert changes.entries == _before(world.session, clerk) + 6  # the six before it hold


def test_a_deleted_entry_is_found_where_the_gap_is(world: World):
    _history(world)
    _lift_append_only(world.session)
    clerk = world.clerk_a.id
    gone = (ChangeLog.chain == clerk) & ChangeLog.seq.in_((5, 6))
    world.session.execute(ChangeLog.__table__.delete().where(gone))
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None and (changes.broken.chain, changes.broken.seq) == (clerk, 7)
    assert "missing (seq 5–6)" in changes.broken.reason


def test_a_resealed_forgery_still_breaks_the_link_to_the_next_entry(world: World):
    """Rewriting an entry with a fresh content hash and seal cannot be hidden without
    resealing every entry after it in its chain."""
    _history(world)
    _lift_append_only(world.session)
    clerk = world.clerk_a.id
    entry = _entry(world.session, clerk, 4)
    content = content_hash(
        {name: getattr(entry, name) for name in CHANGE_FIELDS} | {"via": "forged"}
    )
    world.session.execute(
        update(ChangeLog)
        .where(_where(clerk, 4))
        .values(via="forged", content_hash=content, hash=link(entry.prev_hash, content))
    )
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None and (changes.broken.chain, changes.broken.seq) == (clerk, 5)
    assert "before it was changed" in changes.broken.reason
    assert len(_chains(world.session)[clerk]) > 5


def test_an_entry_moved_into_another_chain_or_reordered_breaks_the_chain(world: World):
    _history(world)
    _lift_append_only(world.session)
    clerk, pharmacist = world.clerk_a.id, world.pharmacist_a.id
    tail = len(_chains(world.session)[clerk])
    # The pharmacist's first entry put after the clerk's newest: a gap in one chain, a
    # link to nothing in the other; the clerk's chain is walked first.
    moved = _entry(world.session, pharmacist, 1)
    world.session.execute(
        update(ChangeLog).where(ChangeLog.id == moved.id).values(chain=clerk, seq=tail + 1)
    )
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None
    assert (changes.broken.chain, changes.broken.seq, changes.broken.entry_id) == (
        clerk,
        tail + 1,
        moved.id,
    )
    assert "the entry before it was changed or replaced" in changes.broken.reason
    world.session.execute(
        update(ChangeLog).where(ChangeLog.id == moved.id).values(chain=pharmacist, seq=1)
    )
    # The clerk's entries 3 and 4 swapped.
    third, fourth = _entry(world.session, clerk, 3).id, _entry(world.session, clerk, 4).id
    for entry_id, seq in ((third, -1), (fourth, 3), (third, 4)):
        world.session.execute(update(ChangeLog).where(ChangeLog.id == entry_id).values(seq=seq))
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None and (changes.broken.chain, changes.broken.seq) == (clerk, 3)
    assert changes.broken.entry_id == fourth


def test_a_chain_cut_short_gone_or_resealed_at_its_tail_is_found_against_its_kept_heads(
    world: World,
):
    """The log alone cannot show its newest entries removed: the heads an earlier run
    kept can."""
    _history(world)
    _lift_append_only(world.session)
    clerk, pharmacist = world.clerk_a.id, world.pharmacist_a.id
    kept = {report.table: list(report.heads.values()) for report in verify_all(world.session)}
    tail = len(_chains(world.session)[clerk])
    delete = ChangeLog.__table__.delete()

    world.session.execute(delete.where(ChangeLog.chain == pharmacist))
    assert verify_all(world.session)[0].broken is None  # a whole chain gone: unseen alone
    (changes, _) = verify_all(world.session, kept)
    assert changes.broken is not None and changes.broken.chain == pharmacist
    assert (
        changes.broken.entry_id is None and "kept head are missing (seq 1–" in changes.broken.reason
    )

    world.session.execute(delete.where((ChangeLog.chain == clerk) & (ChangeLog.seq >= tail - 1)))
    assert verify_all(world.session)[0].broken is None  # the newest two gone: unseen alone
    (changes, _) = verify_all(world.session, kept)
    assert changes.broken is not None and (changes.broken.chain, changes.broken.seq) == (
        clerk,
        tail,
    )
    assert f"kept head are missing (seq {tail - 1}–{tail})" in changes.broken.reason


def test_a_resealed_newest_entry_is_found_against_its_kept_head(world: World):
    """Nothing follows a chain's newest entry to break: a forgery resealed there holds
    by itself, not against the head kept for it."""
    _history(world)
    kept = {report.table: list(report.heads.values()) for report in verify_all(world.session)}
    _lift_append_only(world.session)
    clerk = world.clerk_a.id
    newest = _entry(world.session, clerk, len(_chains(world.session)[clerk]))
    content = content_hash({name: getattr(newest, name) for name in CHANGE_FIELDS} | {"via": "x"})
    world.session.execute(
        update(ChangeLog)
        .where(ChangeLog.id == newest.id)
        .values(via="x", content_hash=content, hash=link(newest.prev_hash, content))
    )
    assert verify_all(world.session)[0].broken is None
    (changes, _) = verify_all(world.session, kept)
    assert changes.broken is not None
    assert (changes.broken.chain, changes.broken.seq, changes.broken.entry_id) == (
        clerk,
        newest.seq,
        newest.id,
    )
    assert "no longer carries its kept head" in changes.broken.reason
