"""The risk control plane over a real nats-server: the meta-agent (risk API) and the
broker-adapters (`POST /orders`) as services, each with its own connection.

A block typed in lower case must refuse the order `POST /orders` makes of the same symbol (it
upper-cases it), and both services answer errors in the one documented body.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.integration.manual_orders import manual_orders

from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings

TOKEN = "qa-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ORDER = {"symbol": "AAPL", "side": "buy", "quantity": "1", "order_type": "market"}


@dataclass
class Platform:
    """HTTP clients of the meta-agent (8003) and the broker-adapters (8006)."""

    risk: httpx.AsyncClient
    broker: httpx.AsyncClient


@pytest.fixture
async def platform(fresh_nats_server: EmbeddedNats, tmp_path: Path) -> AsyncIterator[Platform]:
    settings = AtpSettings(var_dir=tmp_path, broker_port=0, meta_agent_port=0, api_token=TOKEN)
    async with (
        manual_orders(fresh_nats_server.url, settings) as services,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=services.risk.app), base_url="http://meta"
        ) as risk,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=services.broker.app), base_url="http://broker"
        ) as broker,
    ):
        yield Platform(risk, broker)


async def test_a_lower_case_block_refuses_the_order_and_unblock_lets_it_through(
    platform: Platform,
) -> None:
    blocked = await platform.risk.post("/risk/symbols/aapl/block", headers=AUTH)
    assert blocked.json() == {"symbol": "AAPL", "blocked_symbols": ["AAPL"]}
    refused = await platform.broker.post("/orders", json=ORDER, headers=AUTH)
    assert refused.status_code == 409, refused.text
    assert "symbol_blocked" in refused.json()["message"]
    lower = await platform.broker.post("/orders", json={**ORDER, "symbol": "aapl"}, headers=AUTH)
    assert lower.status_code == 409, lower.text

    unblocked = await platform.risk.post("/risk/symbols/aapl/unblock", headers=AUTH)
    assert unblocked.json()["blocked_symbols"] == []
    filled = await platform.broker.post("/orders", json=ORDER, headers=AUTH)
    assert filled.status_code == 201, filled.text


def _error(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message", "details"}, body
    return body


async def test_both_services_answer_every_error_in_the_documented_body(
    platform: Platform,
) -> None:
    for client, mutating in ((platform.risk, "/risk/kill-switch"), (platform.broker, "/orders")):
        unknown = await client.get("/nope")
        assert (unknown.status_code, _error(unknown)["code"]) == (404, "not_found")
        wrong = await client.put(mutating)
        assert (wrong.status_code, _error(wrong)["code"]) == (405, "method_not_allowed")
        assert "POST" in wrong.headers["allow"]
        head = await client.head("/healthz")
        assert (head.status_code, head.headers["allow"]) == (405, "GET")
        for header in ({}, {"Authorization": "Bearer "}):
            refused = await client.post(mutating, json={}, headers=header)
            assert (refused.status_code, _error(refused)["code"]) == (401, "unauthorized")
            assert refused.headers["www-authenticate"] == "Bearer"
