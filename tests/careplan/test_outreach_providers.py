"""The Aliyun SMS and WeChat providers against local servers that answer as theirs do.

The fake Aliyun checks each request's ACS3-HMAC-SHA256 signature, written here from
Aliyun's documented algorithm (not the SDK's code), and refuses a wrong secret; the fake
WeChat hands out access tokens and refuses a stale one. No database.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from careplan.outreach.aliyun import AliyunSms
from careplan.outreach.provider import (
    BadCallback,
    Inbound,
    Outgoing,
    Parsed,
    Permanent,
    Receipt,
    Sent,
    Transient,
    callback_headers,
)
from careplan.outreach.wechat import WeChatSubscribe, sign
from careplan.vocab import MessageChannel

# Each pytest-xdist worker its own three ports: a module's tests may run in several.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
ALIYUN_PORT, NOTHING_PORT, WECHAT_PORT = (p + 10 * _WORKER for p in (8621, 8622, 8623))
AK_ID, AK_SECRET = "LTAI5tTestKeyId", "test-secret-of-the-access-key"
CALLBACK_SECRET = "s" * 40


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


Answer = tuple[int, dict[str, Any]]


@dataclass
class FakeServer:
    """A threaded HTTP server on 127.0.0.1 whose answers a test sets: `handle` takes the
    request and returns (status, JSON body)."""

    port: int
    handle: Callable[[Request], Answer]
    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0

    def __post_init__(self) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                request = Request(
                    self.command,
                    url.path,
                    dict(parse_qsl(url.query, keep_blank_values=True)),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                request.headers["_raw_query"] = url.query
                fake.requests.append(request)
                if fake.delay:
                    time.sleep(fake.delay)
                status, answer = fake.handle(request)
                data = json.dumps(answer, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json;charset=utf-8")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# Aliyun's V3 signature, from its documentation: the canonical request is the method, the
# path, the sorted and percent-encoded query, the signed headers as "name:value" lines,
# their names joined by ";", and the payload's SHA-256; the string to sign is the algorithm
# and the canonical request's SHA-256; the signature, its HMAC-SHA256 under the secret.


def _encode(text: str) -> str:
    return quote(text, safe="-_.~")


def expected_authorization(request: Request, secret: str, signed: list[str]) -> str:
    pairs = parse_qsl(request.headers["_raw_query"], keep_blank_values=True)
    query = "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))
    lines = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed)
    canonical = "\n".join(
        [
            request.method,
            request.path or "/",
            query,
            lines,
            ";".join(signed),
            request.headers["x-acs-content-sha256"],
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    return hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def aliyun_refusal(request: Request) -> Answer | None:
    """Aliyun's answer to a request whose signature does not check; None when it does."""
    scheme, _, rest = request.headers.get("authorization", "").partition(" ")
    if scheme != "ACS3-HMAC-SHA256":
        return 400, {"Code": "MissingAuthorization", "Message": "no ACS3 signature"}
    parts = dict(part.split("=", 1) for part in rest.split(","))
    signed = parts.get("SignedHeaders", "").split(";")
    needed = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-version"}
    needed |= {"x-acs-signature-nonce"}
    if not needed <= set(signed) or signed != sorted(signed):
        return 400, {"Code": "IncompleteSignature", "Message": f"signed: {signed}"}
    if request.headers["x-acs-content-sha256"] != hashlib.sha256(request.body).hexdigest():
        return 400, {"Code": "ContentSha256NotMatched", "Message": "payload hash"}
    if parts.get("Credential") != AK_ID:
        return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "no such key"}
    if not hmac.compare_digest(
        parts.get("Signature", ""), expected_authorization(request, AK_SECRET, signed)
    ):
        return 400, {"Code": "SignatureDoesNotMatch", "Message": "the signature does not match"}
    return None


