"""Aliyun SMS (阿里云短信服务, Dysmsapi 2017-05-25): SendSms through Aliyun's own SDK, and
the delivery reports (SmsReport) and replies (SmsUp) Aliyun pushes back.

Sending: one SendSms per message, PhoneNumbers the member's number, SignName and
TemplateCode as approved in Aliyun's console, TemplateParam the template's variables as a
JSON object, OutId our message id (Aliyun echoes it in the delivery report). The SDK signs
the request (ACS3-HMAC-SHA256) and tries once: the outbox retries, with backoff, what we
call `Transient`. Timeouts are short (connect 3 s, read 5 s): a worker waits no longer on
one message.

What Aliyun answers, and what we make of it (the code on the row is Aliyun's own):
- Code "OK": `Sent(BizId)`.
- Throttling (isv.BUSINESS_LIMIT_CONTROL: a number's per-minute/hour/day cap;
  isv.DAY_LIMIT_CONTROL; Throttling, Throttling.User, Throttling.Api), ServiceUnavailable,
  InternalError, isp.SYSTEM_ERROR, any HTTP 5xx, a timeout or a broken connection:
  `Transient` ("connect-timeout": nothing went out; "timeout": the request went out and
  no answer came, so Aliyun may have sent it).
- isv.AMOUNT_NOT_ENOUGH (the account's balance) and isv.OUT_OF_SERVICE (the account
  stopped for arrears): `Transient`. Nothing is wrong with the message: once the chain
  tops the account up it goes out as written, within the outbox's retries; taken as
  permanent, one forgotten payment would fail every reminder of the day for good.
- Everything else, among them isv.SMS_TEMPLATE_ILLEGAL, isv.SMS_SIGNATURE_ILLEGAL,
  isv.MOBILE_NUMBER_ILLEGAL, isv.TEMPLATE_MISSING_PARAMETERS, InvalidAccessKeyId.*,
  SignatureDoesNotMatch, Forbidden.RAM: `Permanent` (sent again unchanged, it fails again).

Callbacks: Aliyun's "HTTP 批量推送" POSTs a JSON array to the URL set in the console, one
URL for delivery reports (SmsReport) and one for replies (SmsUp); items of both kinds are
recognised by their fields, so one URL may serve both. The push carries no signature of
its own, and the console takes nothing but the URL, so the secret travels in the URL:
configure it as `https://HOST/PATH?token=SECRET` with CAREPLAN_SMS_CALLBACK_SECRET
(at least 32 random characters, HTTPS only). An HMAC of the body in a header would be
stronger, but nothing on the way can make one: Aliyun's console sets no headers, and a
header nginx adds would be added to anyone's request. The web side hands the query
parameters in as headers (`provider.callback_headers`): `token` arrives as
`x-query-token`, compared in constant time; an empty secret refuses every callback. Keep
the query out of the access log for that location (nginx: a `log_format` without
`$request_uri`/`$args`). The web side answers `{"code": 0, "msg": "成功"}`, or Aliyun
pushes the batch again; report and reply times are Beijing time (UTC+8).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from alibabacloud_dysmsapi20170525.client import Client
from alibabacloud_dysmsapi20170525.models import SendSmsRequest
from alibabacloud_tea_openapi.exceptions import AlibabaCloudException, ThrottlingException
from alibabacloud_tea_openapi.utils_models import Config
from darabonba.runtime import RuntimeOptions

from careplan.outreach.provider import (
    QUERY_HEADER,
    BadCallback,
    Inbound,
    Outgoing,
    Parsed,
    Permanent,
    Receipt,
    Sent,
    Transient,
)
from careplan.vocab import MessageChannel

DEFAULT_ENDPOINT = "dysmsapi.aliyuncs.com"
CONNECT_TIMEOUT_MS = 3000
READ_TIMEOUT_MS = 5000
BEIJING = timezone(timedelta(hours=8))

# Codes that may pass if the same message is sent again later (see the module's docstring).
TRANSIENT_CODES = frozenset(
    {
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isp.SYSTEM_ERROR",
        "ServiceUnavailable",
        "InternalError",
        "Throttling",
    }
)
TRANSIENT_PREFIXES = ("Throttling.", "ServiceUnavailable.", "InternalError.")
TOKEN_HEADER = f"{QUERY_HEADER}token"


def is_transient(code: str) -> bool:
    return code in TRANSIENT_CODES or code.startswith(TRANSIENT_PREFIXES)


class AliyunSms:
    """The SMS provider. `endpoint` is a host (HTTPS) or `http://host:port` (a test's
    local server); `callback_secret` is what the callback URL's `token` must be."""

    name = "aliyun"
    channel = MessageChannel.sms

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        region: str = "cn-hangzhou",
        callback_secret: str = "",
        connect_timeout_ms: int = CONNECT_TIMEOUT_MS,
        read_timeout_ms: int = READ_TIMEOUT_MS,
    ) -> None:
        protocol = "https"
        if endpoint.startswith(("http://", "https://")):
            protocol, endpoint = endpoint.split("://", 1)
        self.callback_secret = callback_secret
        self._client = Client(
            Config(
                access_key_id=access_key_id,
                access_key_secret=access_key_secret,
                endpoint=endpoint.rstrip("/"),
                region_id=region,
                protocol=protocol,
                connect_timeout=connect_timeout_ms,
                read_timeout=read_timeout_ms,
            )
        )
        self._runtime = RuntimeOptions(
            autoretry=False, connect_timeout=connect_timeout_ms, read_timeout=read_timeout_ms
        )

    def send(self, message: Outgoing) -> Sent:
        request = SendSmsRequest(
            phone_numbers=message.to,
            sign_name=message.sign_name,
            template_code=message.template_code,
            template_param=json.dumps(dict(message.variables), ensure_ascii=False),
            out_id=str(message.message_id),
        )
        try:
            response = self._client.send_sms_with_options(request, self._runtime)
        except AlibabaCloudException as exc:  # the HTTP answer was 4xx or 5xx
            status = exc.status_code or 0
            code = str(exc.code or "")
            code = f"HTTP {status}" if code in ("", "None") else code  # the SDK writes "None"
            detail = str(exc.message or "")
            throttled = isinstance(exc, ThrottlingException) or status == 429
            if throttled or status >= 500 or is_transient(code):
                raise Transient(code, detail) from exc
            raise Permanent(code, detail) from exc
        except Exception as exc:  # no answer: the SDK wraps timeouts and refused connections
            # Its text names the URL, and the URL the member's number: the row keeps only
            # what failed, never the text.
            inner = getattr(exc, "inner_exception", None) or exc
            text = str(exc).lower()
            if "connect timeout" in text or "connecttimeout" in text:
                code = "connect-timeout"  # nothing went out
            elif "timed out" in text or "timeout" in text:
                code = "timeout"  # it may have gone out, unanswered
            else:
                code = "network"
            raise Transient(code, type(inner).__name__) from exc
        body = response.body
        code = str(getattr(body, "code", "") or "")
        if code == "OK":  # taken: sent even without a BizId (sending again would repeat it)
            return Sent(provider_id=str(getattr(body, "biz_id", None) or ""))
        detail = str(getattr(body, "message", "") or "")
        if not code:
            raise Transient("no-code", "Aliyun answered without a Code")
        if is_transient(code):
            raise Transient(code, detail)
        raise Permanent(code, detail)

    def callback(self, headers: Mapping[str, str], body: bytes) -> Parsed:
        token = headers.get(TOKEN_HEADER, "")
        if not self.callback_secret or not hmac.compare_digest(
            token.encode("utf-8"), self.callback_secret.encode("utf-8")
        ):
            raise BadCallback("the callback's token does not match")
        try:
            items = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadCallback("the body is no JSON") from exc
        if not isinstance(items, list):
            raise BadCallback("the body is no JSON array")
        parsed = Parsed()
        for item in items:
            if not isinstance(item, dict):
                raise BadCallback("an item is no JSON object")
            if "content" in item:
                parsed.inbound.append(_inbound(item))
            elif "biz_id" in item:
                parsed.receipts.append(_receipt(item))
            else:
                raise BadCallback("an item is neither a delivery report nor a reply")
        return parsed


