"""Settings, read once from the environment (CAREPLAN_*) and checked at start-up."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER_SECRET = "change-me"
PLACEHOLDERS = frozenset({PLACEHOLDER_SECRET, "", "secret", "changeme", "change-this"})
MIN_SECRET = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CAREPLAN_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        default=f"sqlite:///{ROOT / 'var' / 'careplan.db'}",
        description="SQLAlchemy URL; SQLite by default, PostgreSQL for a whole chain.",
    )
    timezone: str = Field(
        default="Asia/Shanghai", description="The chain's time zone: it decides what 'today' is."
    )
    protocols_dir: Path = Field(
        default=ROOT / "protocols", description="Where YAML protocols live."
    )
    work_dir: Path = Field(
        default=ROOT / "var" / "work",
        description="Where large till uploads wait for the job that imports them (several "
        "consumer machines: a volume they all mount).",
    )
    jobs_url: str = Field(
        default="",
        description="The job engine's queue: sqlite:///PATH (a file; by default jobs.db beside "
        "the SQLite database, or var/jobs.db) or redis://HOST:PORT/DB for a chain's consumers.",
    )
    jobs_queue: str = Field(
        default="careplan",
        pattern=r"^[A-Za-z0-9_]+$",
        description="The queue's name: installations sharing one Redis keep theirs apart.",
    )
    jobs_lease_seconds: int = Field(
        default=45,
        ge=1,
        le=3600,
        description="How long a consumer holds a job without reporting progress before "
        "another may take it over (seconds).",
    )
    messages_window: str = Field(
        default="09:00-20:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="When messages to members may leave, in the chain's time zone "
        "(HH:MM-HH:MM); outside it they wait for the next opening.",
    )
    messages_weekly_cap: int = Field(
        default=2,
        ge=1,
        le=14,
        description="At most this many messages to a member in any 7 days (a lecture-day "
        "reminder always goes, and does not count).",
    )
    messages_sms_provider: Literal["log", "aliyun"] = Field(
        default="log",
        description="Who sends SMS: log (keeps what would be sent, for the demo and tests) "
        "or aliyun.",
    )
    messages_wechat_provider: Literal["log", "wechat"] = Field(
        default="log", description="Who sends WeChat subscribe messages: log or wechat."
    )
    secret_key: str = Field(
        default=PLACEHOLDER_SECRET, description="Signs sessions; must be set outside development."
    )
    session_hours: int = Field(
        default=12, ge=1, le=72, description="Absolute lifetime of a session or API token (hours)."
    )
    idle_minutes: int = Field(
        default=30, ge=5, le=720, description="A web session unused this long ends (minutes)."
    )
    host: str = Field(default="127.0.0.1", description="Address `careplan serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `careplan serve` binds to.")
    workers: int = Field(
        default=1, ge=1, le=64, description="How many app processes `careplan serve` starts."
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1",
        description="Comma-separated addresses or networks of the reverse proxies whose "
        "X-Forwarded-For and X-Forwarded-Proto are believed; empty: none.",
    )
    sms_aliyun_access_key_id: str = Field(
        default="",
        description="Aliyun SMS: the AccessKey ID of a RAM user allowed SendSms; empty: no "
        "SMS through Aliyun.",
    )
    sms_aliyun_access_key_secret: str = Field(
        default="", description="Aliyun SMS: that AccessKey's secret."
    )
    sms_aliyun_endpoint: str = Field(
        default="dysmsapi.aliyuncs.com",
        description="Aliyun SMS: the API's host (HTTPS), or http://HOST:PORT for a local test "
        "server.",
    )
    sms_aliyun_region: str = Field(
        default="cn-hangzhou", description="Aliyun SMS: the region the AccessKey signs for."
    )
    sms_callback_secret: str = Field(
        default="",
        description="The token in the URL of Aliyun's delivery-report and reply pushes "
        "(?token=...); empty: every push is refused.",
    )
    wechat_app_id: str = Field(
        default="", description="WeChat: the Mini Program's or Official Account's AppID."
    )
    wechat_app_secret: str = Field(default="", description="WeChat: its AppSecret.")
    wechat_token: str = Field(
        default="",
        description="WeChat: the Token of the server configuration (消息推送), which signs its "
        "pushes; empty: every push is refused.",
    )
    wechat_encoding_aes_key: str = Field(
        default="",
        description="WeChat: the EncodingAESKey of 安全模式 (safe mode), which encrypts and, "
        "with the Token, signs the whole push; empty: plain pushes (明文模式).",
    )
    wechat_base_url: str = Field(
        default="https://api.weixin.qq.com",
        description="WeChat: the API's base URL (a local server in tests).",
    )
    owner_sales_share: float = Field(
        default=0.70,
        ge=0,
        le=1,
        description="The clerk's month: the part of a member's sale credited to the member's "
        "owner on the purchase day; the rest goes to the staff member who made the sale (a "
        "till line without a seller: all to the owner).",
    )
    log_format: Literal["json", "text"] | None = Field(
        default=None,
        description="json (one object a line) or text; unset: json in production, else text.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: str) -> str:
        # uvicorn takes a mistyped entry as a literal name that no peer ever has: the
        # proxy's forwarded addresses would be ignored without a word, and every sign-in
        # failure of the chain counted on the proxy's one address.
        for item in proxy_list(value):
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return value

    @model_validator(mode="after")
    def _no_placeholder_secret_in_production(self) -> Settings:
        # A placeholder secret is fine on a laptop and fatal on a chain's server: anyone who
        # knows it (it is in this file) could forge every CSRF token.
        if self.environment != "production":
            return self
        if self.secret_key.strip() in PLACEHOLDERS:
            raise ValueError("CAREPLAN_SECRET_KEY is still a placeholder; set a real secret")
        if len(self.secret_key) < MIN_SECRET:
            raise ValueError(
                f"CAREPLAN_SECRET_KEY is too short ({len(self.secret_key)} characters); "
                f"use at least {MIN_SECRET} random characters"
            )
        return self

    @field_validator("sms_callback_secret")
    @classmethod
    def _long_callback_secret(cls, value: str) -> str:
        # It is all that tells Aliyun's push from anyone's: a guessable one lets anyone
        # mark messages delivered or withdraw a member's consent.
        if value and len(value) < MIN_SECRET:
            raise ValueError(f"use at least {MIN_SECRET} random characters")
        return value

    @field_validator("wechat_encoding_aes_key")
    @classmethod
    def _aes_key(cls, value: str) -> str:
        if value and (len(value) != 43 or not value.isascii() or not value.isalnum()):
            raise ValueError("an EncodingAESKey is 43 letters and digits")
        return value

    @field_validator("jobs_url")
    @classmethod
    def _known_queue(cls, value: str) -> str:
        if value and not value.startswith(("sqlite:///", "redis://", "rediss://")):
            raise ValueError("must be sqlite:///PATH or redis://HOST:PORT/DB")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def logs_as(self) -> Literal["json", "text"]:
        """A server's logs are read by machines (one JSON object a line); a developer's
        terminal by a person."""
        if self.log_format is not None:
            return self.log_format
        return "json" if self.environment == "production" else "text"

    @property
    def jobs_queue_url(self) -> str:
        """The queue the settings name; unset, a file beside the SQLite database (so each
        database, a test's too, has its own), or var/jobs.db beside a PostgreSQL one."""
        if self.jobs_url:
            return self.jobs_url
        if self.database_url.startswith("sqlite:///"):
            database = Path(self.database_url.removeprefix("sqlite:///"))
            return f"sqlite:///{database.parent / 'jobs.db'}"
        return f"sqlite:///{ROOT / 'var' / 'jobs.db'}"

    @property
    def jobs_embedded(self) -> bool:
        """No queue was named: `careplan serve` runs the consumer itself."""
        return not self.jobs_url


def proxy_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


@lru_cache
def get_settings() -> Settings:
    return Settings()