class FakeAliyun(FakeServer):
    def __init__(self) -> None:
        self.answer: Answer = (200, {"Code": "OK", "Message": "OK", "BizId": "900619167^0"})
        self.refused: list[str] = []
        super().__init__(ALIYUN_PORT, self._handle)

    def _handle(self, request: Request) -> Answer:
        refusal = aliyun_refusal(request)
        if refusal is not None:
            self.refused.append(refusal[1]["Code"])
            return refusal[0], {**refusal[1], "RequestId": "R-1"}
        if request.headers.get("x-acs-action") != "SendSms" or request.method != "POST":
            return 400, {"Code": "InvalidAction", "RequestId": "R-1"}
        return self.answer[0], {**self.answer[1], "RequestId": "R-2"}


@pytest.fixture(scope="module")
def aliyun_server() -> Iterator[FakeAliyun]:
    server = FakeAliyun()
    yield server
    server.stop()


@pytest.fixture
def aliyun(aliyun_server: FakeAliyun) -> Iterator[FakeAliyun]:
    aliyun_server.requests.clear()
    aliyun_server.refused.clear()
    aliyun_server.delay = 0.0
    yield aliyun_server
    aliyun_server.answer = (200, {"Code": "OK", "Message": "OK", "BizId": "900619167^0"})


def sms(secret: str = AK_SECRET, port: int = ALIYUN_PORT, **kwargs: Any) -> AliyunSms:
    return AliyunSms(
        AK_ID,
        secret,
        endpoint=f"http://127.0.0.1:{port}",
        callback_secret=CALLBACK_SECRET,
        **kwargs,
    )


REMINDER = Outgoing(
    message_id=4711,
    channel=MessageChannel.sms,
    to="13800138000",
    template_code="SMS_123456789",
    sign_name="康宁大药房",
    variables={"name": "王秀英", "drug": "阿托伐他汀钙片", "date": "12月5日"},
    text="【康宁大药房】王秀英您好，您的阿托伐他汀钙片约12月5日用完。回TD退订",
)


def test_a_message_aliyun_takes_is_sent_with_its_bizid_and_fields(aliyun: FakeAliyun):
    assert sms().send(REMINDER) == Sent("900619167^0")
    (request,) = aliyun.requests
    assert aliyun.refused == []  # the fake checked the signature, and it checked
    assert request.query["PhoneNumbers"] == "13800138000"
    assert request.query["SignName"] == "康宁大药房"
    assert request.query["TemplateCode"] == "SMS_123456789"
    assert json.loads(request.query["TemplateParam"]) == dict(REMINDER.variables)
    assert request.query["OutId"] == "4711"
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"


def test_the_signature_covers_the_number_and_the_text(aliyun: FakeAliyun):
    sms().send(REMINDER)
    (request,) = aliyun.requests
    assert aliyun_refusal(request) is None
    raw = request.headers["_raw_query"]
    for tampered in (raw.replace("13800138000", "13900139000"), raw + "&Extra=1"):
        request.headers["_raw_query"] = tampered
        refusal = aliyun_refusal(request)
        assert refusal is not None and refusal[1]["Code"] == "SignatureDoesNotMatch"


def test_a_wrong_secret_is_refused_by_the_fake_and_permanent(aliyun: FakeAliyun):
    with pytest.raises(Permanent) as caught:
        sms(secret="not-the-secret").send(REMINDER)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert aliyun.refused == ["SignatureDoesNotMatch"]


