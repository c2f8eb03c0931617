"""Platform settings: embedded defaults, and no exposed control plane without a token."""

from __future__ import annotations

import subprocess
import sys

import pytest

from atp.core.errors import ConfigurationError
from atp.services.settings import AtpSettings


def test_no_configuration_means_the_embedded_nats_and_sqlite_under_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ATP_NATS_URL", "ATP_DATABASE_URL", "ATP_HOST", "ATP_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    settings = AtpSettings()
    assert settings.uses_embedded_nats
    assert settings.effective_nats_url == f"nats://127.0.0.1:{settings.embedded_nats_port}"
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("/var/atp.db")


def test_external_nats_and_postgres_are_taken_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATP_NATS_URL", "nats://10.0.0.1:4222,nats://10.0.0.2:4222")
    monkeypatch.setenv("ATP_DATABASE_URL", "postgresql+asyncpg://atp@db/atp")
    settings = AtpSettings()
    assert not settings.uses_embedded_nats
    assert settings.effective_nats_url == "nats://10.0.0.1:4222,nats://10.0.0.2:4222"
    assert settings.effective_database_url == "postgresql+asyncpg://atp@db/atp"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::"])
def test_binding_off_loopback_without_a_token_is_refused(
    monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.delenv("ATP_API_TOKEN", raising=False)
    monkeypatch.setenv("ATP_HOST", host)
    with pytest.raises(ConfigurationError, match="ATP_API_TOKEN"):
        AtpSettings()


def test_with_a_token_any_address_is_allowed_and_the_token_never_shows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ATP_HOST", "0.0.0.0")
    monkeypatch.setenv("ATP_API_TOKEN", "s3cret-token-value")
    settings = AtpSettings()
    assert settings.api_token_value == "s3cret-token-value"
    assert "s3cret-token-value" not in repr(settings)
    assert "s3cret-token-value" not in str(settings.model_dump())


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("short-secret", "has 12 characters"),
        ("sixteen chars ok", "contains white space"),
    ],
)
def test_a_set_but_empty_or_weak_token_stops_the_start_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    # An empty ATP_API_TOKEN used to be accepted, matched `Authorization: Bearer ` and also
    # passed for "a token is required off loopback".
    for host in ("127.0.0.1", "0.0.0.0"):
        monkeypatch.setenv("ATP_HOST", host)
        monkeypatch.setenv("ATP_API_TOKEN", value)
        with pytest.raises(ConfigurationError, match=f"ATP_API_TOKEN {problem}") as refused:
            AtpSettings()
        assert "at least 16 characters" in str(refused.value)
        assert value.strip() == "" or value not in str(refused.value)


def test_a_token_of_sixteen_characters_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATP_HOST", "0.0.0.0")
    monkeypatch.setenv("ATP_API_TOKEN", "0123456789abcdef")
    assert AtpSettings().api_token_value == "0123456789abcdef"


def test_reading_the_settings_loads_no_web_framework() -> None:
    """The backtest CLI and bench read the settings; FastAPI would add ~7 MB to their memory."""
    probe = (
        "import sys, atp.services.settings; "
        "print(sorted({'fastapi', 'starlette'} & set(sys.modules)))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
