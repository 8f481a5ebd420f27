"""The change log and the access log are append-only and hash-chained: verification
finds an edited, deleted or forged entry and names it."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from careplan.models import ChangeLog
from careplan.trust.ledger import verify_all
from tests.factories import NOW, World, enrolled_steps, make_member, record_bone_density


def _history(world: World) -> None:
    """A member, a plan and two readings: a few dozen chained entries."""
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


def _seqs(session: Session) -> list[int]:
    return list(session.scalars(select(ChangeLog.seq).order_by(ChangeLog.seq)))


def test_the_chain_verifies_and_the_database_refuses_to_change_an_entry(world: World):
    _history(world)
    changes, accesses = verify_all(world.session)
    assert changes.broken is None and changes.entries == len(_seqs(world.session)) > 10
    assert _seqs(world.session) == list(range(1, changes.entries + 1))
    assert accesses.broken is None
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(update(ChangeLog).where(ChangeLog.seq == 3).values(via="x"))
    with pytest.raises(DBAPIError, match="append-only"), world.session.begin_nested():
        world.session.execute(ChangeLog.__table__.delete().where(ChangeLog.seq == 3))


def test_an_edited_entry_is_found_at_its_place_in_the_chain(world: World):
    _history(world)
    _lift_append_only(world.session)
    entry = world.session.scalars(select(ChangeLog).where(ChangeLog.seq == 7)).one()
    forged = dict(entry.changes) | {"forged": [None, True]}
    world.session.execute(update(ChangeLog).where(ChangeLog.seq == 7).values(changes=forged))
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None
    assert (changes.broken.seq, changes.broken.entry_id) == (7, entry.id)
    assert "edited" in changes.broken.reason
    assert changes.entries == 6  # the six before it hold


def test_a_deleted_entry_is_found_where_the_gap_is(world: World):
    _history(world)
    _lift_append_only(world.session)
    world.session.execute(ChangeLog.__table__.delete().where(ChangeLog.seq.in_((5, 6))))
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None and changes.broken.seq == 7
    assert "missing (seq 5–6)" in changes.broken.reason


def test_a_resealed_forgery_still_breaks_the_link_to_the_next_entry(world: World):
    """Rewriting an entry with a fresh content hash and seal cannot be hidden without
    resealing every entry after it."""
    from careplan.models.change_log import CHANGE_FIELDS
    from careplan.trust.ledger import content_hash, link

    _history(world)
    _lift_append_only(world.session)
    entry = world.session.scalars(select(ChangeLog).where(ChangeLog.seq == 4)).one()
    fields = {name: getattr(entry, name) for name in CHANGE_FIELDS} | {"via": "forged"}
    content = content_hash(fields)
    world.session.execute(
        update(ChangeLog)
        .where(ChangeLog.seq == 4)
        .values(via="forged", content_hash=content, hash=link(entry.prev_hash, content))
    )
    (changes, _) = verify_all(world.session)
    assert changes.broken is not None and changes.broken.seq == 5
    assert "before it was changed" in changes.broken.reason
    last = world.session.scalar(select(func.max(ChangeLog.seq)))
    assert last is not None and last > 5