def test_the_fakes_check_is_the_documented_algorithm():
    # Aliyun's own worked example would need its clock and nonce; this pins the canonical
    # form instead: sorted, percent-encoded query (space as %20), a blank line after the
    # header lines.
    request = Request(
        "POST",
        "/",
        {},
        {
            "host": "h",
            "x-acs-action": "SendSms",
            "x-acs-content-sha256": hashlib.sha256(b"").hexdigest(),
            "_raw_query": "b=2%203&a=%E7%8E%8B",
        },
        b"",
    )
    signed = ["host", "x-acs-action", "x-acs-content-sha256"]
    canonical = (
        "POST\n/\na=%E7%8E%8B&b=2%203\nhost:h\nx-acs-action:SendSms\n"
        f"x-acs-content-sha256:{hashlib.sha256(b'').hexdigest()}\n\n"
        f"host;x-acs-action;x-acs-content-sha256\n{hashlib.sha256(b'').hexdigest()}"
    )
    to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode()).hexdigest()
    assert expected_authorization(request, "k", signed) == (
        hmac.new(b"k", to_sign.encode(), hashlib.sha256).hexdigest()
    )


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (200, "isv.BUSINESS_LIMIT_CONTROL", Transient),
        (200, "isv.DAY_LIMIT_CONTROL", Transient),
        (200, "isv.AMOUNT_NOT_ENOUGH", Transient),
        (400, "Throttling.User", Transient),
        (503, "ServiceUnavailable", Transient),
        (500, "InternalError", Transient),
        (502, "SomethingNew", Transient),
        (200, "isv.SMS_TEMPLATE_ILLEGAL", Permanent),
        (200, "isv.SMS_SIGNATURE_ILLEGAL", Permanent),
        (200, "isv.MOBILE_NUMBER_ILLEGAL", Permanent),
        (200, "isv.TEMPLATE_MISSING_PARAMETERS", Permanent),
        (404, "InvalidAccessKeyId.NotFound", Permanent),
        (403, "Forbidden.RAM", Permanent),
    ],
)
def test_aliyuns_codes_are_transient_or_permanent(
    aliyun: FakeAliyun, status: int, code: str, kind: type[Exception]
):
    aliyun.answer = (status, {"Code": code, "Message": f"{code} happened"})
    with pytest.raises(kind) as caught:
        sms().send(REMINDER)
    assert isinstance(caught.value, Transient | Permanent)
    assert caught.value.code == code
    assert len(aliyun.requests) == 1  # the SDK tries once: retrying is the outbox's


@pytest.mark.parametrize(("status", "kind"), [(503, Transient), (429, Transient), (400, Permanent)])
def test_an_http_error_without_a_code_is_named_by_its_status(
    aliyun: FakeAliyun, status: int, kind: type[Exception]
):
    aliyun.answer = (status, {"Message": "no code"})
    with pytest.raises(kind) as caught:
        sms().send(REMINDER)
    assert isinstance(caught.value, Transient | Permanent)
    assert caught.value.code == f"HTTP {status}"


def test_ok_without_a_bizid_is_still_sent(aliyun: FakeAliyun):
    aliyun.answer = (200, {"Code": "OK", "Message": "OK"})
    assert sms().send(REMINDER) == Sent("")


def test_a_timeout_is_transient_and_short(aliyun: FakeAliyun):
    aliyun.delay = 1.5
    started = time.monotonic()
    with pytest.raises(Transient) as caught:
        sms(read_timeout_ms=300).send(REMINDER)
    assert caught.value.code == "timeout"
    assert time.monotonic() - started < 1.4
    assert "13800138000" not in str(caught.value)  # the URL's number stays off the row


def test_no_server_is_transient():
    with pytest.raises(Transient) as caught:
        sms(port=NOTHING_PORT).send(REMINDER)
    assert caught.value.code == "network"


# Aliyun's pushes


def pushed(token: str | None = CALLBACK_SECRET) -> dict[str, str]:
    query = {"token": token} if token is not None else {}
    return callback_headers({"Content-Type": "application/json"}, query)


REPORTS = [
    {
        "phone_number": "13800138000",
        "send_time": "2026-12-03 09:00:01",
        "report_time": "2026-12-03 09:00:05",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "900619167^0",
        "out_id": "4711",
    },
    {
        "phone_number": "13900139000",
        "send_time": "2026-12-03 09:00:01",
        "report_time": "2026-12-03 09:01:00",
        "success": False,
        "err_code": "MK:0001",
        "err_msg": "空号",
        "sms_size": "1",
        "biz_id": "900619168^0",
        "out_id": "4712",
    },
]


