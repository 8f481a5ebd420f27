"""Settings: a production server refuses to start on a placeholder or short secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from careplan.config import PLACEHOLDER_SECRET, Settings, get_settings
from web.cli import app

STRONG = "k3Jd9sLq0ZxV7mNw2RtY6uPa8EcB4hGf"  # 32 characters


@pytest.mark.parametrize("secret", [PLACEHOLDER_SECRET, "", "secret", "short-but-not-placeholder"])
def test_production_refuses_a_placeholder_or_short_secret(secret: str):
    with pytest.raises(ValidationError, match="CAREPLAN_SECRET_KEY"):
        Settings(environment="production", secret_key=secret)


def test_production_takes_a_real_secret_and_development_the_placeholder():
    assert Settings(environment="production", secret_key=STRONG).secret_key == STRONG
    assert Settings(environment="development").secret_key == PLACEHOLDER_SECRET


def test_serve_in_production_with_the_placeholder_stops_with_a_plain_message(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("CAREPLAN_ENVIRONMENT", "production")
    monkeypatch.delenv("CAREPLAN_SECRET_KEY", raising=False)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve", "--port", "8099"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "CAREPLAN_SECRET_KEY is still a placeholder" in result.output
    assert "Traceback" not in result.output


def test_logs_are_json_in_production_and_text_elsewhere_unless_chosen():
    assert Settings(environment="production", secret_key=STRONG).logs_as == "json"
    assert Settings(environment="development").logs_as == "text"
    assert Settings(environment="development", log_format="json").logs_as == "json"
    assert (
        Settings(environment="production", secret_key=STRONG, log_format="text").logs_as == "text"
    )
    with pytest.raises(ValidationError, match="log_format"):
        Settings(log_format="xml")  # type: ignore[arg-type]


@pytest.mark.parametrize("proxies", ["127.0.0.1,::1", "10.0.0.5", " 10.0.0.5 , 10.1.0.0/16", ""])
def test_trusted_proxies_are_addresses_or_networks(proxies: str):
    assert Settings(trusted_proxies=proxies).trusted_proxies == proxies


@pytest.mark.parametrize("proxies", ["nginx.local", "10.0.0.300", "10.0.0.5;10.0.0.6", "*"])
def test_a_trusted_proxy_that_is_no_address_is_refused_at_start_up(proxies: str):
    # Taken as given, it would match no peer: forwarded addresses silently ignored.
    with pytest.raises(ValidationError, match="is not an IP address or network"):
        Settings(trusted_proxies=proxies)


def test_every_setting_is_in_the_readmes_table():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Settings (environment)", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in Settings.model_fields if f"CAREPLAN_{name.upper()}" not in table]
    assert not missing, f"settings missing from README.md's table: {missing}"


def test_the_job_queue_is_a_file_beside_the_database_unless_one_is_named():
    """`make run` needs no setting: its queue is var/jobs.db, and `careplan serve` runs
    the consumer; a chain names its Redis, and runs consumers of its own."""
    beside = Settings(database_url="sqlite:////srv/careplan/careplan.db")
    assert beside.jobs_queue_url == "sqlite:////srv/careplan/jobs.db" and beside.jobs_embedded
    chain = Settings(database_url="postgresql+psycopg://db/careplan", jobs_url="redis://q:6379/0")
    assert chain.jobs_queue_url == "redis://q:6379/0" and not chain.jobs_embedded


def test_a_job_queue_of_another_kind_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="sqlite:///PATH or redis://"):
        Settings(jobs_url="amqp://q")


def test_a_short_sms_callback_secret_is_refused_at_start_up():
    # It is all that tells Aliyun's push from anyone's (careplan/outreach/aliyun.py).
    with pytest.raises(ValidationError, match="at least 32 random characters"):
        Settings(sms_callback_secret="guessable")
    assert Settings(sms_callback_secret="").sms_callback_secret == ""
    assert Settings(sms_callback_secret="x" * 32).sms_callback_secret == "x" * 32


def test_an_encoding_aes_key_that_is_no_key_is_refused_at_start_up():
    with pytest.raises(ValidationError, match="43 letters and digits"):
        Settings(wechat_encoding_aes_key="abc")
    assert len(Settings(wechat_encoding_aes_key="a" * 43).wechat_encoding_aes_key) == 43
