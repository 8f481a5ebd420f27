"""WeChat subscribe messages (订阅消息) over plain HTTPS, and the events WeChat pushes back.

Sending: `POST /cgi-bin/message/subscribe/send?access_token=…` (a Mini Program's; an
Official Account's 订阅通知 is `/cgi-bin/message/subscribe/bizsend`: `send_path`) with
touser (the member's openid), template_id and data `{key: {"value": text}}`.

The access token comes from `/cgi-bin/stable_token`, not `/cgi-bin/token`: several app
processes and consumers share one AppID, and each call of the old endpoint replaces the
token the others hold; the stable one hands all of them the same token until it expires.
It is kept, behind a lock, until shortly before WeChat says it expires. When WeChat calls
it invalid or expired (40001, 40014, 42001), it is fetched again once (forced only if
WeChat hands back the very token it refused) and the message sent again.

WeChat's answers (errcode): 0 → `Sent(msgid)`; -1 (busy), 45009 and 45011 (the API's
daily and per-minute quotas), a timeout, a broken connection, HTTP 5xx → `Transient`;
43101 (the member did not subscribe, or refused), 40003 (no such openid), 47003 (the data
does not fit the template), 40037 (no such template), and any other code → `Permanent`.
The code on the row is WeChat's errcode ("connect-timeout": nothing went out; "timeout":
the request went out unanswered, so WeChat may have sent it); the access token never
appears in one.

Callbacks: the server configuration (服务器配置 / 消息推送) names our URL, a Token
(CAREPLAN_WECHAT_TOKEN) and how messages are encrypted (消息加解密方式). WeChat signs each
push in the URL's query; the web side passes the query in as `x-query-*` headers
(`provider.callback_headers`). In 安全模式 (safe mode, `encrypt_type=aes`; set
CAREPLAN_WECHAT_ENCODING_AES_KEY to the account's EncodingAESKey) `msg_signature` is the
SHA-1 of token, timestamp, nonce and the encrypted body sorted and joined, so it covers
the body, and the body is AES-256-CBC under the key, ending with our AppID, which is
checked. In 明文模式 (plain text) only `signature` (token, timestamp, nonce) is there: it
does not cover the body. Either way a push older than `max_age` seconds (by its
timestamp) is refused, so a captured query cannot be replayed for long; with a key
configured a plain push is refused outright. Prefer safe mode. The body, XML or JSON as
configured, is read for
`subscribe_msg_sent_event` (a List of MsgID, ErrorCode, ErrorStatus: receipts) and text
messages (a member writing "TD" or "退订" to the account: inbound, the sender being the
openid); other events come back empty. The web side answers "success" to every push it
accepted. The GET WeChat sends when the URL is configured is answered by `verify_url`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

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

DEFAULT_BASE_URL = "https://api.weixin.qq.com"
SEND_PATH = "/cgi-bin/message/subscribe/send"
TOKEN_PATH = "/cgi-bin/stable_token"
REFRESH_CODES = frozenset({40001, 40014, 42001})
TRANSIENT_CODES = frozenset({-1, 45009, 45011})
TOKEN_MARGIN = 300  # seconds before WeChat's expiry that a kept token is fetched again
MAX_BODY = 64 * 1024


class WeChatSubscribe:
    name = "wechat"
    channel = MessageChannel.wechat

    def __init__(
        self,
        app_id: str,
        app_secret: str,
        *,
        token: str = "",
        encoding_aes_key: str = "",
        base_url: str = DEFAULT_BASE_URL,
        send_path: str = SEND_PATH,
        page: str | None = None,
        connect_timeout: float = 3.0,
        read_timeout: float = 5.0,
        max_age: int = 600,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id, self._secret, self._push_token = app_id, app_secret, token
        self._aes_key = _aes_key(encoding_aes_key) if encoding_aes_key else None
        self._send_url = base_url.rstrip("/") + send_path
        self._token_url = base_url.rstrip("/") + TOKEN_PATH
        self.page, self.max_age = page, max_age
        self._clock, self._wall_clock = clock, wall_clock
        self._http = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout), follow_redirects=False
        )
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def close(self) -> None:
        self._http.close()

    # Sending

    def send(self, message: Outgoing) -> Sent:
        payload: dict[str, Any] = {
            "touser": message.to,
            "template_id": message.template_code,
            "data": {key: {"value": value} for key, value in message.variables.items()},
        }
        if self.page:
            payload["page"] = self.page
        token = self.access_token()
        answer = self._post(self._send_url, payload, access_token=token)
        if _errcode(answer) in REFRESH_CODES:
            token = self.access_token(refused=token)
            answer = self._post(self._send_url, payload, access_token=token)
        code = _errcode(answer)
        if code == 0:  # taken: sent even without a msgid (sending again would repeat it)
            msgid = answer.get("msgid")
            return Sent(provider_id="" if msgid is None else str(msgid))
        raise _error(code, answer)

    def access_token(self, *, refused: str | None = None) -> str:
        """The kept token, or a new one when none is kept, it is about to expire or WeChat
        just refused it (`refused`). One thread fetches; the others wait and take its."""
        with self._lock:
            kept = self._token
            if kept is not None and kept != refused and self._clock() < self._expires:
                return kept
            token, expires_in = self._fetch_token(force=False)
            if refused is not None and token == refused:
                token, expires_in = self._fetch_token(force=True)
            self._token = token
            self._expires = self._clock() + max(expires_in - TOKEN_MARGIN, expires_in / 2)
            return token

    def _fetch_token(self, *, force: bool) -> tuple[str, int]:
        answer = self._post(
            self._token_url,
            {
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self._secret,
                "force_refresh": force,
            },
        )
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if isinstance(token, str) and token and isinstance(expires_in, int) and expires_in > 0:
            return token, expires_in
        raise _error(_errcode(answer), answer, fetching_token=True)

    def _post(
        self, url: str, payload: Mapping[str, Any], *, access_token: str | None = None
    ) -> dict[str, Any]:
        params = {"access_token": access_token} if access_token is not None else None
        try:
            response = self._http.post(url, params=params, json=payload)
        except httpx.ConnectTimeout as exc:  # nothing went out
            raise Transient("connect-timeout", type(exc).__name__) from exc
        except httpx.TimeoutException as exc:  # it may have gone out, unanswered
            raise Transient("timeout", type(exc).__name__) from exc
        except httpx.HTTPError as exc:  # the URL it names carries the token: not its text
            raise Transient("network", type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise Transient(f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise Permanent(f"HTTP {response.status_code}")
        try:
            answer = response.json()
        except ValueError as exc:
            raise Transient("bad-answer", "WeChat's answer is no JSON") from exc
        if not isinstance(answer, dict):
            raise Transient("bad-answer", "WeChat's answer is no JSON object")
        return answer

    # Callbacks

    def verify_url(self, query: Mapping[str, str]) -> str:
        """The GET WeChat sends to a newly configured URL: its `echostr`, to be answered as
        the body (text/plain), when the signature checks; BadCallback otherwise."""
        self._check(query.get("signature", ""), query.get("timestamp", ""), query.get("nonce", ""))
        echostr = query.get("echostr", "")
        if not echostr:
            raise BadCallback("no echostr")
        return echostr

    def callback(self, headers: Mapping[str, str], body: bytes) -> Parsed:
        q = QUERY_HEADER
        if len(body) > MAX_BODY:
            raise BadCallback("the body is too long")
        timestamp, nonce = headers.get(f"{q}timestamp", ""), headers.get(f"{q}nonce", "")
        if headers.get(f"{q}encrypt_type", "raw") != "aes":
            if self._aes_key is not None:
                raise BadCallback("a plain push where safe mode is configured")
            self._check(headers.get(f"{q}signature", ""), timestamp, nonce)
            fields = _fields(body)
            if "Encrypt" in fields:
                raise BadCallback("an encrypted push without encrypt_type=aes")
            return _parsed(fields)
        if self._aes_key is None:
            raise BadCallback("an encrypted push, and no EncodingAESKey configured")
        encrypted = _fields(body).get("Encrypt")
        if not isinstance(encrypted, str) or not encrypted:
            raise BadCallback("an encrypted push without Encrypt")
        self._check(headers.get(f"{q}msg_signature", ""), timestamp, nonce, encrypted)
        return _parsed(_fields(self._decrypt(encrypted)))

    def _decrypt(self, encrypted: str) -> bytes:
        """WeChat's message encryption: base64 of AES-256-CBC (IV: the key's first 16
        bytes, PKCS#7 to 32 bytes) of 16 random bytes, the message's length (4 bytes, big
        endian), the message and the AppID."""
        assert self._aes_key is not None
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadCallback("Encrypt is no base64") from exc
        if not data or len(data) % 16:
            raise BadCallback("Encrypt is no AES ciphertext")
        decryptor = Cipher(algorithms.AES(self._aes_key), modes.CBC(self._aes_key[:16])).decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= 32 or plain[-pad:] != bytes([pad]) * pad:
            raise BadCallback("Encrypt does not decrypt under the EncodingAESKey")
        plain = plain[:-pad]
        length = int.from_bytes(plain[16:20], "big")
        message, app_id = plain[20 : 20 + length], plain[20 + length :]
        if len(plain) < 20 + length or app_id != self.app_id.encode():
            raise BadCallback("the encrypted push is not for this AppID")
        return message

    def _check(self, signature: str, timestamp: str, nonce: str, *signed: str) -> None:
        if not self._push_token:
            raise BadCallback("no token configured: every push is refused")
        if not (signature and timestamp and nonce):
            raise BadCallback("the push is not signed")
        try:
            sent_at = int(timestamp)
        except ValueError as exc:
            raise BadCallback("the timestamp is no number") from exc
        expected = sign(self._push_token, timestamp, nonce, *signed)
        if not hmac.compare_digest(signature.lower().encode(), expected.encode()):
            raise BadCallback("the signature does not check")
        if abs(self._wall_clock() - sent_at) > self.max_age:
            raise BadCallback("the push is too old")


def sign(token: str, timestamp: str, nonce: str, *more: str) -> str:
    """WeChat's push signature: the SHA-1 of token, timestamp and nonce (and, in safe mode,
    the encrypted body) sorted and joined."""
    return hashlib.sha1("".join(sorted((token, timestamp, nonce, *more))).encode()).hexdigest()


def _aes_key(encoding_aes_key: str) -> bytes:
    """The EncodingAESKey (43 characters) is the base64 of the 32-byte key, less its "="."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("the EncodingAESKey is no base64") from exc
    if len(key) != 32:
        raise ValueError("the EncodingAESKey is not 43 characters of base64")
    return key