def test_delivery_reports_with_a_good_token_are_receipts():
    parsed = sms().callback(pushed(), json.dumps(REPORTS).encode())
    at = datetime(2026, 12, 3, 9, 0, 5, tzinfo=timezone(timedelta(hours=8)))
    assert parsed.receipts == [
        Receipt("900619167^0", delivered=True, at=at, error=None, out_id="4711"),
        Receipt(
            "900619168^0",
            delivered=False,
            at=datetime(2026, 12, 3, 1, 1, tzinfo=UTC),
            error="MK:0001",
            out_id="4712",
        ),
    ]
    assert parsed.inbound == []


@pytest.mark.parametrize("reply", ["退订", "TD", " td "])
def test_a_reply_is_inbound(reply: str):
    body = [
        {
            "phone_number": "13800138000",
            "send_time": "2026-12-03 10:15:00",
            "content": reply,
            "sign_name": "康宁大药房",
            "dest_code": "1234",
            "sequence_id": 1234567890,
        }
    ]
    parsed = sms().callback(pushed(), json.dumps(body, ensure_ascii=False).encode())
    assert parsed.inbound == [
        Inbound(
            "13800138000",
            reply.strip(),
            at=datetime(2026, 12, 3, 10, 15, tzinfo=timezone(timedelta(hours=8))),
        )
    ]


@pytest.mark.parametrize("token", [None, "", "s" * 39, "S" * 40, "s" * 41])
def test_a_push_without_the_token_is_refused(token: str | None):
    with pytest.raises(BadCallback):
        sms().callback(pushed(token), json.dumps(REPORTS).encode())


def test_a_token_sent_as_a_header_does_not_pose_as_the_querys():
    headers = callback_headers({"X-Query-Token": CALLBACK_SECRET}, {})
    with pytest.raises(BadCallback):
        sms().callback(headers, json.dumps(REPORTS).encode())


def test_no_configured_secret_refuses_every_push():
    provider = AliyunSms(AK_ID, AK_SECRET, endpoint=f"http://127.0.0.1:{ALIYUN_PORT}")
    with pytest.raises(BadCallback):
        provider.callback(callback_headers({}, {"token": ""}), json.dumps(REPORTS).encode())


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b'{"biz_id": "1"}',
        b"[1]",
        b'[{"phone_number": "138"}]',
        b'[{"biz_id": "1", "success": "maybe"}]',
        b'[{"success": true, "biz_id": ""}]',
        b'[{"biz_id": "1", "success": true, "report_time": "yesterday"}]',
        b'[{"phone_number": "138", "content": 5}]',
    ],
)
def test_a_malformed_push_is_a_bad_callback(body: bytes):
    with pytest.raises(BadCallback):
        sms().callback(pushed(), body)


# WeChat


class FakeWeChat(FakeServer):
    """Hands out tokens as stable_token does: the current one, a new one (TOKEN-1, TOKEN-2,
    …) only when forced or none is out; a send with anything but the current one, or a
    revoked one, is refused with 40001. `answers` are the send answers to give in turn."""

    def __init__(self) -> None:
        self.issued: list[str] = []
        self.force: list[bool] = []
        self.revoked: set[str] = set()
        self.answers: list[dict[str, Any]] = []
        self.expires_in = 7200
        super().__init__(WECHAT_PORT, self._handle)

    def _handle(self, request: Request) -> Answer:
        if request.path == "/cgi-bin/stable_token":
            asked = json.loads(request.body)
            if (asked["appid"], asked["secret"]) != ("wx-app", "wx-secret"):
                return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
            self.force.append(asked["force_refresh"])
            if asked["force_refresh"] or not self.issued:
                self.issued.append(f"TOKEN-{len(self.issued) + 1}")
            return 200, {"access_token": self.issued[-1], "expires_in": self.expires_in}
        if request.path == "/cgi-bin/message/subscribe/send":
            token = request.query.get("access_token")
            if token != self.issued[-1] or token in self.revoked:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            if self.answers:
                return 200, self.answers.pop(0)
            return 200, {"errcode": 0, "errmsg": "ok", "msgid": 2794188253209100289}
        return 404, {"errcode": 404}


