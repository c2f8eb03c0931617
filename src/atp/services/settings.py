"""Platform settings, read once from the environment (`ATP_` prefix) and passed down.

Nothing else in ATP reads `os.environ`. With no settings at all the platform runs on its embedded
defaults: a nats-server it starts itself and SQLite, both under `./var/`.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from atp.core.errors import ConfigurationError
from atp.core.tokens import MIN_TOKEN_LENGTH, check_api_token

DEFAULT_DATA_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data"


class AtpSettings(BaseSettings):
    """Everything a service needs to know about its surroundings."""

    model_config = SettingsConfigDict(env_prefix="ATP_", frozen=True, extra="ignore")

    nats_url: str | None = Field(
        default=None,
        description="NATS server(s), comma-separated. Unset: the embedded nats-server is used.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the database. Unset: SQLite at var/atp.db.",
    )
    var_dir: Path = Field(default=Path("var"), description="Where embedded state lives.")
    host: str = Field(default="127.0.0.1", description="Address the HTTP servers bind to.")
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token for mutating endpoints; required off loopback. When set, at "
        f"least {MIN_TOKEN_LENGTH} characters without white space (an empty one is refused).",
    )
    alpaca_api_key: SecretStr | None = Field(
        default=None, description="Alpaca API key id (ATP_ALPACA_API_KEY); never logged."
    )
    alpaca_secret_key: SecretStr | None = Field(
        default=None, description="Alpaca API secret key (ATP_ALPACA_SECRET_KEY); never logged."
    )
    embedded_nats_port: int = Field(
        default=4333, ge=1, le=65535, description="Port of the embedded nats-server."
    )
    market_data_port: int = Field(default=8001, ge=0, le=65535, description="market-data HTTP.")
    agents_port: int = Field(default=8002, ge=0, le=65535, description="agents HTTP.")
    meta_agent_port: int = Field(default=8003, ge=0, le=65535, description="meta-agent HTTP.")
    backtester_port: int = Field(default=8005, ge=0, le=65535, description="backtester HTTP.")
    broker_port: int = Field(default=8006, ge=0, le=65535, description="broker-adapters HTTP.")
    audit_port: int = Field(default=8007, ge=0, le=65535, description="audit HTTP.")
    data_dir: Path = Field(
        default=DEFAULT_DATA_DIR, description="Folder of market data files (../shared/data)."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")

    @model_validator(mode="after")
    def _token_required_off_loopback(self) -> AtpSettings:
        if self.api_token is not None:
            check_api_token(self.api_token.get_secret_value())
        if not _is_loopback(self.host) and self.api_token is None:
            raise ConfigurationError(
                f"ATP_HOST={self.host} is not a loopback address: set ATP_API_TOKEN first"
            )
        return self

    @property
    def effective_nats_url(self) -> str:
        """The NATS URL to connect to, the embedded server's when none is configured."""
        return self.nats_url or f"nats://127.0.0.1:{self.embedded_nats_port}"

    @property
    def uses_embedded_nats(self) -> bool:
        """True when the platform runs its own nats-server."""
        return self.nats_url is None

    @property
    def effective_database_url(self) -> str:
        """The database URL, SQLite under var/ when none is configured."""
        return self.database_url or f"sqlite+aiosqlite:///{(self.var_dir / 'atp.db').resolve()}"

    @property
    def api_token_value(self) -> str | None:
        """The token's secret value, for the auth dependency only."""
        return self.api_token.get_secret_value() if self.api_token is not None else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
