"""The providers and the sending rules the settings name."""

from __future__ import annotations

from datetime import datetime

from careplan import clock
from careplan.config import Settings
from careplan.outreach import rules
from careplan.outreach.build import Context
from careplan.outreach.log import LogProvider
from careplan.outreach.outbox import Sending
from careplan.outreach.provider import Provider
from careplan.outreach.templates import current_templates
from careplan.vocab import MessageChannel


def providers(settings: Settings) -> dict[MessageChannel, Provider]:
    made: dict[MessageChannel, Provider] = {}
    for channel in MessageChannel:
        made[channel] = LogProvider(channel, settings.work_dir)
    return made


def sending(settings: Settings) -> Sending:
    return Sending(
        providers=providers(settings),
        clock=clock.now,
        zone=settings.zone,
        window=rules.Window.parse(settings.messages_window),
        templates=current_templates(settings.protocols_dir),
    )


def context(settings: Settings, *, now: datetime, by: int | None = None) -> Context:
    """The build of today (the chain's day of `now`)."""
    return Context(
        day=now.astimezone(settings.zone).date(),
        now=now,
        zone=settings.zone,
        window=rules.Window.parse(settings.messages_window),
        cap=settings.messages_weekly_cap,
        templates=current_templates(settings.protocols_dir),
        created_by_id=by,
    )