@pytest.fixture(scope="module")
def wechat_server() -> Iterator[FakeWeChat]:
    server = FakeWeChat()
    yield server
    server.stop()


@pytest.fixture
def wechat(wechat_server: FakeWeChat) -> Iterator[FakeWeChat]:
    wechat_server.requests.clear()
    wechat_server.issued.clear()
    wechat_server.force.clear()
    wechat_server.revoked.clear()
    wechat_server.answers.clear()
    wechat_server.expires_in = 7200
    wechat_server.delay = 0.0
    yield wechat_server


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def weixin(clock: Clock | None = None, secret: str = "wx-secret", **kwargs: Any) -> WeChatSubscribe:
    return WeChatSubscribe(
        "wx-app",
        secret,
        token="push-token",
        base_url=f"http://127.0.0.1:{WECHAT_PORT}",
        clock=clock or Clock(),
        **kwargs,
    )


NOTICE = Outgoing(
    message_id=4713,
    channel=MessageChannel.wechat,
    to="osKp_4j-PO0TsnJhZ1h0GV3alV5U",
    template_code="IHfdMu-oSryLsdvEQqEjB-tKMW8h6g0h2Joj0wTPNdY",
    sign_name="",
    variables={"thing1": "阿托伐他汀钙片", "date2": "2026年12月5日"},
    text="您的阿托伐他汀钙片约2026年12月5日用完",
)


def sends(server: FakeWeChat) -> list[Request]:
    return [r for r in server.requests if r.path == "/cgi-bin/message/subscribe/send"]


def test_a_subscribe_message_is_sent_with_a_fetched_token(wechat: FakeWeChat):
    assert weixin().send(NOTICE) == Sent("2794188253209100289")
    (token_request, send_request) = wechat.requests
    assert json.loads(token_request.body)["grant_type"] == "client_credential"
    assert send_request.query["access_token"] == "TOKEN-1"
    assert json.loads(send_request.body) == {
        "touser": "osKp_4j-PO0TsnJhZ1h0GV3alV5U",
        "template_id": "IHfdMu-oSryLsdvEQqEjB-tKMW8h6g0h2Joj0wTPNdY",
        "data": {"thing1": {"value": "阿托伐他汀钙片"}, "date2": {"value": "2026年12月5日"}},
    }


def test_the_token_is_kept_until_shortly_before_it_expires(wechat: FakeWeChat):
    clock = Clock()
    provider = weixin(clock)
    provider.send(NOTICE)
    clock.now += 6800
    provider.send(NOTICE)
    assert wechat.force == [False]  # one fetch
    clock.now += 200  # within the margin before WeChat's 7,200 s
    provider.send(NOTICE)
    assert wechat.force == [False, False]  # fetched again, not forced
    assert [r.query["access_token"] for r in sends(wechat)] == ["TOKEN-1"] * 3


