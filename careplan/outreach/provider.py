"""What a provider is to the outbox: it sends one message, and reads what comes back.

The outbox (outbox.py) marks a message "sending" and commits before it calls `send`, so a
crash between the call and the next commit leaves a row that says so, never a silent
second send. A provider raises `Transient` for what may pass (a timeout, throttling, a
5xx), retried with backoff; `Permanent` for what will not (a template not approved, a
number the provider refuses); either carries the provider's own code for the row's
`last_error`. Receipts and inbound replies arrive at the web app's callbacks, which hand
the request's headers and body to the provider, and it checks their signature first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from careplan.vocab import MessageChannel


@dataclass(frozen=True)
class Outgoing:
    """One message as the provider needs it."""

    message_id: int  # ours, passed as the provider's out-id where it has one
    channel: MessageChannel
    to: str  # a mobile number (SMS) or an openid (WeChat)
    template_code: str  # the provider's approved template (Aliyun: SMS_123456789)
    sign_name: str  # Aliyun's approved signature (签名); "" for WeChat
    variables: Mapping[str, str]  # the template's named variables, rendered as text
    text: str  # the whole message as the member reads it (the log provider keeps it)
    language: str = "zh"


@dataclass(frozen=True)
class Sent:
    provider_id: str  # the provider's id of the message (Aliyun's BizId, WeChat's msgid)


@dataclass(frozen=True)
class Receipt:
    """A delivery report: the message reached the phone, or did not, and why."""

    provider_id: str
    delivered: bool
    at: datetime | None = None
    error: str | None = None  # the provider's code when not delivered
    out_id: str | None = None  # our message id, when the provider echoes it


@dataclass(frozen=True)
class Inbound:
    """A member's reply (SMS up-link): "TD" or "退订" withdraws consent."""

    sender: str  # a mobile number, as the provider gives it
    text: str
    at: datetime | None = None


class ProviderError(Exception):
    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


class Transient(ProviderError):
    """May pass: tried again later, with backoff."""


class Permanent(ProviderError):
    """Will not pass: the message fails, with the code on its row."""


class BadCallback(Exception):
    """A callback whose signature does not check, or whose body is not the provider's."""


@dataclass(frozen=True)
class Parsed:
    receipts: list[Receipt] = field(default_factory=list)
    inbound: list[Inbound] = field(default_factory=list)


class Provider(Protocol):
    name: str  # "aliyun", "wechat", "log": the row's provider, the templates' key
    channel: MessageChannel

    def send(self, message: Outgoing) -> Sent:
        """Send one message; raise Transient or Permanent."""
        ...

    def callback(self, headers: Mapping[str, str], body: bytes) -> Parsed:
        """A receipt or reply pushed to us; raise BadCallback unless its signature
        checks (headers' names in lower case)."""
        ...


QUERY_HEADER = "x-query-"


def callback_headers(headers: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """What the web side hands to `Provider.callback` as its headers: the request's own, in
    lower case, less any posing as a query parameter, and each of the URL's query
    parameters as `x-query-NAME` (WeChat signs its push in the query, Aliyun's carries our
    token there): the interface stays headers and body."""
    out = {k.lower(): v for k, v in headers.items() if not k.lower().startswith(QUERY_HEADER)}
    out.update({f"{QUERY_HEADER}{k.lower()}": v for k, v in query.items()})
    return out