def _fields(body: bytes) -> dict[str, Any]:
    text = body.strip()
    if text.startswith(b"<"):
        return _xml(text)
    if text.startswith(b"{"):
        return _json(text)
    raise BadCallback("the body is neither XML nor JSON")


def _errcode(answer: Mapping[str, Any]) -> int:
    code = answer.get("errcode", 0)
    try:
        return int(code)
    except (TypeError, ValueError):
        return -1


def _error(code: int, answer: Mapping[str, Any], *, fetching_token: bool = False) -> Exception:
    detail = str(answer.get("errmsg", ""))[:200]
    if fetching_token:
        detail = f"access token: {detail}"
    if code in TRANSIENT_CODES or code in REFRESH_CODES:
        return Transient(str(code), detail)
    if code == 0:  # a token answer without its token
        return Transient("bad-answer", detail or "no access_token in WeChat's answer")
    return Permanent(str(code), detail)


def _xml(body: bytes) -> dict[str, Any]:
    # No document type, so no entities: nothing to expand, nothing fetched.
    if b"<!" in body.replace(b"<![CDATA[", b""):
        raise BadCallback("the XML declares a document type or entities")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadCallback("the body is no XML") from exc
    if root.tag != "xml":
        raise BadCallback("the XML is not WeChat's")
    fields: dict[str, Any] = {child.tag: (child.text or "").strip() for child in root}
    event = root.find("SubscribeMsgSentEvent")
    if event is not None:
        fields["List"] = [
            {item.tag: (item.text or "").strip() for item in entry}
            for entry in event.findall("List")
        ]
    return fields