def test_threads_share_one_token_fetch(wechat: FakeWeChat):
    provider = weixin()
    wechat.delay = 0.2  # every answer waits: the threads meet at the lock
    results: list[Sent] = []
    threads = [
        threading.Thread(target=lambda: results.append(provider.send(NOTICE))) for _ in range(5)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 5 and wechat.force == [False]


def test_a_refused_token_is_fetched_again_once_and_the_message_sent(wechat: FakeWeChat):
    provider = weixin()
    provider.send(NOTICE)
    wechat.issued.append("TOKEN-elsewhere")  # another process forced a new one
    assert provider.send(NOTICE) == Sent("2794188253209100289")
    assert [r.query["access_token"] for r in sends(wechat)] == [
        "TOKEN-1",
        "TOKEN-1",
        "TOKEN-elsewhere",
    ]
    assert wechat.force == [False, False]  # the current one was enough: nothing forced


def test_a_refused_token_still_handed_out_is_forced_anew(wechat: FakeWeChat):
    provider = weixin()
    provider.send(NOTICE)
    wechat.revoked.add("TOKEN-1")  # refused, yet stable_token hands it out unforced
    assert provider.send(NOTICE) == Sent("2794188253209100289")
    assert wechat.force == [False, False, True]
    assert sends(wechat)[-1].query["access_token"] == "TOKEN-2"


def test_a_token_refused_twice_is_transient(wechat: FakeWeChat):
    wechat.answers = [{"errcode": 40001, "errmsg": "invalid credential"}] * 2
    with pytest.raises(Transient) as caught:
        weixin().send(NOTICE)
    assert caught.value.code == "40001"
    assert len(sends(wechat)) == 2


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (-1, Transient),
        (45009, Transient),
        (45011, Transient),
        (43101, Permanent),
        (40003, Permanent),
        (47003, Permanent),
        (40037, Permanent),
    ],
)
def test_wechats_codes_are_transient_or_permanent(
    wechat: FakeWeChat, errcode: int, kind: type[Exception]
):
    wechat.answers = [{"errcode": errcode, "errmsg": "no"}]
    with pytest.raises(kind) as caught:
        weixin().send(NOTICE)
    assert isinstance(caught.value, Transient | Permanent)
    assert caught.value.code == str(errcode)


def test_taken_without_a_msgid_is_still_sent(wechat: FakeWeChat):
    # bizsend answers so: sending again would repeat the message.
    wechat.answers = [{"errcode": 0, "errmsg": "ok"}]
    assert weixin().send(NOTICE) == Sent("")


def test_a_wrong_app_secret_is_permanent(wechat: FakeWeChat):
    with pytest.raises(Permanent) as caught:
        weixin(secret="wrong").send(NOTICE)
    assert caught.value.code == "40125"
    assert sends(wechat) == []


def test_a_wechat_timeout_or_no_server_is_transient(wechat: FakeWeChat):
    wechat.delay = 1.0
    with pytest.raises(Transient) as caught:
        weixin(read_timeout=0.2).send(NOTICE)
    assert caught.value.code == "timeout"
    nowhere = WeChatSubscribe("wx-app", "wx-secret", base_url=f"http://127.0.0.1:{NOTHING_PORT}")
    with pytest.raises(Transient) as caught:
        nowhere.send(NOTICE)
    assert caught.value.code == "network"
    assert "TOKEN" not in str(caught.value)


# WeChat's pushes

NOW = 1_764_745_000


def signed_query(timestamp: int = NOW, token: str = "push-token") -> dict[str, str]:
    nonce = "1428512497"
    return {
        "signature": sign(token, str(timestamp), nonce),
        "timestamp": str(timestamp),
        "nonce": nonce,
        "openid": "osKp_4j-PO0TsnJhZ1h0GV3alV5U",
    }


def push(provider: WeChatSubscribe, body: bytes, query: dict[str, str] | None = None) -> Parsed:
    headers = callback_headers(
        {"Content-Type": "text/xml"}, signed_query() if query is None else query
    )
    return provider.callback(headers, body)


def at_now(**kwargs: Any) -> WeChatSubscribe:
    return weixin(wall_clock=Clock(NOW + 30), **kwargs)


