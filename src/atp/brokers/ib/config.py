"""Configuration of the Interactive Brokers adapter: where TWS / IB Gateway listens, who we are."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IbConfig(BaseModel):
    """Everything the IB adapter can be told. TWS holds the credentials; there are none here."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", min_length=1, description="TWS / IB Gateway host.")
    port: int = Field(
        default=7497,
        ge=1,
        le=65_535,
        description="TWS API port (TWS paper 7497, live 7496; IB Gateway paper 4002, live 4001).",
    )
    client_id: int = Field(
        default=17,
        ge=1,
        le=2_147_483_647,
        description="API client id; keep it fixed so a restart sees its own open orders again.",
    )
    account: str = Field(
        default="", description="Account to trade; empty: the only account TWS manages."
    )
    venue: str = Field(default="ib", min_length=1, description="The venue's name in events.")
    exchange: str = Field(default="SMART", min_length=1, description="Routing exchange of stocks.")
    currency: str = Field(
        default="USD", min_length=3, max_length=3, description="Currency of stocks and cash."
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="How long a connect, a request or an order acknowledgement may take; after "
        "that a submission's outcome is unknown.",
    )
    reconnect_delay_seconds: float = Field(
        default=2.0, gt=0, le=300, description="First wait before reconnecting; doubled per try."
    )
    reconnect_max_delay_seconds: float = Field(
        default=60.0, gt=0, le=3_600, description="Longest wait between reconnect attempts."
    )
