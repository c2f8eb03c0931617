"""Fixtures of the broker integration tests: a fake Alpaca server and an adapter wired to it."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from atp.brokers.alpaca.adapter import AlpacaAdapter
from atp.brokers.alpaca.config import AlpacaConfig
from atp.brokers.execution import ExecutionEngine
from atp.brokers.memory_store import InMemoryOrderStore
from atp.brokers.reconcile import Reconciler
from atp.bus.memory import InMemoryBus
from atp.core.clock import SystemClock
from atp.core.events import ReconciliationDifference, envelope_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from fakes.alpaca.server import KEY, SECRET, FakeAlpaca


@pytest.fixture
async def fake_alpaca() -> AsyncIterator[FakeAlpaca]:
    """A fake Alpaca (REST + stream) on a free loopback port."""
    fake = FakeAlpaca()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


def alpaca_config(fake: FakeAlpaca, **overrides: object) -> AlpacaConfig:
    """Adapter settings pointing at the fake, with short timeouts and backoffs."""
    values: dict[str, object] = {
        "api_key": SecretStr(KEY),
        "secret_key": SecretStr(SECRET),
        "paper": True,
        "url_override": fake.url,
        "stream_url_override": fake.stream_url,
        "request_timeout_seconds": 2.0,
        "backoff_seconds": 0.01,
        "backoff_max_seconds": 0.05,
    }
    values.update(overrides)
    return AlpacaConfig.model_validate(values)


@dataclass
class AlpacaRig:
    """An Alpaca adapter behind the real execution engine, store and reconciler."""

    fake: FakeAlpaca
    adapter: AlpacaAdapter
    engine: ExecutionEngine
    store: InMemoryOrderStore
    bus: InMemoryBus
    reconciler: Reconciler
    differences: list[ReconciliationDifference]


async def build_rig(fake: FakeAlpaca, **overrides: object) -> AlpacaRig:
    """Connects an adapter to `fake` and reconciles it once (it is READY after)."""
    clock = SystemClock()
    bus = InMemoryBus()
    store = InMemoryOrderStore()
    adapter = AlpacaAdapter(alpaca_config(fake, **overrides), clock=clock)
    engine = ExecutionEngine(
        {"alpaca": adapter}, default_adapter="alpaca", bus=bus, rpc=bus, store=store, clock=clock
    )
    differences: list[ReconciliationDifference] = []

    async def publish(difference: ReconciliationDifference) -> None:
        differences.append(difference)
        await bus.publish(envelope_for(difference, source="test", event_time=clock.now()))

    reconciler = Reconciler(
        adapter, store=store, publish=publish, clock=clock, unknown_grace_seconds=0
    )
    adapter.set_reconnect_listener(lambda trigger: _run(reconciler, trigger))
    await adapter.connect()
    await reconciler.reconcile("start")
    return AlpacaRig(fake, adapter, engine, store, bus, reconciler, differences)


async def _run(reconciler: Reconciler, trigger: str) -> None:
    await reconciler.reconcile(trigger)


@pytest.fixture
async def rig(fake_alpaca: FakeAlpaca) -> AsyncIterator[AlpacaRig]:
    """A READY Alpaca adapter on the fake."""
    built = await build_rig(fake_alpaca)
    try:
        yield built
    finally:
        await built.adapter.close()
