"""`InMemoryBus.history`: the same one-shot read as on NATS, from the retained events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from atp.bus.memory import InMemoryBus
from atp.bus.subjects import RISK_STATE, SIGNALS_NORMALIZED
from atp.core.events import Envelope, MarketSignal, envelope_for
from atp.core.ids import Symbol, signal_id_for


def _bar(day: int) -> Envelope[Any]:
    moment = datetime(2024, 1, 2, 21, tzinfo=UTC) + timedelta(days=day)
    price = Decimal(100 + day)
    payload = MarketSignal(
        signal_id=signal_id_for(Symbol("AAPL"), "1d", moment.isoformat()),
        symbol=Symbol("AAPL"),
        timeframe="1d",
        timestamp=moment,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        feed="test",
    )
    return envelope_for(payload, source="test", event_time=moment)


async def test_history_gives_the_subjects_events_oldest_first_and_its_tail() -> None:
    bus = InMemoryBus()
    bars = [_bar(day) for day in range(6)]
    for envelope in bars:
        await bus.publish(envelope)
    await bus.publish(bars[2])  # a republished event is stored once

    assert [e.event_id for e in await bus.history(SIGNALS_NORMALIZED)] == [e.event_id for e in bars]
    tail = await bus.history(SIGNALS_NORMALIZED, tail=2)
    assert [e.payload.close for e in tail] == [Decimal(104), Decimal(105)]
    assert await bus.history(RISK_STATE) == []