SENT_EVENT = b"""<xml><ToUserName><![CDATA[gh_df0deeb82b8a]]></ToUserName>
<FromUserName><![CDATA[osKp_4j-PO0TsnJhZ1h0GV3alV5U]]></FromUserName>
<CreateTime>1764745000</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[subscribe_msg_sent_event]]></Event>
<SubscribeMsgSentEvent>
<List>
<TemplateId><![CDATA[IHfdMu-oSryLsdvEQqEjB-tKMW8h6g0h2Joj0wTPNdY]]></TemplateId>
<MsgID>2794188253209100289</MsgID>
<ErrorCode>0</ErrorCode>
<ErrorStatus><![CDATA[success]]></ErrorStatus>
</List>
<List>
<TemplateId><![CDATA[IHfdMu-oSryLsdvEQqEjB-tKMW8h6g0h2Joj0wTPNdY]]></TemplateId>
<MsgID>2794188253209100290</MsgID>
<ErrorCode>10004</ErrorCode>
<ErrorStatus><![CDATA[failed:user block]]></ErrorStatus>
</List>
</SubscribeMsgSentEvent></xml>"""


def test_a_signed_sent_event_is_receipts():
    parsed = push(at_now(), SENT_EVENT)
    at = datetime.fromtimestamp(NOW, tz=UTC)
    assert parsed.receipts == [
        Receipt("2794188253209100289", delivered=True, at=at),
        Receipt("2794188253209100290", delivered=False, at=at, error="10004 failed:user block"),
    ]


def test_the_json_form_of_the_sent_event_is_read_too():
    body = {
        "ToUserName": "gh_df0deeb82b8a",
        "FromUserName": "osKp_4j-PO0TsnJhZ1h0GV3alV5U",
        "CreateTime": NOW,
        "MsgType": "event",
        "Event": "subscribe_msg_sent_event",
        "List": {"TemplateId": "T", "MsgID": "27941", "ErrorCode": "0", "ErrorStatus": "success"},
    }
    parsed = push(at_now(), json.dumps(body).encode())
    assert parsed.receipts == [
        Receipt("27941", delivered=True, at=datetime.fromtimestamp(NOW, tz=UTC))
    ]


@pytest.mark.parametrize("reply", ["退订", "TD"])
def test_a_text_message_to_the_account_is_inbound_from_the_openid(reply: str):
    body = (
        "<xml><ToUserName><![CDATA[gh_df0deeb82b8a]]></ToUserName>"
        "<FromUserName><![CDATA[osKp_4j-PO0TsnJhZ1h0GV3alV5U]]></FromUserName>"
        f"<CreateTime>{NOW}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{reply}]]></Content><MsgId>23456</MsgId></xml>"
    ).encode()
    assert push(at_now(), body).inbound == [
        Inbound("osKp_4j-PO0TsnJhZ1h0GV3alV5U", reply, at=datetime.fromtimestamp(NOW, tz=UTC))
    ]


def test_another_event_is_nothing():
    body = (
        b"<xml><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]>"
        b"</Event><CreateTime>1764745000</CreateTime></xml>"
    )
    parsed = push(at_now(), body)
    assert parsed.receipts == [] and parsed.inbound == []


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"timestamp": str(NOW), "nonce": "1"},
        {**signed_query(), "signature": "0" * 40},
        signed_query(token="another-token"),
        {**signed_query(), "nonce": "changed"},
        signed_query(timestamp=NOW - 3600),  # signed, but an hour old: a replay
        {**signed_query(), "timestamp": "soon"},
    ],
)
def test_a_push_whose_signature_does_not_check_is_refused(query: dict[str, str]):
    with pytest.raises(BadCallback):
        push(at_now(), SENT_EVENT, query)


def test_no_configured_token_refuses_every_push():
    provider = WeChatSubscribe("wx-app", "wx-secret", wall_clock=Clock(NOW))
    with pytest.raises(BadCallback):
        push(provider, SENT_EVENT, signed_query(token=""))


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>
<xml><MsgType>text</MsgType><Content>&b;</Content></xml>"""

EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>
<xml><MsgType>text</MsgType><Content>&e;</Content></xml>"""


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"hello",
        b"<xml><MsgType>event",
        b"<html><MsgType>text</MsgType></html>",
        b"<xml><ToUserName>gh</ToUserName></xml>",
        b"<xml><MsgType>event</MsgType><Event>subscribe_msg_sent_event</Event></xml>",
        b"<xml><MsgType>text</MsgType><Content>TD</Content></xml>",
        b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName><Content>TD</Content>"
        b"<CreateTime>never</CreateTime></xml>",
        b"<xml><Encrypt><![CDATA[abc]]></Encrypt></xml>",
        b'{"MsgType": "event", "Event": "subscribe_msg_sent_event", "List": 5}',
        b"[1, 2]",
        BILLION_LAUGHS,
        EXTERNAL,
    ],
)
def test_a_malformed_or_unsafe_push_is_a_bad_callback(body: bytes):
    with pytest.raises(BadCallback):
        push(at_now(), body)


