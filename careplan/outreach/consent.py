"""Consent to be contacted, per member and channel: separate from the consent to keep
health data, taken by a member of staff (who, when: the change log keeps each change)
and withdrawn at any time, by staff or by the member's reply (退订, TD).

Withdrawal cancels what is still waiting to leave on that channel at once; the sender
checks again as a message leaves (outbox.reasons_gone), so nothing goes after it.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from careplan.access import Actor, get_member
from careplan.errors import N_, InvalidInput
from careplan.members.gone import cancel_messages
from careplan.models import Member, MessageConsent
from careplan.vocab import MessageChannel

# What a member replies to stop messages: the words Chinese SMS users are told to send.
OPT_OUT_WORDS = frozenset({"td", "t", "退订", "取消", "n", "stop", "unsubscribe", "退"})
OPENID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def consents_of(session: Session, member_id: int) -> dict[MessageChannel, MessageConsent]:
    rows = session.scalars(select(MessageConsent).where(MessageConsent.member_id == member_id))
    return {c.channel: c for c in rows}


def is_given(consent: MessageConsent | None) -> bool:
    return consent is not None and consent.withdrawn_at is None


def grant(
    session: Session,
    actor: Actor,
    member_id: int,
    channel: MessageChannel,
    *,
    now: datetime,
    address: str | None = None,
) -> MessageConsent:
    """The member agrees to messages on the channel: SMS to the archive's mobile,
    WeChat to the openid their binding gave."""
    member = get_member(session, actor, member_id)
    address = _address(member, channel, address)
    consent = consents_of(session, member.id).get(channel)
    if consent is None:
        consent = MessageConsent(member_id=member.id, channel=channel, granted_at=now)
        session.add(consent)
    consent.address, consent.granted_at, consent.granted_by_id = address, now, actor.staff_id
    consent.withdrawn_at = consent.withdrawn_by_id = consent.withdrawn_via = None
    session.flush()
    return consent


def _address(member: Member, channel: MessageChannel, address: str | None) -> str | None:
    if member.erased_at is not None or member.died_on is not None:
        raise InvalidInput(N_("this member can no longer be sent messages"), field="channel")
    if channel is MessageChannel.sms:
        if not member.mobile:
            raise InvalidInput(
                N_("the archive has no mobile number to send SMS to"), field="mobile"
            )
        return None
    address = (address or "").strip()
    if not OPENID.match(address):
        raise InvalidInput(
            N_("not a WeChat openid (16 to 64 letters, digits, - or _)"), field="openid"
        )
    return address


def withdraw(
    session: Session,
    actor: Actor,
    member_id: int,
    channel: MessageChannel,
    *,
    now: datetime,
    via: str = "staff",
) -> MessageConsent:
    member = get_member(session, actor, member_id)
    consent = consents_of(session, member.id).get(channel)
    if not is_given(consent):
        raise InvalidInput(
            N_("the member has not agreed to messages on this channel"), field="channel"
        )
    assert consent is not None
    consent.withdrawn_at, consent.withdrawn_by_id, consent.withdrawn_via = now, actor.staff_id, via
    cancel_messages(session, [member.id], "consent_withdrawn", now=now, channel=channel)
    session.flush()
    return consent


def is_opt_out(text: str) -> bool:
    """ "TD", "退订", "td " …: the whole reply is one of the opt-out words."""
    return re.sub(r"[\s。.!！]+", "", text).casefold() in OPT_OUT_WORDS


def withdraw_by_reply(session: Session, sender: str, text: str, *, now: datetime) -> int:
    """An SMS reply arriving at the provider's inbound callback: an opt-out word
    withdraws the SMS consent of every member on that mobile. How many it withdrew."""
    if not is_opt_out(text):
        return 0
    mobile = _national(sender)
    actor = Actor.system("sms-reply")
    withdrawn = 0
    members = session.scalars(select(Member.id).where(Member.mobile == mobile))
    for member_id in list(members):
        consent = consents_of(session, member_id).get(MessageChannel.sms)
        if is_given(consent):
            withdraw(session, actor, member_id, MessageChannel.sms, now=now, via="reply")
            withdrawn += 1
    return withdrawn


def _national(number: str) -> str:
    """+86 138… and 86138… as the archive keeps them: 138…"""
    digits = re.sub(r"[^0-9]", "", number)
    return digits[2:] if len(digits) == 13 and digits.startswith("86") else digits
