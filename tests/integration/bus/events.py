"""Builders of real events and a collector that waits for deliveries, for the bus tests."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from atp.bus.subjects import SIGNALS_NORMALIZED
from atp.core.events import Envelope, MarketSignal, envelope_for
from atp.core.ids import Symbol, signal_id_for
from atp.telemetry.metrics import BusMetrics

SUBJECT = SIGNALS_NORMALIZED
_START = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def unique_symbol() -> Symbol:
    """A symbol no other test publishes, so shared streams never mix tests' events."""
    return Symbol("T" + uuid.uuid4().hex[:8].upper())


def signal(symbol: Symbol, day: int, close: str = "100.50") -> Envelope[Any]:
    """The envelope of one daily bar of `symbol`, `day` days after 2024-01-02."""
    moment = _START + timedelta(days=day)
    price = Decimal(close)
    payload = MarketSignal(
        signal_id=signal_id_for(symbol, "1d", moment.isoformat()),
        symbol=symbol,
        timeframe="1d",
        timestamp=moment,
        open=price,
        high=price + Decimal("1"),
        low=price - Decimal("1"),
        close=price,
        volume=Decimal("1000"),
        feed="test",
    )
    return envelope_for(payload, source="pytest", event_time=moment)


class Collector:
    """A handler that records the events of one symbol and lets a test wait for a count."""

    def __init__(self, symbol: Symbol) -> None:
        self.symbol = symbol
        self.events: list[Envelope[Any]] = []
        self._changed = asyncio.Condition()

    async def __call__(self, envelope: Envelope[Any]) -> None:
        if envelope.payload.symbol != self.symbol:
            return
        async with self._changed:
            self.events.append(envelope)
            self._changed.notify_all()

    async def wait_for(self, count: int, *, within: float = 10.0) -> list[Envelope[Any]]:
        """Waits until `count` events arrived (fails after `within` seconds)."""
        async with asyncio.timeout(within):
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.events) >= count)
        return list(self.events)

    @property
    def event_ids(self) -> list[str]:
        """The ids of the events received, in order."""
        return [e.event_id for e in self.events]


def counter(metrics: BusMetrics, name: str, *labels: str) -> float:
    """The current value of one labelled counter of `metrics`."""
    value: float = getattr(metrics, name).labels(*labels)._value.get()
    return value
