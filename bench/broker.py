"""Benchmark: orders/s and submit-to-fill latency through the paper adapter, HTTP and NATS.

    .venv/bin/python bench/broker.py [--orders 2000]

HTTP: `POST /orders` against the service's ASGI app (in process, no socket), with the real
risk engine answering `rpc.risk.check` on the same bus. NATS: approved `decisions.meta` events
published to a real nats-server (started here on a free loopback port); latency runs from the
publish to the moment the FILLED update comes back on `executions.order_update`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from atp.brokers.paper.config import PaperVenueConfig
from atp.bus.memory import InMemoryBus
from atp.bus.nats import NatsBus
from atp.bus.risk_rpc import decode_request, encode_reply
from atp.bus.subjects import EXECUTIONS_ORDER_UPDATE, RPC_RISK_CHECK
from atp.core.clock import SystemClock
from atp.core.enums import Action, OrderStatus, OrderType, TradingState
from atp.core.events import Envelope, MarketSignal, MetaDecision, Tally, envelope_for
from atp.core.ids import DecisionId, SignalId, Symbol, client_order_id_for
from atp.risk.config import RiskEngineConfig
from atp.risk.engine import RiskEngine
from atp.services.broker_adapters import BrokerServiceConfig, bootstrap
from atp.services.embedded_nats import EmbeddedNats
from atp.services.settings import AtpSettings
from atp.telemetry.metrics import BusMetrics, new_registry

CONFIG = BrokerServiceConfig(
    paper=PaperVenueConfig(initial_cash=Decimal(10**12), max_volume_share=None)
)
NOW = datetime.now(UTC)
BAR = MarketSignal(
    signal_id=SignalId("bench-bar"),
    symbol=Symbol("BENCH"),
    timeframe="1d",
    timestamp=NOW,
    open=Decimal(100),
    high=Decimal(100),
    low=Decimal(100),
    close=Decimal(100),
    volume=Decimal(10**9),
    feed="bench",
)


def _report(name: str, count: int, seconds: float, latencies: list[float]) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<5} {count:>6} orders  {count / seconds:>8.0f} orders/s  "
        f"submit->fill p50 {p50:.2f} ms  p99 {p99:.2f} ms"
    )


async def bench_http(count: int) -> None:
    clock = SystemClock()
    bus = InMemoryBus(clock=clock)
    # The real risk engine, its order-velocity limits and position cap lifted so it measures
    # the path, not the limits (a thousand one-share buys would pass the default 1,000 cap).
    risk_config = RiskEngineConfig.model_validate(
        {
            "initial_cash": Decimal(10**12),
            "position_caps": {"default": {"max_quantity": None, "max_notional": None}},
            "velocity": {
                "per_agent_per_second": None,
                "per_agent_per_minute": None,
                "total_per_second": None,
                "total_per_minute": None,
            },
        }
    )
    risk = RiskEngine(risk_config, clock=clock)

    async def answer(data: bytes) -> bytes:
        return encode_reply(risk.check(decode_request(data)))

    await bus.respond(RPC_RISK_CHECK, answer)
    service = await bootstrap(AtpSettings(), bus=bus, clock=clock, config=CONFIG)
    await service.start()
    await bus.publish(envelope_for(BAR, source="bench", event_time=NOW))
    latencies = []
    body = {"symbol": "BENCH", "side": "buy", "quantity": 1, "order_type": "market"}
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        started = time.perf_counter()
        for _ in range(count):
            t0 = time.perf_counter()
            response = await http.post("/orders", json=body)
            if response.status_code != 201 or response.json()["status"] != "filled":
                raise SystemExit(f"order not filled: {response.text}")
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - started
    await service.stop()
    _report("http", count, elapsed, latencies)


def _decision(n: int) -> MetaDecision:
    decision_id = DecisionId(f"bench-{NOW.timestamp()}-{n}")
    return MetaDecision(
        decision_id=decision_id,
        symbol=Symbol("BENCH"),
        signal_id=SignalId("bench-bar"),
        action=Action.BUY,
        quantity=Decimal(1),
        order_type=OrderType.MARKET,
        limit_price=None,
        reference_price=Decimal(100),
        voting_strategy="bench",
        parameters={},
        votes=(),
        tally=Tally(1, 0, 0, 0, 1),
        threshold=0.5,
        quorum=1,
        explanation="bench",
        risk_checks=(),
        approved=True,
        trading_state=TradingState.ACTIVE,
        client_order_id=client_order_id_for(decision_id),
        decided_at=NOW,
    )


async def bench_nats(count: int) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp, EmbeddedNats(Path(tmp), port) as server:
        metrics = BusMetrics(new_registry())
        service_bus = await NatsBus.connect(server.url, client_name="bench-broker", metrics=metrics)
        client = await NatsBus.connect(
            server.url, client_name="bench-client", metrics=BusMetrics(new_registry())
        )
        service = await bootstrap(AtpSettings(), bus=service_bus, config=CONFIG)
        await service.start()
        sent: dict[str, float] = {}
        latencies: list[float] = []
        done = asyncio.Event()

        async def on_update(envelope: Envelope[Any]) -> None:
            update = envelope.payload
            if update.status is OrderStatus.FILLED and update.client_order_id in sent:
                latencies.append(time.perf_counter() - sent.pop(update.client_order_id))
                if len(latencies) == count:
                    done.set()

        await client.subscribe(
            EXECUTIONS_ORDER_UPDATE, durable="bench-updates", handler=on_update, replay=False
        )
        await client.publish(envelope_for(BAR, source="bench", event_time=NOW))
        await asyncio.sleep(0.5)  # the bar reaches the venue before the first order
        started = time.perf_counter()
        for n in range(count):
            decision = _decision(n)
            sent[str(decision.client_order_id)] = time.perf_counter()
            await client.publish(envelope_for(decision, source="bench", event_time=NOW))
        await asyncio.wait_for(done.wait(), timeout=120)
        elapsed = time.perf_counter() - started
        await service.stop()
        await service_bus.close()
        await client.close()
    _report("nats", count, elapsed, latencies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(bench_http(args.orders))
    asyncio.run(bench_nats(args.orders))


if __name__ == "__main__":
    main()