def _json(body: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadCallback("the body is no JSON") from exc
    if not isinstance(fields, dict):
        raise BadCallback("the body is no JSON object")
    entries = fields.get("List")
    if entries is None and isinstance(fields.get("SubscribeMsgSentEvent"), dict):
        entries = fields["SubscribeMsgSentEvent"].get("List")
    if isinstance(entries, dict):
        entries = [entries]
    if entries is not None:
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise BadCallback("List is no list of objects")
        fields["List"] = [{k: str(v) for k, v in entry.items()} for entry in entries]
    return fields


def _at(fields: Mapping[str, Any]) -> datetime | None:
    value = fields.get("CreateTime")
    if value in (None, ""):
        return None
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise BadCallback("CreateTime is no time") from exc


def _parsed(fields: Mapping[str, Any]) -> Parsed:
    kind = str(fields.get("MsgType", ""))
    if not kind:
        raise BadCallback("no MsgType: not WeChat's push")
    at = _at(fields)
    if kind == "event" and fields.get("Event") == "subscribe_msg_sent_event":
        entries: Iterable[Mapping[str, str]] = fields.get("List") or []
        receipts = []
        for entry in entries:
            msgid, code = entry.get("MsgID", ""), entry.get("ErrorCode", "")
            if not msgid or not code:
                raise BadCallback("a List entry without MsgID or ErrorCode")
            delivered = code == "0"
            status = entry.get("ErrorStatus", "")
            error = None if delivered else f"{code} {status}".strip()
            receipts.append(Receipt(provider_id=msgid, delivered=delivered, at=at, error=error))
        if not receipts:
            raise BadCallback("subscribe_msg_sent_event without a List")
        return Parsed(receipts=receipts)
    if kind == "text":
        sender, content = fields.get("FromUserName"), fields.get("Content")
        if not isinstance(sender, str) or not sender or not isinstance(content, str):
            raise BadCallback("a text message without its sender or content")
        return Parsed(inbound=[Inbound(sender=sender, text=content.strip(), at=at)])
    return Parsed()
