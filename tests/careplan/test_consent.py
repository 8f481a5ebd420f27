"""Separate consent to health data: the form's version is kept; a withdrawal stops all
processing but storage — nothing new is recorded, live plans stop — and is attributed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from careplan.errors import InvalidInput
from careplan.members import archive
from careplan.members.consent import WITHDRAWN, withdraw_health_consent
from careplan.members.health_records import HealthCheckIn, record_health_check
from careplan.models import CarePlan, ChangeLog, HealthCheck
from careplan.vocab import CheckpointState, PlanStatus
from tests.factories import NOW, World, enrolled_steps, make_member, record_bone_density

READING = HealthCheckIn(kind="bone_density", values={"t_score": -2.4})


def test_a_withdrawn_consent_blocks_new_health_records_and_stops_the_plans(world: World):
    member = make_member(world)
    steps = enrolled_steps(world, member, start=date(2024, 2, 1))
    record_bone_density(world, steps["medication_guidance"], world.pharmacist_a, now=NOW,
                        t_score=-2.7)  # fmt: skip
    pharmacist = world.actor(world.pharmacist_a)
    assert member.health_consent_text == archive.CONSENT_TEXT

    withdraw_health_consent(world.session, pharmacist, member.id, now=NOW)
    with pytest.raises(InvalidInput, match="withdrew consent") as refused:
        record_health_check(world.session, pharmacist, member.id, READING, now=NOW)
    assert refused.value.field == "health_consent"

    plan = world.session.scalars(select(CarePlan).where(CarePlan.member_id == member.id)).one()
    assert (plan.status, plan.stop_reason) == (PlanStatus.stopped, WITHDRAWN)
    assert {cp.state for cp in steps.values()} == {CheckpointState.done, CheckpointState.cancelled}
    kept = select(func.count()).select_from(HealthCheck).where(HealthCheck.member_id == member.id)
    assert world.session.scalar(kept) == 1  # stored, as it was
    entry = world.session.scalars(
        select(ChangeLog)
        .where(ChangeLog.entity == "member", ChangeLog.entity_id == member.id)
        .order_by(ChangeLog.id.desc())
    ).first()
    assert entry is not None and entry.actor_id == world.pharmacist_a.id
    assert entry.changes["health_consent"] == [True, False]


def test_consent_given_again_records_its_form_and_resumes_recording(world: World):
    member = make_member(world)
    pharmacist = world.actor(world.pharmacist_a)
    withdraw_health_consent(world.session, pharmacist, member.id, now=NOW)
    with pytest.raises(InvalidInput, match="has not consented"):
        withdraw_health_consent(world.session, pharmacist, member.id, now=NOW)
    archive.give_health_consent(world.session, pharmacist, member.id, now=NOW)
    assert member.health_consent and member.health_consent_withdrawn_at is None
    assert member.health_consent_text == archive.CONSENT_TEXT
    record_health_check(world.session, pharmacist, member.id, READING, now=NOW)
