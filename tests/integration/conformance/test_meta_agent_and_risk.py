"""The meta-agent and its risk component on a real nats-server, each event delivered twice and
redelivered after the service died between its effect and its ack, against a reference run on a
second server where each event arrives once: the same decisions (one per symbol and signal, the
same client order ids), one violation per denial, and to the cent the same risk state."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from tests.integration.storage.events import Story, story

from atp.bus.nats import NatsBus
from atp.bus.subjects import DECISIONS_META, RISK_VIOLATIONS
from atp.core.enums import OrderStatus, Side
from atp.core.events import Envelope, Fill, OrderUpdate, envelope_for
from atp.core.ids import ClientOrderId, FillId, OrderId, Symbol
from atp.risk.config import InstrumentCap, PositionCapConfig, RiskEngineConfig
from atp.services import meta_agent
from atp.services.embedded_nats import EmbeddedNats
from atp.services.meta_agent import MetaAgentService, MetaAgentSettings
from atp.services.settings import AtpSettings

from .crash import DyingBus, clean_server, connect, eventually, twice

AGENTS = ["momentum-1", "sma-1", "meanrev-1"]
# MSFT may hold at most 5: the story's buy of 10 is denied by the position cap.
LIMITS = RiskEngineConfig(
    position_caps=PositionCapConfig(per_symbol={"MSFT": InstrumentCap(max_quantity=Decimal(5))})
)


async def _meta(tmp_path: Path, bus: Any) -> MetaAgentService:
    settings = AtpSettings(var_dir=tmp_path, meta_agent_port=0)
    service = await meta_agent.bootstrap(
        settings,
        bus=bus,
        risk_config=LIMITS,
        meta_settings=MetaAgentSettings(agents=AGENTS, window_timeout_seconds=0.5),
    )
    await service.start()
    return service


def _decision_facts(envelopes: list[Envelope[Any]]) -> list[tuple[Any, ...]]:
    """What a decision says, without the moment it was taken."""
    facts = []
    for envelope in envelopes:
        d = envelope.payload
        votes = tuple((v.agent_id, v.vote, v.quantity, v.intent_id) for v in d.votes)
        checks = tuple((c.rule, c.passed) for c in d.risk_checks)
        facts.append(
            (
                *(envelope.event_id, d.decision_id, d.symbol, d.signal_id, d.action, d.quantity),
                *(d.approved, d.client_order_id, votes, checks),
            )
        )
    return sorted(facts)


def _violation_facts(envelopes: list[Envelope[Any]]) -> list[tuple[Any, ...]]:
    facts = [
        (
            *(e.event_id, e.payload.violation_id, e.payload.rule, e.payload.symbol),
            *(e.payload.decision_id, e.payload.limit, e.payload.observed),
        )
        for e in envelopes
    ]
    return sorted(facts)


async def _reference_decisions(
    server: EmbeddedNats, tmp_path: Path, stories: list[Story]
) -> tuple[list[Envelope[Any]], list[Envelope[Any]]]:
    """Decisions and violations of a meta-agent that gets every signal and intent once."""
    bus = await connect(server.url, "meta-reference")
    service = await _meta(tmp_path, bus)
    try:
        for one in stories:
            await bus.publish(one.signal)
            for intent in one.intents:
                await bus.publish(intent)

        async def decided() -> bool:
            return len(await bus.history(DECISIONS_META)) == len(stories)

        await eventually(decided, what="the reference run decided every signal")
    finally:
        await service.stop()
    try:
        return await bus.history(DECISIONS_META), await bus.history(RISK_VIOLATIONS)
    finally:
        await bus.close()


async def test_meta_agent_decides_each_signal_once_through_duplicates_and_a_crash(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    approved, denied = story("AAPL", 0), story("MSFT", 0)
    completing = approved.intents[-1]  # the intent that closes AAPL's window
    with clean_server(tmp_path / "reference-nats") as reference:
        expected, expected_violations = await _reference_decisions(
            reference, tmp_path / "reference", [approved, denied]
        )

    first = DyingBus(await connect(fresh_nats_server.url, "meta-1"), {completing.event_id})
    service = await _meta(tmp_path, first)
    publisher = await connect(fresh_nats_server.url, "publisher")
    try:
        for one in (approved, denied):
            await twice(publisher, one.signal)
            for intent in one.intents:
                await twice(publisher, intent)
        await asyncio.wait_for(first.died.wait(), 30)
        await first.kill()
        await service.stop()

        second = await connect(fresh_nats_server.url, "meta-2")
        restarted = await _meta(tmp_path, second)
        try:

            async def redecided() -> bool:
                # The fresh instance got AAPL's unacked intent again and decided the window
                # anew (by timeout, from that one intent), and decided MSFT.
                symbols = {d.symbol for d in restarted.recent_decisions(10)}
                return symbols == {Symbol("AAPL"), Symbol("MSFT")}

            await eventually(redecided, what="the restarted meta-agent decided both signals")
        finally:
            await restarted.stop()  # publishes whatever it still held
            await second.close()
        decisions = await publisher.history(DECISIONS_META)
        violations = await publisher.history(RISK_VIOLATIONS)
    finally:
        await publisher.close()

    keys = [(e.payload.symbol, e.payload.signal_id) for e in decisions]
    assert len(keys) == len(set(keys)) == 2
    # The decisions are those of the clean run: the first instance's, with all three votes.
    assert _decision_facts(decisions) == _decision_facts(expected)
    by_symbol = {e.payload.symbol: e.payload for e in decisions}
    assert by_symbol[Symbol("AAPL")].approved
    assert by_symbol[Symbol("AAPL")].client_order_id == approved.decision.payload.client_order_id
    assert not by_symbol[Symbol("MSFT")].approved
    assert [e.payload.rule for e in violations] == ["position_cap_quantity"]
    assert violations[0].payload.decision_id == by_symbol[Symbol("MSFT")].decision_id
    assert _violation_facts(violations) == _violation_facts(expected_violations)


def _sell(symbol: str, quantity: str, prices: tuple[str, str]) -> list[Envelope[Any]]:
    """A sell order of `quantity` filled in two equal parts at `prices`, as order updates."""
    bought = story(symbol, 0).updates
    coid = ClientOrderId(f"atp-sell-{symbol.lower()}")
    half = Decimal(quantity) / 2
    updates: list[Envelope[Any]] = []
    cause: Envelope[Any] | None = None
    filled = Decimal(0)
    previous: OrderStatus | None = None
    steps = ((OrderStatus.ACCEPTED, None), (OrderStatus.PARTIALLY_FILLED, prices[0]))
    for sequence, (status, price) in enumerate((*steps, (OrderStatus.FILLED, prices[1])), start=1):
        template: OrderUpdate = bought[sequence - 1].payload
        at = template.updated_at + timedelta(hours=1)
        fill = None
        if price is not None:
            filled += half
            fill = Fill(FillId(f"{coid}-f{sequence}"), half, Decimal(price), Decimal("0.01"), at)
        update = dataclasses.replace(
            template,
            order_id=OrderId(f"paper-sell-{symbol.lower()}"),
            client_order_id=coid,
            side=Side.SELL,
            quantity=Decimal(quantity),
            filled_quantity=filled,
            average_fill_price=Decimal(price) if price is not None else None,
            status=status,
            previous_status=previous,
            fill=fill,
            decision_id=None,
            updated_at=at,
        )
        previous = status
        cause = envelope_for(update, source="broker-adapters", event_time=at, cause=cause)
        updates.append(cause)
    return updates


def _fills_and_sentinel() -> tuple[list[Envelope[Any]], Envelope[Any], Envelope[Any]]:
    """AAPL: buy 10 (5 @ 181.30, 5 @ 181.40), sell 6 (3 @ 182.10, 3 @ 182.20); the last
    event is a fill of another symbol, so seeing it booked means everything before it was."""
    updates = [*story("AAPL", 0).updates, *_sell("AAPL", "6", ("182.10", "182.20"))]
    sentinel = story("MSFT", 0).updates[1]  # a partial fill of 5 MSFT
    return updates, updates[1], sentinel


async def _risk_state(service: MetaAgentService) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://meta") as client:
        response = await client.get("/risk/state")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


def _booked(state: dict[str, Any]) -> dict[str, Any]:
    """Position, cash and P&L of a risk state, as exact decimals."""
    return {
        "cash": Decimal(state["cash"]),
        "realized_pnl": Decimal(state["realized_pnl"]),
        "equity": Decimal(state["equity"]),
        "positions": sorted(
            (p["symbol"], Decimal(p["quantity"]), Decimal(p["average_cost"]))
            for p in state["positions"]
        ),
    }


async def _settled(service: MetaAgentService, sentinel: Envelope[Any]) -> dict[str, Any]:
    symbol = sentinel.payload.symbol

    async def sentinel_booked() -> bool:
        state = await _risk_state(service)
        return any(p["symbol"] == symbol for p in state["positions"])

    await eventually(sentinel_booked, what=f"the {symbol} fill booked by the risk engine")
    return _booked(await _risk_state(service))


async def test_risk_state_books_each_fill_once_through_duplicates_and_a_crash(
    fresh_nats_server: EmbeddedNats, tmp_path: Path
) -> None:
    updates, crash_on, sentinel = _fills_and_sentinel()
    with clean_server(tmp_path / "reference-nats") as reference:
        bus = await connect(reference.url, "risk-reference")
        service = await _meta(tmp_path / "reference", bus)
        try:
            for update in [*updates, sentinel]:
                await bus.publish(update)
            expected = await _settled(service, sentinel)
        finally:
            await service.stop()
            await bus.close()

    first = DyingBus(await connect(fresh_nats_server.url, "risk-1"), {crash_on.event_id})
    service = await _meta(tmp_path, first)
    publisher: NatsBus = await connect(fresh_nats_server.url, "publisher")
    try:
        for update in updates:
            await twice(publisher, update)
        await asyncio.wait_for(first.died.wait(), 30)
        await first.kill()
        await service.stop()

        second = await connect(fresh_nats_server.url, "risk-2")
        restarted = await _meta(tmp_path, second)
        try:
            # The restart reads the stored history (duplicates included) and then gets the
            # unacked fill again on its durable: both must leave each fill booked once.
            await twice(publisher, sentinel)
            booked = await _settled(restarted, sentinel)
        finally:
            await restarted.stop()
            await second.close()
    finally:
        await publisher.close()

    assert booked == expected
    # Independently: 10 bought at 181.35 on average, 6 sold at 182.15, 0.01 per fill.
    initial = LIMITS.initial_cash
    aapl = [p for p in booked["positions"] if p[0] == "AAPL"]
    assert aapl == [("AAPL", Decimal(4), Decimal("181.35"))]
    bought = Decimal("1813.50") + Decimal("0.02")
    sold = Decimal("1092.90") - Decimal("0.02")
    msft = Decimal("906.50") + Decimal("0.01")  # the sentinel: 5 MSFT at 181.30
    assert booked["cash"] == initial - bought + sold - msft
    # 6 x (182.15 - 181.35) = 4.80, net of the five fills' commissions.
    assert booked["realized_pnl"] == Decimal("4.80") - Decimal("0.05")
