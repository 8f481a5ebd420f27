"""Withdrawing the separate consent to health data (PIPL Art. 29, 15).

Withdrawal stops all processing but storage and security: nothing new is recorded
(`members.require_consent`), sheets and pages stop showing health data, and the
member's live plans stop, their open steps cancelled, so nobody is asked to call about
their health. What was recorded stays stored as it was, and the change log says who
took the withdrawal and when. Consent given again (a newly signed form) resumes
recording; stopped plans stay stopped: a new one is enrolled on purpose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member
from careplan.clock import local_date
from careplan.errors import N_, InvalidInput
from careplan.models import CarePlan, Member
from careplan.plans import lifecycle

WITHDRAWN = "consent to health data withdrawn"


def withdraw_health_consent(
    session: Session, actor: Actor, member_id: int, *, now: datetime
) -> Member:
    member = get_member(session, actor, member_id)
    if not member.health_consent:
        raise InvalidInput(
            N_("the member has not consented to health-data processing"), field="health_consent"
        )
    member.health_consent = False
    member.health_consent_withdrawn_at = now
    member.health_consent_withdrawn_by_id = actor.staff_id
    live = session.scalars(
        select(CarePlan.id).where(
            CarePlan.member_id == member.id, CarePlan.status.in_(lifecycle.LIVE)
        )
    )
    for plan_id in list(live):
        lifecycle.stop(session, actor, plan_id, WITHDRAWN, today=local_date(now))
    session.flush()
    return member
