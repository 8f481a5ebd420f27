"""Settings: a production server refuses to start on a placeholder or short secret."""

from __future__ import annotations

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