def test_the_url_check_answers_echostr_when_signed():
    provider = at_now()
    assert provider.verify_url({**signed_query(), "echostr": "7302195183"}) == "7302195183"
    with pytest.raises(BadCallback):
        provider.verify_url({**signed_query(token="x"), "echostr": "7302195183"})
    with pytest.raises(BadCallback):
        provider.verify_url(signed_query())


# WeChat's safe mode (安全模式): the push encrypted as WeChat's documentation says, written
# here with the cipher directly.

AES_KEY_TEXT = base64.b64encode(bytes(range(32))).decode().rstrip("=")  # 43 characters


def encrypted(message: bytes, app_id: str = "wx-app", key_text: str = AES_KEY_TEXT) -> str:
    key = base64.b64decode(key_text + "=")
    plain = os.urandom(16) + len(message).to_bytes(4, "big") + message + app_id.encode()
    pad = 32 - len(plain) % 32
    plain += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def safe_push(
    provider: WeChatSubscribe, secret: str, *, signature: str | None = None, as_json: bool = False
) -> Parsed:
    query = signed_query()
    query["encrypt_type"] = "aes"
    query["msg_signature"] = signature or sign(
        "push-token", query["timestamp"], query["nonce"], secret
    )
    if as_json:
        body = json.dumps({"ToUserName": "gh_df0deeb82b8a", "Encrypt": secret}).encode()
    else:
        body = (
            "<xml><ToUserName><![CDATA[gh_df0deeb82b8a]]></ToUserName>"
            f"<Encrypt><![CDATA[{secret}]]></Encrypt></xml>"
        ).encode()
    return provider.callback(callback_headers({}, query), body)


@pytest.mark.parametrize("as_json", [False, True])
def test_a_safe_mode_push_is_decrypted_and_read(as_json: bool):
    provider = at_now(encoding_aes_key=AES_KEY_TEXT)
    parsed = safe_push(provider, encrypted(SENT_EVENT), as_json=as_json)
    assert [r.provider_id for r in parsed.receipts] == [
        "2794188253209100289",
        "2794188253209100290",
    ]


def test_a_safe_mode_push_that_does_not_check_is_refused():
    provider = at_now(encoding_aes_key=AES_KEY_TEXT)
    good = encrypted(SENT_EVENT)
    other_key = base64.b64encode(bytes(range(1, 33))).decode().rstrip("=")
    for body, signature in [
        (good, "0" * 40),  # the body is WeChat's, the signature not
        (encrypted(SENT_EVENT, app_id="wx-another"), None),  # for another account
        (encrypted(SENT_EVENT, key_text=other_key), None),  # under another key
        ("not base64!", None),
        (base64.b64encode(b"short").decode(), None),
    ]:
        with pytest.raises(BadCallback):
            safe_push(provider, body, signature=signature)
    with pytest.raises(BadCallback):  # safe mode configured: a plain push is no push
        push(provider, SENT_EVENT)
    with pytest.raises(BadCallback):  # no key configured: an encrypted push is unreadable
        safe_push(at_now(), good)


def test_an_encoding_aes_key_of_the_wrong_length_is_refused():
    with pytest.raises(ValueError, match="43 characters"):
        weixin(encoding_aes_key=AES_KEY_TEXT[:40])
