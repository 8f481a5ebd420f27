"""A template as one member would read it: their name, store and language, and for the
rest the member's own next step, lecture or supply where there is one, else an example."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan import clock
from careplan.config import Settings
from careplan.errors import N_, InvalidInput
from careplan.members.occasions import festivals_between
from careplan.models import CarePlan, Checkpoint, Lecture, Member, Store
from careplan.outreach.build import day_text
from careplan.outreach.templates import current_templates, render
from careplan.plans.protocols import definitions_by_version
from careplan.vocab import CheckpointState, LectureStatus, MessageReason, PlanStatus


def render_for(session: Session, member: Member, key: str, *, settings: Settings) -> str:
    templates = current_templates(settings.protocols_dir)
    template = templates.by_key.get(key)
    if template is None:
        raise InvalidInput(N_("choose a value from the list"), field="template")
    language = member.language if member.language in ("zh", "en") else "zh"
    values = _values(session, member, language)
    return render(template, language, {k: values.get(k, "…") for k in template.variables})


def _values(session: Session, member: Member, language: str) -> dict[str, str]:
    store = session.get_one(Store, member.home_store_id)
    today = clock.today()
    values = {"name": member.name, "store": store.name, "venue": store.address or store.name}
    step = session.execute(
        select(Checkpoint, CarePlan.protocol_version_id)
        .join(CarePlan, Checkpoint.plan_id == CarePlan.id)
        .where(
            CarePlan.member_id == member.id,
            CarePlan.status == PlanStatus.active,
            Checkpoint.state == CheckpointState.pending,
        )
        .order_by(Checkpoint.due_on)
        .limit(1)
    ).first()
    if step is not None:
        cp, version = step
        found = definitions_by_version(session)[version].step(cp.key)
        if found is not None:
            values["step"] = found.title.get(language)
        values["due"] = day_text(cp.due_on, language)
    lecture = session.scalar(
        select(Lecture)
        .where(Lecture.store_id == store.id, Lecture.status == LectureStatus.scheduled)
        .order_by(Lecture.starts_at.desc())
        .limit(1)
    )
    if lecture is not None:
        values["lecture"] = lecture.title_en if language == "en" else lecture.title_zh
        values["starts"] = day_text(lecture.starts_at.date(), language)
        values["venue"] = lecture.venue or values["venue"]
    upcoming = festivals_between(today, today + timedelta(days=366))
    if upcoming:
        values["festival"] = upcoming[0].name(language)
    values.setdefault("runs_out", day_text(today + timedelta(days=3), language))
    values.setdefault("drug", "…")
    return values


def template_choices(settings: Settings) -> list[tuple[str, MessageReason]]:
    """The templates one may preview: (key, the reason it serves)."""
    templates = current_templates(settings.protocols_dir)
    return [(t.key, t.reason) for t in templates.by_key.values()]