def _text(item: Mapping[str, Any], key: str, *, required: bool = True) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        if required:
            raise BadCallback(f"{key} is missing")
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise BadCallback(f"{key} is no text")
    return str(value)


def _time(item: Mapping[str, Any], key: str) -> datetime | None:
    value = _text(item, key, required=False)
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except ValueError as exc:
        raise BadCallback(f"{key} is no time: {value!r}") from exc


def _receipt(item: Mapping[str, Any]) -> Receipt:
    success = item.get("success")
    if isinstance(success, str) and success.lower() in ("true", "false"):
        success = success.lower() == "true"
    if not isinstance(success, bool):
        raise BadCallback("success is no boolean")
    provider_id = _text(item, "biz_id")
    assert provider_id is not None
    return Receipt(
        provider_id=provider_id,
        delivered=success,
        at=_time(item, "report_time"),
        error=None if success else (_text(item, "err_code", required=False) or "UNKNOWN"),
        out_id=_text(item, "out_id", required=False),
    )


def _inbound(item: Mapping[str, Any]) -> Inbound:
    sender = _text(item, "phone_number")
    content = item.get("content")
    if sender is None or not isinstance(content, str):
        raise BadCallback("a reply without its number or text")
    return Inbound(sender=sender, text=content.strip(), at=_time(item, "send_time"))
