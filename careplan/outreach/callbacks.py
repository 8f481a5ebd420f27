"""What providers push to us: delivery receipts, and members' replies (退订 withdraws
consent on that channel). The provider checks the push's signature first; a push that
does not check is refused with 403 and changes nothing."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor
from careplan.config import Settings
from careplan.models import MessageConsent
from careplan.outreach import consent, outbox, wiring
from careplan.outreach.provider import BadCallback, Inbound, Parsed
from careplan.vocab import MessageChannel

log = logging.getLogger(__name__)

# What each provider expects back, or it pushes again.
ACCEPTED = {"aliyun": '{"code":0,"msg":"成功"}', "wechat": "success"}


@dataclass(frozen=True)
class Answer:
    status: int
    body: str


def receive(
    session: Session,
    settings: Settings,
    name: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: datetime,
) -> Answer:
    provider = wiring.by_name(settings, name)
    if provider is None:
        return Answer(404, "")
    try:
        parsed = provider.callback(headers, body)
    except BadCallback as refused:
        log.warning("refused a %s callback: %s", name, refused)
        return Answer(403, "")
    session.info["actor"] = Actor.system(f"{name}-callback")
    apply(session, provider.channel, parsed, now=now)
    return Answer(200, ACCEPTED.get(name, "ok"))


def verify(settings: Settings, name: str, query: Mapping[str, str]) -> Answer:
    """WeChat's check of the push URL (a GET with echostr), answered only when signed."""
    provider = wiring.by_name(settings, name)
    verify_url = getattr(provider, "verify_url", None)
    if verify_url is None:
        return Answer(404, "")
    try:
        return Answer(200, str(verify_url(query)))
    except BadCallback:
        return Answer(403, "")


def apply(session: Session, channel: MessageChannel, parsed: Parsed, *, now: datetime) -> None:
    for receipt in parsed.receipts:
        outbox.apply_receipt(
            session,
            receipt.provider_id,
            delivered=receipt.delivered,
            at=receipt.at or now,
            error=receipt.error,
        )
    for reply in parsed.inbound:
        _reply(session, channel, reply, now)
    session.flush()


def _reply(session: Session, channel: MessageChannel, reply: Inbound, now: datetime) -> None:
    if channel is MessageChannel.sms:
        consent.withdraw_by_reply(session, reply.sender, reply.text, now=now)
        return
    if not consent.is_opt_out(reply.text):
        return
    # WeChat's sender is the member's openid, the address their consent keeps.
    members = session.scalars(
        select(MessageConsent.member_id).where(
            MessageConsent.channel == MessageChannel.wechat,
            MessageConsent.address == reply.sender,
            MessageConsent.withdrawn_at.is_(None),
        )
    )
    for member_id in list(members):
        consent.withdraw(
            session,
            Actor.system("wechat-reply"),
            member_id,
            MessageChannel.wechat,
            now=now,
            via="reply",
        )
