"""The providers and the sending rules the settings name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careplan import clock
from careplan.config import Settings
from careplan.outreach import rules
from careplan.outreach.build import Context
from careplan.outreach.log import LogProvider
from careplan.outreach.outbox import Sending
from careplan.outreach.provider import Provider
from careplan.outreach.templates import current_templates
from careplan.vocab import MessageChannel

# What the providers are made from; the same values give the same providers.
PROVIDER_SETTINGS = (
    "messages_sms_provider", "messages_wechat_provider", "work_dir",
    "sms_aliyun_access_key_id", "sms_aliyun_access_key_secret", "sms_aliyun_endpoint",
    "sms_aliyun_region", "sms_callback_secret", "wechat_app_id", "wechat_app_secret",
    "wechat_token", "wechat_encoding_aes_key", "wechat_base_url",
)  # fmt: skip
_made: dict[tuple[Any, ...], dict[MessageChannel, Provider]] = {}


def providers(settings: Settings) -> dict[MessageChannel, Provider]:
    """Each channel's provider, as CAREPLAN_MESSAGES_*_PROVIDER says (log by default):
    made once a process, so every task and callback shares one WeChat access token and
    one HTTP client, one Aliyun SDK client, rather than fetching and opening them anew."""
    key = tuple(getattr(settings, name) for name in PROVIDER_SETTINGS)
    if key not in _made:
        _made[key] = {
            MessageChannel.sms: sms_provider(settings),
            MessageChannel.wechat: wechat_provider(settings),
        }
    return _made[key]


def sms_provider(settings: Settings) -> Provider:
    if settings.messages_sms_provider == "aliyun":
        from careplan.outreach.aliyun import AliyunSms  # its SDK takes a while to import

        return AliyunSms(
            settings.sms_aliyun_access_key_id,
            settings.sms_aliyun_access_key_secret,
            endpoint=settings.sms_aliyun_endpoint,
            region=settings.sms_aliyun_region,
            callback_secret=settings.sms_callback_secret,
        )
    return LogProvider(MessageChannel.sms, settings.work_dir)


def wechat_provider(settings: Settings) -> Provider:
    if settings.messages_wechat_provider == "wechat":
        from careplan.outreach.wechat import WeChatSubscribe

        return WeChatSubscribe(
            settings.wechat_app_id,
            settings.wechat_app_secret,
            token=settings.wechat_token,
            encoding_aes_key=settings.wechat_encoding_aes_key,
            base_url=settings.wechat_base_url,
        )
    return LogProvider(MessageChannel.wechat, settings.work_dir)


def by_name(settings: Settings, name: str) -> Provider | None:
    """The provider a callback URL names, if it is one in use."""
    found = {p.name: p for p in providers(settings).values() if p.name != "log"}
    return found.get(name)


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
