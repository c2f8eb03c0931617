"""The risk API as an operator drives it: symbols in any case, and limits that never silently
fall back to their defaults (PUT replaces the whole document, PATCH changes only what it names).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from atp.api.app import create_app
from atp.bus import risk_rpc
from atp.bus.memory import InMemoryBus
from atp.bus.subjects import CONTROL_ACTIONS
from atp.core.enums import Side, TradingState
from atp.core.events import Envelope
from atp.risk.config import ConcentrationConfig, InstrumentCap, PositionCapConfig, RiskEngineConfig
from atp.services.risk_wiring import RiskComponent
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import new_registry

from .conftest import clock_at, proposal

# What the service was started with (as from ATP_RISK_LIMITS): not the code defaults.
STARTED_WITH = RiskEngineConfig(
    daily_loss={"max_loss": Decimal(3000), "action": TradingState.HALTED},
    position_caps=PositionCapConfig(default=InstrumentCap(max_quantity=Decimal(800))),
    concentration=ConcentrationConfig(max_share_of_equity=None),
)
AAPL_CAPPED = {"position_caps": {"per_symbol": {"AAPL": {"max_quantity": "500"}}}}


@dataclass
class Api:
    """The risk component on an in-memory bus, and an HTTP client of its router."""

    bus: InMemoryBus
    component: RiskComponent
    client: httpx.AsyncClient
    actions: list[Envelope[Any]]

    async def limits(self) -> dict[str, Any]:
        """The limits as `GET /risk/limits` answers them."""
        answer: dict[str, Any] = (await self.client.get("/risk/limits")).json()
        return answer


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    clock = clock_at()
    bus = InMemoryBus(clock=clock)
    registry = new_registry()
    component = RiskComponent(AtpSettings(), clock=clock, registry=registry, config=STARTED_WITH)
    await component.start(bus)
    actions: list[Envelope[Any]] = []

    async def keep(envelope: Envelope[Any]) -> None:
        actions.append(envelope)

    await bus.subscribe(CONTROL_ACTIONS, durable="watch-actions", handler=keep)

    async def ready() -> dict[str, bool]:
        return {"bus": True}

    app = create_app(
        service="meta-agent", registry=registry, readiness=ready, routers=[component.router]
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://risk") as client:
        yield Api(bus, component, client, actions)
    await component.stop()


async def _approved(bus: InMemoryBus, symbol: str, quantity: int = 1) -> bool:
    """Whether a manual buy passes, asked as `POST /orders` asks (symbol upper-cased)."""
    verdict = await risk_rpc.request_risk_check(bus, proposal(symbol, Side.BUY, quantity))
    return verdict.approved


async def test_blocking_a_lower_case_symbol_blocks_the_upper_case_orders(api: Api) -> None:
    blocked = await api.client.post("/risk/symbols/aapl/block")
    assert blocked.json() == {"symbol": "AAPL", "blocked_symbols": ["AAPL"]}
    verdict = await risk_rpc.request_risk_check(api.bus, proposal("AAPL", Side.BUY, 1))
    assert [c.rule for c in verdict.checks if not c.passed] == ["symbol_blocked"]
    assert await _approved(api.bus, "MSFT")

    unblocked = await api.client.post("/risk/symbols/Aapl/unblock")
    assert unblocked.json() == {"symbol": "AAPL", "blocked_symbols": []}
    assert await _approved(api.bus, "AAPL")
    assert [a.payload.parameters["symbol"] for a in api.actions] == ["AAPL", "AAPL"]


@pytest.mark.parametrize("symbol", ["a%20b", "AAPL_X", "ABCDEFGHIJKLMNOPQ", "%2A"])
async def test_a_symbol_post_orders_would_refuse_is_a_422_and_blocks_nothing(
    api: Api, symbol: str
) -> None:
    answer = await api.client.post(f"/risk/symbols/{symbol}/block")
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input" and "symbol" in body["message"]
    assert api.component.state().blocked_symbols == ()


async def test_a_partial_put_is_refused_naming_what_it_leaves_out_and_changes_nothing(
    api: Api,
) -> None:
    before = await api.limits()
    answer = await api.client.put("/risk/limits", json={"daily_loss": {"max_loss": "2500"}})
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["code"] == "invalid_input"
    missing = {".".join(map(str, e["location"])) for e in body["details"]}
    assert {
        "body.initial_cash",
        "body.daily_loss.action",
        "body.daily_loss.exchange_timezone",
        "body.daily_loss.day_boundary",
        "body.position_caps",
        "body.correlation",
        "body.kill_switch",
        "body.velocity",
        "body.concentration",
        "body.short_sales",
        "body.pending_ttl_seconds",
        "body.violations_kept",
    } == missing
    assert "body.velocity: Field required" in body["message"]
    assert await api.limits() == before
    assert api.actions == []


async def test_put_of_the_whole_document_as_read_replaces_the_limits(api: Api) -> None:
    # The documented round trip: read the limits, change one field, write them back.
    limits = await api.limits()
    limits["position_caps"]["per_symbol"]["AAPL"] = {"max_quantity": "500", "max_notional": None}
    answer = await api.client.put("/risk/limits", json=limits)
    assert answer.status_code == 200, answer.text
    assert answer.json() == limits
    # Even inside a per-symbol entry a missing field is refused: it would drop that cap.
    limits["position_caps"]["per_symbol"]["AAPL"] = {"max_quantity": "400"}
    answer = await api.client.put("/risk/limits", json=limits)
    assert answer.status_code == 422
    locations = [e["location"] for e in answer.json()["details"]]
    assert locations == [["body", "position_caps", "per_symbol", "AAPL", "max_notional"]]
    assert api.component.limits().position_caps.per_symbol["AAPL"].max_quantity == 500


async def test_patch_changes_only_the_fields_it_names(api: Api) -> None:
    assert (await api.client.patch("/risk/limits", json=AAPL_CAPPED)).status_code == 200
    before = await api.limits()
    answer = await api.client.patch(
        "/risk/limits",
        content=b'{"daily_loss": {"max_loss": "2500"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert answer.status_code == 200, answer.text
    after = answer.json()
    assert after["daily_loss"] == {**before["daily_loss"], "max_loss": "2500"}
    assert after["daily_loss"]["action"] == "halted"  # as started, not the code default
    assert after == {**before, "daily_loss": after["daily_loss"]}
    assert after["position_caps"]["per_symbol"] == {
        "AAPL": {"max_quantity": "500", "max_notional": None}
    }
    assert await api.limits() == after
    # Recorded like a PUT: the whole resulting document, so a restart restores it.
    recorded = [a.payload for a in api.actions if a.payload.action == "set_limits"]
    assert recorded[-1].parameters["config"] == after


async def test_patch_null_turns_a_limit_off_and_removes_a_per_symbol_entry(api: Api) -> None:
    await api.client.patch("/risk/limits", json=AAPL_CAPPED)
    await api.client.patch(
        "/risk/limits", json={"position_caps": {"per_symbol": {"msft": {"max_quantity": "10"}}}}
    )
    caps = api.component.limits().position_caps.per_symbol
    assert sorted(caps) == ["AAPL", "MSFT"]
    assert not await _approved(api.bus, "MSFT", 11)

    answer = await api.client.patch(
        "/risk/limits",
        json={"daily_loss": {"max_loss": None}, "position_caps": {"per_symbol": {"aapl": None}}},
    )
    assert answer.status_code == 200, answer.text
    limits = api.component.limits()
    assert limits.daily_loss.max_loss is None
    assert sorted(limits.position_caps.per_symbol) == ["MSFT"]
    assert limits.position_caps.default.max_quantity == 800


@pytest.mark.parametrize(
    ("patch", "location"),
    [
        ({"daily_loss": {"max_loss": "2500", "max_gain": "1"}}, ["body", "daily_loss", "max_gain"]),
        ({"surprise": 1}, ["body", "surprise"]),
        ({"velocity": {"total_per_second": 0}}, ["body", "velocity", "total_per_second"]),
        ({"daily_loss": {"action": None}}, ["body", "daily_loss", "action"]),
        ({"position_caps": {"per_symbol": None}}, ["body", "position_caps", "per_symbol"]),
    ],
)
async def test_a_patch_with_an_unknown_field_or_a_bad_value_is_a_422_and_changes_nothing(
    api: Api, patch: dict[str, Any], location: list[str]
) -> None:
    before = await api.limits()
    answer = await api.client.patch("/risk/limits", json=patch)
    assert answer.status_code == 422, answer.text
    assert location in [e["location"] for e in answer.json()["details"]]
    assert await api.limits() == before
    assert api.actions == []


@pytest.mark.parametrize("method", ["put", "patch"])
async def test_initial_cash_cannot_change_at_runtime(api: Api, method: str) -> None:
    body = {**(await api.limits()), "initial_cash": "50000"}
    answer = await api.client.request(method.upper(), "/risk/limits", json=body)
    assert answer.status_code == 422
    assert "initial_cash cannot change at runtime" in answer.json()["message"]
    assert api.component.limits().initial_cash == 100000


async def test_a_patch_must_be_a_json_object(api: Api) -> None:
    for body in ([], "x", None):
        answer = await api.client.patch("/risk/limits", json=body)
        assert answer.status_code == 422, answer.text


async def test_symbols_in_the_limits_are_upper_cased_and_may_not_repeat(api: Api) -> None:
    limits = await api.limits()
    limits["position_caps"]["per_symbol"] = {"aapl": {"max_quantity": "5", "max_notional": None}}
    limits["correlation"]["buckets"] = {"tech": ["aapl", "msft"]}
    answer = await api.client.put("/risk/limits", json=limits)
    assert answer.status_code == 200, answer.text
    assert list(answer.json()["position_caps"]["per_symbol"]) == ["AAPL"]
    assert answer.json()["correlation"]["buckets"] == {"tech": ["AAPL", "MSFT"]}
    assert not await _approved(api.bus, "AAPL", 6)

    both = {"aapl": {"max_quantity": "5"}, "AAPL": {"max_quantity": "6"}}
    answer = await api.client.patch("/risk/limits", json={"position_caps": {"per_symbol": both}})
    assert answer.status_code == 422
    assert "name one symbol, AAPL" in answer.json()["message"]
    bad = {"position_caps": {"per_symbol": {"AA PL": {"max_quantity": "5"}}}}
    assert (await api.client.patch("/risk/limits", json=bad)).status_code == 422
