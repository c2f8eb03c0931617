"""Configuration of the Alpaca adapter: endpoints, keys, timeouts and retry policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr


class AlpacaConfig(BaseModel):
    """Everything the Alpaca adapter can be told. Keys are secrets and are never logged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr = Field(description="Alpaca API key id (APCA-API-KEY-ID).")
    secret_key: SecretStr = Field(description="Alpaca API secret key (APCA-API-SECRET-KEY).")
    paper: bool = Field(
        default=True, description="True: the paper endpoints; False: live trading endpoints."
    )
    url_override: str | None = Field(
        default=None,
        description="REST base URL instead of Alpaca's (without /v2), e.g. a fake server.",
    )
    stream_url_override: str | None = Field(
        default=None, description="trade_updates websocket URL instead of Alpaca's."
    )
    venue: str = Field(default="alpaca", min_length=1, description="The venue's name in events.")
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long a REST call may take; after that its outcome is unknown.",
    )
    rate_limit_retries: int = Field(
        default=4, ge=0, le=20, description="Retries of a call Alpaca answered with 429."
    )
    backoff_seconds: float = Field(
        default=0.5, ge=0, le=60, description="First wait after a 429; doubled on each retry."
    )
    backoff_max_seconds: float = Field(
        default=8.0, ge=0, le=300, description="Longest wait between retries."
    )
    open_orders_limit: int = Field(
        default=500, ge=1, le=500, description="Open orders asked for per listing (Alpaca max)."
    )
